"""Throughput and latency of a partition measured over all its sessions, not just the last one.

The runner keeps raw sums (queries, output tokens, busy seconds) per phase and the concurrency-1 latency samples
in its ``<store>.run.json`` sidecar; a resumed run (after a kill, a spend cap, or retried error rows) adds its own
to them, so the reported throughput covers every measured call. Sessions merge only when they measured the same
thing: the same endpoint identity (model, adapter, server) at the same concurrency.
"""

from __future__ import annotations

from baseweight_assets.inference.latency import latency_summary

PHASES = ("probe", "bulk")  # concurrency-1 latency probe, then the bounded-concurrency bulk
TIMING_KEYS = ("wall_s", "throughput_qps", "output_tokens_per_s", "latency_p50_s", "latency_p95_s", "ttft_p50_s",
               "latency_n", "saturated_qps", "saturated_output_tokens_per_s")
_SATURATED = ("queries", "output_tokens", "busy_s")


def measure(key: dict, wall_s: float, phases: dict[str, tuple[list[dict], float]],
            saturated: dict | None = None) -> dict:
    """One session's sums: ``phases`` maps a phase to (its rows, its busy seconds). Errors count as queries,
    only successful rows count tokens; latency samples come from the probe's successful rows. ``saturated``:
    queries, output tokens and busy seconds of the engine's full batches (the cost model's throughput)."""
    sums = {}
    for name in PHASES:
        rows, busy_s = phases.get(name, ([], 0.0))
        sums[name] = {"queries": len(rows), "busy_s": busy_s if rows else 0.0,  # an empty phase measured nothing
                      "output_tokens": sum(r.get("output_tokens") or 0 for r in rows if r.get("error") is None)}
    probe_rows = phases.get("probe", ([], 0.0))[0]
    samples = [[r["latency_s"], r.get("ttft_s")] for r in probe_rows
               if r.get("error") is None and r.get("latency_s") is not None]
    return {"key": key, "sessions": 1, "wall_s": wall_s, "phases": sums, "latency_samples": samples,
            "saturated": {k: (saturated or {}).get(k, 0) for k in _SATURATED}}


def merge(previous: dict | None, current: dict) -> dict:
    """``current`` added to ``previous`` when both measured the same key; else ``current`` alone."""
    if not previous or previous.get("key") != current["key"]:
        return current
    return {
        "key": current["key"], "sessions": previous["sessions"] + current["sessions"],
        "wall_s": previous["wall_s"] + current["wall_s"],
        "phases": {name: {k: previous["phases"][name][k] + current["phases"][name][k]
                          for k in ("queries", "busy_s", "output_tokens")} for name in PHASES},
        "latency_samples": previous["latency_samples"] + current["latency_samples"],
        "saturated": {k: (previous.get("saturated") or {}).get(k, 0) + current["saturated"][k] for k in _SATURATED},
    }


def timing(measured: dict) -> dict:
    """The TIMING_KEYS: throughput over the bulk phase's summed busy time (the probe's when no bulk phase ran),
    latency percentiles over every latency sample."""
    phase = measured["phases"]["bulk"]
    if not phase["queries"] or phase["busy_s"] <= 0:
        phase = measured["phases"]["probe"]
    busy = phase["busy_s"]
    rates = ({"throughput_qps": phase["queries"] / busy, "output_tokens_per_s": phase["output_tokens"] / busy}
             if busy > 0 and phase["queries"] else {"throughput_qps": None, "output_tokens_per_s": None})
    samples = [{"latency_s": lat, "ttft_s": ttft} for lat, ttft in measured["latency_samples"]]
    sat = measured.get("saturated") or {}
    saturated = ({"saturated_qps": sat["queries"] / sat["busy_s"],
                  "saturated_output_tokens_per_s": sat["output_tokens"] / sat["busy_s"]}
                 if sat.get("busy_s", 0) > 0 and sat.get("queries") else
                 {"saturated_qps": None, "saturated_output_tokens_per_s": None})
    return {"wall_s": measured["wall_s"], **rates, **latency_summary(samples), **saturated}
