"""End to end: one task through every stage on the smoke profile with the real embedded model.

Runs in-process with `dg.materialize` against a throwaway instance; outputs go to tmp_path.
"""

import json
from pathlib import Path

import dagster as dg
import pytest

from baseweight_assets.defs.definitions_factory import build_definitions
from baseweight_assets.settings import Settings
from baseweight_assets.report.dashboard import validate_dashboard

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / ".cache" / "models" / "smollm2-135m"


@pytest.fixture(scope="module")
def graph(tmp_path_factory, shared_data_module):
    if not (MODEL / "model.safetensors").is_file():
        pytest.skip("embedded model not converted yet: run ./run.sh setup")
    out = tmp_path_factory.mktemp("bench")
    settings = Settings.from_env({
        "BASEWEIGHT_REPO_ROOT": str(out),
        "BASEWEIGHT_CONFIG_DIR": str(REPO / "configs"),
        "BASEWEIGHT_PROMPTS_DIR": str(REPO / "prompts"),
        "BASEWEIGHT_DATA_DIR": str(shared_data_module),
        "BASEWEIGHT_MODELS_CACHE": str(REPO / ".cache" / "models"),
        "BASEWEIGHT_PROFILE": "smoke",
    })
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()

    def run(selection, partition=None):
        result = dg.materialize(
            [*defs.assets, *defs.asset_checks], selection=selection, partition_key=partition,
            resources=defs.resources, instance=instance,
        )
        assert result.success
        return result

    return out, run, instance


@pytest.fixture(scope="module")
def shared_data_module():
    import os

    SHARED_DATA = Path(os.environ.get("BASEWEIGHT_DATA_DIR") or REPO.parent / "shared" / "data")
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


def test_fpb_chain_to_site(graph):
    out, run, instance = graph
    task = "fpb"
    variants = ["smollm2-135m__zero-shot", "smollm2-135m__lora-500"]
    api_variant = "gpt-5.4-nano__zero-shot"
    run(["raw_dataset", "prepared_splits"], task)
    trained = run(["lora_adapter"], f"{task}|smollm2-135m__lora-500")
    shown = trained.asset_materializations_for_node("lora_adapter")[0].metadata
    issue_fields = {"n_train", "n_val", "epochs_run", "loss_history", "val_loss_history", "stopped_early", "wall_time_s",
                    "gpu_name", "gpu_hours", "peak_gpu_mem_mb", "training_cost_usd", "library_versions", "input_hash",
                    "adapter_sha256", "trained_tokens", "backend"}
    assert issue_fields <= set(shown), sorted(issue_fields - set(shown))
    assert shown["backend"].value == "peft_cpu" and shown["trained_tokens"].value > 0
    assert shown["loss_history"].value and shown["library_versions"].value["torch"]
    for v in variants:
        run(["local_predictions"], f"{task}|{v}")
    run(["api_predictions"], f"{task}|{api_variant}")
    for v in [*variants, api_variant]:
        run(["scores"], f"{task}|{v}")
    run(["task_summary"], task)
    run(["dashboard_data", "dashboard_site"])

    results = out / "results" / "smoke"
    adapter = json.loads((results / "lora_adapter" / task / "smollm2-135m__lora-500.json").read_text())
    assert adapter["status"] == "ok" and Path(adapter["adapter_dir"], "adapter_model.safetensors").is_file()
    for v in [*variants, api_variant]:
        scores = json.loads((results / "scores" / task / f"{v}.json").read_text())
        assert scores["status"] == "ok", scores.get("reason")
        assert 0.0 <= scores["metric"] <= 1.0 and scores["ci_lo"] <= scores["metric"] <= scores["ci_hi"]
        assert sum(scores["error_counts"].values()) == scores["n"]
    api_scores = json.loads((results / "scores" / task / f"{api_variant}.json").read_text())
    assert api_scores["run"]["stand_in"] is True

    dashboard = json.loads((out / "dashboard-data" / "smoke" / "dashboard_data.json").read_text())
    validate_dashboard(dashboard)
    assert (out / "dashboard-data" / "smoke" / "site" / "index.html").is_file()

    # a rerun with unchanged inputs makes zero model calls and starts no server
    result = run(["local_predictions"], f"{task}|smollm2-135m__lora-500")
    meta = result.asset_materializations_for_node("local_predictions")[0].metadata
    assert meta["calls_made"].value == 0 and meta["cache_hits"].value == meta["rows"].value > 0
    assert any("no server started" in entry.user_message for entry in instance.all_logs(result.run_id))

    # the instance recorded the partitions and the checks ran
    assert instance.get_latest_materialization_event(dg.AssetKey("dashboard_data")) is not None
    checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("raw_dataset"), "raw_row_counts")]
    )
    assert checks, "raw_row_counts check did not run"
