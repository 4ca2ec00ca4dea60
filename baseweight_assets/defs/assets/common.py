"""Small helpers shared by the model-stage assets."""


import dagster as dg


def skipped(reason: str, **extra: object) -> dict:
    """A cell the data or config cannot support: materialized with its reason, never silently absent."""
    return {"status": "skipped", "reason": reason, **extra}


def skip_reason(prepared: dict, task_skip: dict[str, str], condition: str) -> str | None:
    return prepared.get("skip_conditions", {}).get(condition) or task_skip.get(condition)


def status_metadata(value: dict) -> dict:
    meta: dict = {"status": value.get("status", "ok")}
    if value.get("reason"):
        meta["reason"] = value["reason"]
    return meta


def log_fn(context: dg.AssetExecutionContext):
    return lambda msg: context.log.info(str(msg))
