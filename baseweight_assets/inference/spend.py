"""What a run costs as it goes, and the spending caps: one per partition (``SpendGuard``) and, through a shared
``SpendLedger`` file, one for a whole main run (or Dagster backfill, or single run: ``ledger_key``) across every
partition and process.

Every attempt reserves its worst-case cost first and settles it afterwards: a success costs its measured tokens,
an attempt refused before any work (429, 4xx, connection refused) costs nothing, and any other failure (timeout,
5xx, a cut stream, an interrupted call) may have been billed, so its reservation is kept as spent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from baseweight_assets.config.schema import ApiPrice
from baseweight_assets.storage.atomic import read_json, write_json
from baseweight_assets.storage.liveness import process_token, token_is_running
from baseweight_assets.storage.locks import ExclusiveFileLock

# Transport errors that mean the request never reached the server, whichever httpx build openai uses.
_NOT_SENT = ("ConnectError", "ConnectTimeout")


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


def may_have_been_billed(exc: BaseException) -> bool:
    """False only when the provider surely did no work: a 429 or another 4xx refusal, or a connection that was
    never made. Timeouts, 5xx, cut or malformed streams and anything unknown count as possibly billed."""
    import openai  # on first use (see client.make_client)

    if isinstance(exc, openai.APIStatusError):
        return exc.status_code >= 500 or exc.status_code == 408
    cause = exc.__cause__ if isinstance(exc, openai.APIConnectionError) else exc
    return type(cause).__name__ not in _NOT_SENT


def ledger_key(main_run_id: str | None, *, backfill_id: str | None, run_id: str) -> str:
    """Whose cap a materialization draws on, as the ledger's file name: a ``baseweight-run`` main run shares one
    ledger across all its partitions (the main run id); outside it, every run of one Dagster backfill shares
    ``backfill-<id>`` and any other run has its own ``run-<Dagster run id>``, so ad-hoc runs never share a cap."""
    if main_run_id:
        return main_run_id
    return f"backfill-{backfill_id}" if backfill_id else f"run-{run_id}"


class SpendLedger:
    """The spend of a whole main run (or backfill, or run), shared by every process of it through one JSON file
    under a flock.

    ``path`` is chosen by the caller: ``results/<profile>/spend/<ledger_key>.json``; ``cap_usd`` None records
    without a cap. A reservation is kept under the process that made it; one whose process died (``kill -9``
    mid-call) is counted as spent, since its call may have been billed. Each operation is one locked
    read-modify-write of the file (atomic replace), so the file is always a consistent account.
    """

    def __init__(self, path: Path, cap_usd: float | None, *, lock_timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self.cap_usd = cap_usd
        self.lock_timeout_s = lock_timeout_s
        self._lock = ExclusiveFileLock(self.path.with_name(self.path.name + ".lock"), what=f"spend ledger {path}")

    def _read(self) -> dict:
        if not self.path.exists():
            return {"spent_usd": 0.0, "unconfirmed_usd": 0.0, "reservations": {}}
        data = read_json(self.path)
        if not isinstance(data, dict) or not isinstance(data.get("reservations"), dict):
            raise ValueError(f"{self.path}: not a spend ledger (no reservations object)")
        return data

    def _update(self, change) -> object:
        self._lock.acquire(self.lock_timeout_s)
        try:
            data = self._read()
            for rid, held in list(data["reservations"].items()):
                if token_is_running(held["process"]) is False:  # its process died mid-call
                    data["spent_usd"] += held["usd"]
                    data["unconfirmed_usd"] += held["usd"]
                    del data["reservations"][rid]
            answer = change(data)
            data.update(cap_usd=self.cap_usd, updated_at=datetime.now(UTC).isoformat(timespec="seconds"))
            write_json(self.path, data, indent=2, sort_keys=True)
            return answer
        finally:
            self._lock.release()

    def try_reserve(self, amount_usd: float) -> str | None:
        """A reservation id, or None when spent + reserved + ``amount_usd`` would pass the cap."""
        def change(data: dict) -> str | None:
            reserved = sum(r["usd"] for r in data["reservations"].values())
            if self.cap_usd is not None and data["spent_usd"] + reserved + amount_usd > self.cap_usd:
                return None
            rid = uuid.uuid4().hex[:16]
            data["reservations"][rid] = {"usd": amount_usd, "process": process_token()}
            return rid
        return self._update(change)

    def settle(self, reservation: str, spent_usd: float, *, unconfirmed: bool = False) -> None:
        """Replace a reservation by what it cost (``unconfirmed``: a possibly billed failure, counted in full)."""
        def change(data: dict) -> None:
            data["reservations"].pop(reservation, None)
            data["spent_usd"] += spent_usd
            if unconfirmed:
                data["unconfirmed_usd"] += spent_usd
        self._update(change)

    def totals(self) -> dict:
        """``{"spent_usd", "unconfirmed_usd", "reserved_usd", "cap_usd"}`` (dead processes' reservations spent)."""
        def change(data: dict) -> dict:
            return {"spent_usd": data["spent_usd"], "unconfirmed_usd": data["unconfirmed_usd"],
                    "reserved_usd": sum(r["usd"] for r in data["reservations"].values()), "cap_usd": self.cap_usd}
        return self._update(change)


@dataclass(frozen=True)
class Reservation:
    usd: float
    ledger_id: str | None = None


class SpendGuard:
    """Reserve a worst-case cost before each attempt so concurrent calls cannot overshoot the caps: ``cap_usd``
    for this partition and, with a ``ledger``, the whole run's. Without a price (local servers) nothing is spent."""

    def __init__(self, price: ApiPrice | None, cap_usd: float | None, ledger: SpendLedger | None = None) -> None:
        self.price, self.cap, self.ledger = price, cap_usd, ledger if price is not None else None
        self.spent = 0.0
        self.unconfirmed = 0.0  # part of ``spent``: failed attempts that may have been billed
        self.refusal: str | None = None
        self._reserved = 0.0

    def try_reserve(self, input_tokens_est: int, max_output_tokens: int) -> Reservation | None:
        """The reservation, or None (with ``refusal`` saying which cap) when this call could pass a cap."""
        amount = cost_usd(input_tokens_est, max_output_tokens, self.price)
        if self.cap is not None and self.price is not None and self.spent + self._reserved + amount > self.cap:
            self.refusal = f"spend cap ${self.cap:.2f} reached (spent ${self.spent:.4f})"
            return None
        ledger_id = None
        if self.ledger is not None:
            ledger_id = self.ledger.try_reserve(amount)
            if ledger_id is None:
                self.refusal = (f"spend cap ${self.ledger.cap_usd:.2f} of the whole run reached (ledger "
                                f"{self.ledger.path}; this partition spent ${self.spent:.4f})")
                return None
        self._reserved += amount
        return Reservation(amount, ledger_id)

    def settle(self, reservation: Reservation, input_tokens: int, output_tokens: int,
               cached_input_tokens: int = 0) -> None:
        """A successful call: it costs its measured tokens."""
        self._close(reservation, cost_usd(input_tokens, output_tokens, self.price,
                                          cached_input_tokens=cached_input_tokens))

    def fail(self, reservation: Reservation, *, billed: bool) -> None:
        """A failed attempt: ``billed`` (maybe) keeps the whole reservation as spent, else it is released."""
        self._close(reservation, reservation.usd if billed else 0.0, unconfirmed=billed)

    def _close(self, reservation: Reservation, usd: float, unconfirmed: bool = False) -> None:
        self._reserved -= reservation.usd
        self.spent += usd
        if unconfirmed:
            self.unconfirmed += usd
        if reservation.ledger_id is not None:
            self.ledger.settle(reservation.ledger_id, usd, unconfirmed=unconfirmed)
