"""What a run costs as it goes, and the per-run spending cap."""

from __future__ import annotations

from baseweight_assets.config.schema import ApiPrice


class SpendCapReached(RuntimeError):
    """Raised after completed rows are flushed; ``result`` holds what was done (same shape as a full run)."""

    def __init__(self, message: str, result: dict) -> None:
        super().__init__(message)
        self.result = result


def cost_usd(input_tokens: int, output_tokens: int, price: ApiPrice | None, *, cached_input_tokens: int = 0,
             discount: float = 0.0) -> float:
    """List price times (1 - discount); the Batch API discount comes from configs/pricing.yaml.

    ``cached_input_tokens`` are the part of ``input_tokens`` the provider served from its prompt cache: they are
    charged at ``price.cached_input_per_1m`` (the input price when the config gives none), the rest at the input
    price. A cached count outside 0..input_tokens raises ValueError.
    """
    if price is None:
        return 0.0
    if not 0 <= cached_input_tokens <= input_tokens:
        raise ValueError(f"cached_input_tokens={cached_input_tokens} must be within 0..input_tokens={input_tokens}")
    cached_rate = price.input_per_1m if price.cached_input_per_1m is None else price.cached_input_per_1m
    full = ((input_tokens - cached_input_tokens) * price.input_per_1m + cached_input_tokens * cached_rate
            + output_tokens * price.output_per_1m) / 1e6
    return full * (1.0 - discount)


class SpendGuard:
    """Reserve a worst-case cost before each call so concurrent calls cannot overshoot the cap."""

    def __init__(self, price: ApiPrice | None, cap_usd: float | None) -> None:
        self.price, self.cap = price, cap_usd
        self.spent = 0.0
        self._reserved = 0.0

    def try_reserve(self, input_tokens_est: int, max_output_tokens: int) -> float | None:
        """The reserved amount, or None when this call could push spend past the cap."""
        amount = cost_usd(input_tokens_est, max_output_tokens, self.price)
        if self.cap is not None and self.price is not None and self.spent + self._reserved + amount > self.cap:
            return None
        self._reserved += amount
        return amount

    def settle(self, reserved: float, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0) -> None:
        self._reserved -= reserved
        self.spent += cost_usd(input_tokens, output_tokens, self.price, cached_input_tokens=cached_input_tokens)
