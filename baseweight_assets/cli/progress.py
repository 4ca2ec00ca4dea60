"""The main job's view of its backfill: a progress line while it runs, and at the end what failed, what was not
run because an upstream partition failed, and how much of the wall time went outside asset bodies."""

from __future__ import annotations

from dataclasses import dataclass

STATUS_QUERY = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  __typename
  ... on PartitionBackfill { status
    assetBackfillData { assetBackfillStatuses {
      __typename
      ... on AssetPartitionsStatusCounts { assetKey { path } numPartitionsTargeted numPartitionsInProgress
                                           numPartitionsMaterialized numPartitionsFailed }
      ... on UnpartitionedAssetStatus { assetKey { path } inProgress materialized failed } } } }
  ... on PythonError { message } } }"""
LAUNCH_MUTATION = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message stack }
  ... on InvalidSubsetError { message } ... on UnauthorizedError { message } } }"""
CANCEL_MUTATION = """mutation($id: String!) { cancelPartitionBackfill(backfillId: $id) {
  __typename ... on PythonError { message } } }"""
FINISHED = ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED", "FAILING", "CANCELING")
DONE = ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED")


@dataclass(frozen=True)
class Progress:
    status: str
    targeted: int
    done: int
    failed: int
    in_progress: int

    @property
    def remaining(self) -> int:
        return self.targeted - self.done - self.failed

    @property
    def finished(self) -> bool:
        return self.status in DONE


def parse_status(payload: dict) -> Progress:
    """GraphQL ``partitionBackfillOrError`` -> counts over every targeted asset partition."""
    node = payload["partitionBackfillOrError"]
    if node["__typename"] != "PartitionBackfill":
        raise RuntimeError(f"backfill status unavailable: {node.get('message') or node['__typename']}")
    targeted = done = failed = running = 0
    for s in (node.get("assetBackfillData") or {}).get("assetBackfillStatuses") or []:
        if s["__typename"] == "AssetPartitionsStatusCounts":
            targeted += s["numPartitionsTargeted"]
            done += s["numPartitionsMaterialized"]
            failed += s["numPartitionsFailed"]
            running += s["numPartitionsInProgress"]
        else:
            targeted += 1
            done += int(s["materialized"])
            failed += int(s["failed"])
            running += int(s["inProgress"])
    return Progress(node["status"], targeted, done, failed, running)


def eta_s(progress: Progress, elapsed_s: float) -> float | None:
    """Remaining time at the average pace so far (partitions per second); None before the first one finishes."""
    finished = progress.done + progress.failed
    if finished == 0 or progress.remaining <= 0:
        return None
    return elapsed_s / finished * progress.remaining


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes:d}:{secs:02d}"


def progress_line(progress: Progress, elapsed_s: float, width: int = 24) -> str:
    total = max(progress.targeted, 1)
    filled = int(width * (progress.done + progress.failed) / total)
    bar = "#" * filled + "." * (width - filled)
    return (f"[{bar}] {progress.done}/{progress.targeted} done, {progress.failed} failed, "
            f"{progress.in_progress} running, {progress.remaining} remaining | elapsed {_clock(elapsed_s)}, "
            f"eta {_clock(eta_s(progress, elapsed_s))}")
