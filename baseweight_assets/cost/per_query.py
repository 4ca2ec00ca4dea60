"""Cost of one query and of 1,000 correct answers, from measured tokens and measured throughput.

A *query* is one scored question. For CUAD a question spans several window requests, so API tokens are
summed over its windows and self-hosted throughput is converted from requests/s to questions/s.
"""

from __future__ import annotations

from collections.abc import Sequence

from baseweight_assets.config.schema import ApiPrice
from baseweight_assets.inference.spend import cost_usd
from baseweight_assets.scoring.categories import SUCCESS


def api_cost_per_query(price: ApiPrice, input_tokens: int, output_tokens: int, n_queries: int, *,
                       batch: bool = False, batch_discount: float = 0.0) -> float:
    """Measured tokens x list prices per 1M tokens, averaged over ``n_queries``; Batch API rows get the discount."""
    if n_queries <= 0:
        raise ValueError(f"n_queries must be positive, got {n_queries}")
    if input_tokens < 0 or output_tokens < 0:
        raise ValueError(f"token counts must be >= 0, got input={input_tokens}, output={output_tokens}")
    return cost_usd(input_tokens, output_tokens, price, discount=batch_discount if batch else 0.0) / n_queries


def queries_per_second(throughput_rps: float, n_requests: int | None, n_queries: int) -> float:
    """Questions answered per second: request throughput x questions per request (1 except windowed CUAD)."""
    if throughput_rps is None or throughput_rps <= 0:
        raise ValueError(f"measured throughput must be positive, got {throughput_rps!r}")
    if not n_requests:
        return float(throughput_rps)
    return float(throughput_rps) * n_queries / n_requests


def self_hosted_cost_per_query(qps: float, hourly_rate: float, devices: int = 1) -> float:
    """Device-seconds per query at the measured throughput x the hourly rate of that hardware."""
    if qps <= 0:
        raise ValueError(f"queries per second must be positive, got {qps}")
    return devices * hourly_rate / 3600.0 / qps


def correct_share(per_example: Sequence[dict]) -> float:
    """Share of questions answered right: a category in ``scoring.categories.SUCCESS``.

    This is accuracy for classification and multiple choice, pass@1 for MBPP and, for CUAD, the share of
    questions whose extraction (or abstention) the scorer labels correct. Rows without a category count
    as correct only when ``correct == 1``. It is never F1, which is not a fraction of answers.
    """
    if not per_example:
        raise ValueError("per_example is empty: no questions to count")
    hits = 0
    for row in per_example:
        category = row.get("category")
        hits += (category in SUCCESS) if category is not None else (float(row["correct"]) >= 1.0)
    return hits / len(per_example)


def cost_per_1k_correct(cost_per_query: float, share_correct: float) -> float | None:
    """Dollars for 1,000 correct answers; None when nothing was answered correctly (infinite cost)."""
    if share_correct <= 0:
        return None
    return cost_per_query * 1000.0 / share_correct
