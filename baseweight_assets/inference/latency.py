"""Latency percentiles, time to first token and throughput from prediction rows."""

from __future__ import annotations

import numpy as np


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), or None for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else None


def latency_summary(rows: list[dict]) -> dict:
    """p50/p95 latency and p50 TTFT over successful rows that were measured (batch rows are not)."""
    ok = [r for r in rows if r.get("error") is None]
    lat = [r["latency_s"] for r in ok if r.get("latency_s") is not None]
    ttft = [r["ttft_s"] for r in ok if r.get("ttft_s") is not None]
    return {"latency_p50_s": percentile(lat, 50), "latency_p95_s": percentile(lat, 95),
            "ttft_p50_s": percentile(ttft, 50), "latency_n": len(lat)}


def throughput(rows: list[dict], wall_s: float) -> dict:
    """Queries/s and output tokens/s over a phase's wall time (errors count as queries, not tokens)."""
    if wall_s <= 0 or not rows:
        return {"throughput_qps": None, "output_tokens_per_s": None}
    tokens = sum(r.get("output_tokens") or 0 for r in rows if r.get("error") is None)
    return {"throughput_qps": len(rows) / wall_s, "output_tokens_per_s": tokens / wall_s}
