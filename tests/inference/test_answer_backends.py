"""The backends behind one runner: the API stand-in answered by the in-process engine (the real SmolLM2), the fake,
and the rule that a cell whose answers are all stored loads no model at all."""

from __future__ import annotations

import pytest

from baseweight_assets.config.loader import load_bench_config
from baseweight_assets.inference.backends import api_answerer, uses_vllm
from baseweight_assets.inference.cell import predict_cell
from baseweight_assets.models.store import weights_identity
from test_servers import REPO, SMOLLM, _prepared, _Prompt

CONFIG = load_bench_config(REPO / "configs")
LABELS = {"card_arrival", "exchange_charge", "top_up"}


def _predict(answerer, store, model, condition="5-shot"):
    return predict_cell(task=CONFIG.tasks["banking77"], prepared=_prepared(), prompt=_Prompt(), model=model,
                        condition=condition, answerers=[answerer], store_path=store, max_tokens=12, constrained=True,
                        latency_probe=1, variant=f"{model.id}__{condition}", log=lambda m: None)


@pytest.mark.slow
def test_the_stand_in_is_the_engine_on_the_local_model_and_a_rerun_loads_nothing(tmp_path):
    if not (SMOLLM / "model.safetensors").exists():
        pytest.skip(f"small model folder {SMOLLM} is missing (built by the setup command)")
    api_model, local = CONFIG.models["gpt-5.4-nano"], CONFIG.models["smollm2-135m"]
    store = tmp_path / "p.jsonl"
    kwargs = dict(live=False, fake=False, stand_in=local, stand_in_dir=SMOLLM,
                  stand_in_weights=weights_identity(local, SMOLLM))
    with api_answerer(api_model, **kwargs) as answerer:
        first = _predict(answerer, store, api_model)
        assert answerer.backend.shared.built()
    rows = first["rows"]
    assert [r["id"] for r in rows] == ["b-1", "b-2", "b-3"]
    assert all(r["error"] is None and r["output"] in LABELS for r in rows), rows  # constrained to the label set
    assert all(r["stand_in"] and r["served_by"] == "engine" and r["avg_logprob"] is not None for r in rows)
    assert all(r["finish_reason"] == "stop" and 0 < r["output_tokens"] <= 12 for r in rows)
    run = first["run"]
    assert run["latency_n"] == 1 and run["ttft_p50_s"] > 0 and run["saturated_qps"] > 0
    assert run["engine"]["device"] == "cpu" and run["calls_made"] == 3

    with api_answerer(api_model, **kwargs) as answerer:
        again = _predict(answerer, store, api_model)
        assert not answerer.backend.shared.built()  # every answer came from the store: no weights loaded
    assert again["run"]["calls_made"] == 0 and again["run"]["cache_hits"] == 3
    assert [r["output"] for r in again["rows"]] == [r["output"] for r in rows]
    assert again["run"]["saturated_qps"] == run["saturated_qps"]  # the measurement is kept, not lost


def test_the_fake_answers_closed_labels_from_the_label_set_and_never_calls_out(tmp_path):
    api_model = CONFIG.models["gpt-5.4-mini"]
    with api_answerer(api_model, live=False, fake=True, stand_in=None, stand_in_dir=None,
                      stand_in_weights=None) as answerer:
        value = _predict(answerer, tmp_path / "p.jsonl", api_model, condition="zero-shot")
    assert {r["output"] for r in value["rows"]} <= LABELS
    assert all(r["served_by"] == "fake" and r["stand_in"] for r in value["rows"])


def test_local_models_use_vllm_only_where_it_is_installed_or_named(monkeypatch):
    model = CONFIG.models["qwen3-8b"]
    monkeypatch.setattr("baseweight_assets.inference.backends.vllm_installed", lambda: False)
    assert not uses_vllm(model, None) and uses_vllm(model, "http://gpu:8000/v1")
    monkeypatch.setattr("baseweight_assets.inference.backends.vllm_installed", lambda: True)
    assert uses_vllm(model, None)
    assert not uses_vllm(model.model_copy(update={"serving_engine": "engine"}), "http://gpu:8000/v1")
