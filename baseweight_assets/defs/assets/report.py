"""task_summary[task] -> dashboard_data -> dashboard_site."""


from datetime import datetime, timezone

import dagster as dg

import baseweight_assets
from baseweight_assets.defs.io_managers import FAN_IN
from baseweight_assets.defs.partitions import all_variants_of_task
from baseweight_assets.defs.resources import BenchResource, LayoutResource
from baseweight_assets.defs.stage_wiring import BuildContext
from baseweight_assets.paths import REPO_ROOT
from baseweight_assets.pipeline.stages import Stage
from baseweight_assets.report.dashboard import build_dashboard
from baseweight_assets.report.site_build import build_site
from baseweight_assets.report.summary import summarize_task
from baseweight_assets.report.tables import export_tables, markdown_preview

# Every fan-in is a mapping partition key -> value, for one upstream partition as for many, and tolerates
# partitions not materialized yet (a skipped or failed cell must not hide the others).
_FAN_IN = {"allow_missing_partitions": True, FAN_IN: True}


def _by_variant(values: dict | None) -> dict[str, dict]:
    """IO-manager fan-in dicts are keyed by MultiPartitionKey ('task|variant'); keep the variant."""
    out = {}
    for key, value in (values or {}).items():
        dims = getattr(key, "keys_by_dimension", None)
        out[dims["variant"] if dims else str(key).split("|", 1)[-1]] = value
    return out


def _data_provenance(cells: dict[str, dict]) -> dict | None:
    """Where the task's data came from, as recorded by prepared_splits and carried on every scored cell."""
    for cell in cells.values():
        if cell.get("status") == "ok" and cell.get("provenance"):
            return {**cell["provenance"], "prompt_hash": cell.get("prompt_hash"), "few_shot_hash": cell.get("few_shot_hash")}
    return None


def build_task_summary(stage: Stage, ctx: BuildContext) -> list:
    @dg.asset(
        **ctx.asset_args(stage),
        kinds={"python"},
        ins={name: dg.AssetIn(partition_mapping=all_variants_of_task(), metadata=_FAN_IN)
             for name in ("local_scores", "api_scores", "lora_adapter")},
        description="Every scored cell of one task with cost, TCO, break-even and paired comparisons.",
    )
    def task_summary(context: dg.AssetExecutionContext, bench: BenchResource, local_scores: dict, api_scores: dict,
                     lora_adapter: dict) -> dg.Output[dict]:
        task = bench.task(context.partition_key)
        cells = {**_by_variant(local_scores), **_by_variant(api_scores)}
        summary = summarize_task(
            task, cells, _by_variant(lora_adapter), bench.config,
            n_resamples=bench.bootstrap_resamples, seed=bench.config.run.bootstrap_seed,
        )
        summary["data_provenance"] = _data_provenance(cells)
        return dg.Output(summary, metadata={"cells": len(cells), "profile": bench.profile})

    return [task_summary]


def build_dashboard_data(stage: Stage, ctx: BuildContext) -> list:
    @dg.asset(
        **ctx.asset_args(stage),
        kinds={"json"},
        ins={"task_summary": dg.AssetIn(metadata=_FAN_IN)},
        description="The versioned dashboard JSON (schema in baseweight_assets/report/), plus CSV/Markdown tables.",
    )
    def dashboard_data(context: dg.AssetExecutionContext, bench: BenchResource, layout: LayoutResource,
                       task_summary: dict) -> dg.Output[dict]:
        summaries = {str(k): v for k, v in task_summary.items()}
        dashboard = build_dashboard(
            bench.config, summaries, profile=bench.profile,
            generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            package_version=baseweight_assets.__version__,
            provenance={
                "data_root": str(bench.data_root),
                "use_hub": bench.use_hub,
                "tasks": {t: s.get("data_provenance") or {} for t, s in summaries.items()},
            },
        )
        tables = export_tables(dashboard, layout.paths.tables)
        return dg.Output(dashboard, metadata={
            "tasks": len(summaries), "preview": dg.MetadataValue.md(markdown_preview(dashboard)),
            "tables": dg.MetadataValue.json({k: str(v) for k, v in tables.items()}),
        })

    return [dashboard_data]


def build_dashboard_site(stage: Stage, ctx: BuildContext) -> list:
    @dg.asset(**ctx.asset_args(stage), kinds={"html"},
              description="The static Chart.js site built from dashboard_data (works offline and from file://).")
    def dashboard_site(context: dg.AssetExecutionContext, layout: LayoutResource,
                       dashboard_data: dict) -> dg.Output[dict]:
        index = build_site(dashboard_data, layout.paths.site, site_src=REPO_ROOT / "site")
        return dg.Output({"index": str(index)}, metadata={"index": dg.MetadataValue.path(str(index))})

    return [dashboard_site]
