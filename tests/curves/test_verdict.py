from baseweight_assets.curves.verdict import round_up_2sig, verdict

STAR = {"value": 231.2, "censored": None, "reached": True, "ci_lo": 113.4, "ci_hi": 407.2, "ci_lo_censored": None,
        "ci_hi_censored": None, "share_not_reached": 0.006, "confidence": 0.95}


def _corner(volume, always=None, reason=None):
    return {"n": 232, "daily_volume": volume, "always_cheaper_above": always if always is not None else volume,
            "reason": reason}


NEVER = _corner(None, reason="never: one GPU costs more")


def test_rounding_never_overstates():
    assert round_up_2sig(3012) == 3100 and round_up_2sig(2950) == 3000 and round_up_2sig(41.0) == 41
    assert round_up_2sig(0) == 0


def test_reached_and_cheaper_above_a_volume():
    text = verdict("Qwen3-8B", "GPT-5.4 Mini", STAR, {"low": _corner(2012), "mid": _corner(1800, always=2950),
                                                        "high": _corner(4777)},
                   margin=0.02, metric_label="weighted F1")
    assert text == ("With ≥ 232 labelled examples (95 % CI 113 to 408), a fine-tuned Qwen3-8B matches GPT-5.4 Mini "
                    "(within 0.02 weighted F1) and costs less over 12 months from 3,000 queries/day "
                    "(mid GPU prices; from 2,100 at low, from 4,800 at high).")


def test_always_and_never_cheaper():
    always = verdict("M", "API", STAR, {"mid": _corner(80)}, margin=0.02, min_volume=100)
    assert "costs less over 12 months at every volume from 100 queries/day (mid GPU prices)" in always
    never = verdict("M", "API", STAR, {"low": _corner(3000), "mid": NEVER, "high": NEVER}, margin=0.02)
    assert "matches API (within 0.02), but self-hosting it never costs less than the API" in never
    assert "from 3,000 at low, never at high" in never


def test_not_reached_and_open_intervals():
    not_reached = verdict("M", "API", {"value": None, "reached": False, "censored": None, "share_not_reached": 0.97},
                          None, margin=0.02, max_n=1000)
    assert not_reached.startswith("With up to 1,000 labelled examples, a fine-tuned M is not yet shown to match API")
    assert "not reached with the data available, and 97 % of bootstrap resamples never reach it." in not_reached
    open_hi = verdict("M", "API", STAR | {"ci_hi": None, "share_not_reached": 0.2}, None, margin=0.02, max_n=1000)
    assert "(95 % CI 113 to beyond 1,000, the most measured; 20 % of resamples never reach it)" in open_hi
    assert "its 12-month cost was not compared" in open_hi
    left = verdict("M", "API", STAR | {"value": 50.0, "censored": "left"}, {"mid": _corner(900)}, margin=0.02)
    assert left.startswith("With at most 50 labelled examples (the fewest measured), a fine-tuned M matches API")


def test_flags_qualify_the_sentence():
    text = verdict("M", "GPT-5.4 Nano", STAR, {"mid": _corner(900)}, margin=0.02, smoke=True, stand_in=True,
                   n_seeds=1, partial="LEDGAR has no training split")
    assert text.startswith("Smoke run (a plumbing check, not a result): with ≥ 232")
    assert text.endswith("(partial data: LEDGAR has no training split; GPT-5.4 Nano answered by a local stand-in; "
                         "one training seed, so seed variance is not in the CI).")
    assert verdict("M", None, None, None, margin=0.02, reason="no measured LoRA point") == \
        "No data-efficiency verdict: no measured LoRA point."
