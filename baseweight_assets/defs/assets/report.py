"""task_summary[task] -> dashboard_data -> dashboard_site."""


from datetime import datetime, timezone

import dagster as dg

import baseweight_assets
from baseweight_assets.defs.partitions import PartitionSpace, all_variants_of_task
from baseweight_assets.defs.resources import BenchResource
from baseweight_assets.paths import REPO_ROOT
from baseweight_assets.report.dashboard import build_dashboard
from baseweight_assets.report.site_build import build_site
from baseweight_assets.report.summary import summarize_task
from baseweight_assets.report.tables import export_tables, markdown_preview

_TOLERANT = {"allow_missing_partitions": True}


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


def build_report_assets(space: PartitionSpace) -> list[dg.AssetsDefinition]:
    @dg.asset(
        partitions_def=space.task,
        group_name="report",
        io_manager_key="results_io",
        kinds={"python"},
        ins={
            "scores": dg.AssetIn(partition_mapping=all_variants_of_task(), metadata=_TOLERANT),
            "lora_adapter": dg.AssetIn(partition_mapping=all_variants_of_task(), metadata=_TOLERANT),
        },
        description="Every scored cell of one task with cost, TCO, break-even and paired comparisons.",
    )
    def task_summary(
        context: dg.AssetExecutionContext, bench: BenchResource, scores: dict, lora_adapter: dict
    ) -> dg.Output[dict]:
        task = bench.task(context.partition_key)
        cells = _by_variant(scores)
        summary = summarize_task(
            task, cells, _by_variant(lora_adapter), bench.config,
            n_resamples=bench.bootstrap_resamples, seed=bench.config.run.bootstrap_seed,
        )
        summary["data_provenance"] = _data_provenance(cells)
        return dg.Output(summary, metadata={"cells": len(cells), "profile": bench.profile})

    @dg.asset(
        group_name="report",
        io_manager_key="dashboard_io",
        kinds={"json"},
        ins={"task_summary": dg.AssetIn(metadata=_TOLERANT)},
        description="The versioned dashboard JSON (schema in baseweight_assets/report/), plus CSV/Markdown tables.",
    )
    def dashboard_data(context: dg.AssetExecutionContext, bench: BenchResource, task_summary: dict) -> dg.Output[dict]:
        summaries = {str(k): v for k, v in (task_summary or {}).items()}
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
        tables = export_tables(dashboard, bench.paths.dashboard / "tables")
        return dg.Output(
            dashboard,
            metadata={
                "tasks": len(summaries),
                "preview": dg.MetadataValue.md(markdown_preview(dashboard)),
                "tables": dg.MetadataValue.json({k: str(v) for k, v in tables.items()}),
            },
        )

    @dg.asset(
        group_name="report",
        io_manager_key="dashboard_io",
        kinds={"html"},
        description="The static Chart.js site built from dashboard_data (works offline and from file://).",
    )
    def dashboard_site(context: dg.AssetExecutionContext, bench: BenchResource, dashboard_data: dict) -> dg.Output[dict]:
        index = build_site(dashboard_data, bench.paths.dashboard / "site", site_src=REPO_ROOT / "site")
        return dg.Output({"index": str(index)}, metadata={"index": dg.MetadataValue.path(str(index))})

    return [task_summary, dashboard_data, dashboard_site]
