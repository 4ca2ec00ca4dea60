"""Cost of one query and of 1,000 correct answers, from measured tokens and measured saturated throughput.

A *query* is one scored question. For CUAD a question spans several window requests, so API tokens are
summed over its windows and self-hosted throughput is converted from requests/s to questions/s.

Self-hosted cost per query = device-seconds per query at the engine's SATURATED throughput (its full batch,
the rate a served deployment runs at) x the hourly rate of that hardware. Throughput measured at low
concurrency (a latency probe) would overstate the cost by the batching the engine did not do.
"""

from __future__ import annotations

from collections.abc import Sequence

from baseweight_assets.config.schema import ApiPrice
from baseweight_assets.inference.spend import cost_usd
from baseweight_assets.scoring.categories import SUCCESS


def api_cost_per_query(price: ApiPrice, input_tokens: int, output_tokens: int, n_queries: int, *,
                       cached_input_tokens: int = 0, batch: bool = False, batch_discount: float = 0.0) -> float:
    """Measured tokens x list prices per 1M tokens, averaged over ``n_queries``.

    ``cached_input_tokens`` (a subset of ``input_tokens``, as the API reports them) are charged the cached-input
    price; Batch API rows (``batch``) get ``batch_discount`` off the whole cost."""
    if n_queries <= 0:
        raise ValueError(f"n_queries must be positive, got {n_queries}")
    if input_tokens < 0 or output_tokens < 0:
        raise ValueError(f"token counts must be >= 0, got input={input_tokens}, output={output_tokens}")
    return cost_usd(input_tokens, output_tokens, price, cached_input_tokens=cached_input_tokens,
                    discount=batch_discount if batch else 0.0) / n_queries


def queries_per_second(saturated_rps: float, n_requests: int | None, n_queries: int) -> float:
    """Questions answered per second at saturation: the engine's saturated request throughput x questions per
    request (1 except windowed CUAD, where ``n_requests`` windows answer ``n_queries`` questions)."""
    if saturated_rps is None or saturated_rps <= 0:
        raise ValueError(f"measured saturated throughput must be positive, got {saturated_rps!r}")
    if not n_requests:
        return float(saturated_rps)
    return float(saturated_rps) * n_queries / n_requests


def self_hosted_cost_per_query(saturated_qps: float, hourly_rate: float, devices: int = 1) -> float:
    """Device-seconds per query at the saturated throughput (``devices`` / ``saturated_qps``) x $/device-hour."""
    if saturated_qps <= 0:
        raise ValueError(f"saturated queries per second must be positive, got {saturated_qps}")
    if devices < 1:
        raise ValueError(f"devices must be >= 1, got {devices}")
    return devices * hourly_rate / 3600.0 / saturated_qps


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
