"""End to end with the real embedded model: one task through every stage on the smoke profile, in process.

Raw data -> prepared splits (with the LoRA curve's nested subsets) -> two curve adapters (lora-4, lora-full) trained
with the real trainer -> predictions from the in-process engine (the prompted base, the adapters, the labelled API
stand-in) -> scores -> task summary -> dashboard JSON and site. Then a rerun with unchanged inputs answers every
request from the store and loads no model.
"""

import json
from pathlib import Path

import dagster as dg
import pytest

from baseweight_assets.defs.definitions_factory import build_definitions
from baseweight_assets.report.dashboard import validate_dashboard
from baseweight_assets.settings import Settings

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / ".cache" / "models" / "smollm2-135m"
TASK = "fpb"
LOCAL = ["smollm2-135m__zero-shot", "smollm2-135m__lora-4", "smollm2-135m__lora-full"]
API = "gpt-5.4-nano__zero-shot"


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    if not (MODEL / "model.safetensors").is_file():
        pytest.skip("embedded model not converted yet: run ./run.sh setup")
    settings = Settings.from_env({"BASEWEIGHT_REPO_ROOT": str(tmp_path_factory.mktemp("bench")),
                                  "BASEWEIGHT_CONFIG_DIR": str(REPO / "configs"),
                                  "BASEWEIGHT_PROMPTS_DIR": str(REPO / "prompts"),
                                  "BASEWEIGHT_DATA_DIR": str(Settings.from_env().data_root),
                                  "BASEWEIGHT_MODELS_CACHE": str(REPO / ".cache" / "models"),
                                  "BASEWEIGHT_PROFILE": "smoke", "BASEWEIGHT_API": "stand-in"})
    if not settings.data_root.is_dir():
        pytest.skip(f"real data not found at {settings.data_root}")
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()

    def run(selection, partition=None):
        result = dg.materialize([*defs.assets, *defs.asset_checks], selection=selection, partition_key=partition,
                                resources=defs.resources, instance=instance)
        assert result.success
        return result

    return settings, run, instance


def test_fpb_chain_to_site(graph):
    settings, run, instance = graph
    paths = settings.paths
    run(["raw_dataset", "prepared_splits"], TASK)
    prepared = json.loads((paths.data / "prepared_splits" / f"{TASK}.json").read_text())
    assert set(prepared["lora_subsets"]["lora-4"]) < set(prepared["lora_subsets"]["lora-8"])  # nested

    trained = run(["lora_adapter"], f"{TASK}|smollm2-135m__lora-4")
    shown = trained.asset_materializations_for_node("lora_adapter")[0].metadata
    issue_fields = {"n_train", "n_val", "epochs_run", "loss_history", "val_loss_history", "stopped_early", "wall_time_s",
                    "gpu_name", "gpu_hours", "peak_gpu_mem_mb", "training_cost_usd", "library_versions", "input_hash",
                    "adapter_sha256", "trained_tokens", "backend", "adapter_key", "reused"}
    assert issue_fields <= set(shown), sorted(issue_fields - set(shown))
    assert shown["backend"].value == "peft_cpu" and shown["n_train"].value == 4 and shown["reused"].value is False
    run(["lora_adapter"], f"{TASK}|smollm2-135m__lora-full")
    for variant in LOCAL:
        run(["local_predictions", "local_scores"], f"{TASK}|{variant}")
    run(["api_predictions", "api_scores"], f"{TASK}|{API}")
    run(["task_summary"], TASK)
    run(["dashboard_data", "dashboard_site"])

    results = paths.results
    adapter = json.loads((results / "lora_adapter" / TASK / "smollm2-135m__lora-4.json").read_text())
    assert adapter["status"] == "ok" and Path(adapter["adapter_dir"], "adapter_model.safetensors").is_file()
    assert Path(adapter["adapter_dir"]).parent == paths.adapters  # content-addressed, not per partition
    for variant in LOCAL:
        scores = json.loads((results / "local_scores" / TASK / f"{variant}.json").read_text())
        assert scores["status"] == "ok" and scores["completeness"]["complete"], scores.get("reason")
        assert 0.0 <= scores["metric"] <= 1.0 and scores["ci_lo"] <= scores["metric"] <= scores["ci_hi"]
        assert sum(scores["error_counts"].values()) == scores["completeness"]["n_sampled"]
        assert scores["run"]["served_by"] == "engine" and scores["run"]["saturated_qps"] > 0
    api_scores = json.loads((results / "api_scores" / TASK / f"{API}.json").read_text())
    assert api_scores["run"]["stand_in"] is True

    dashboard = json.loads(paths.dashboard_json.read_text())
    validate_dashboard(dashboard)
    assert (paths.site / "index.html").is_file()

    # a rerun with unchanged inputs answers from the store (the engine is never built: tests/inference/test_answer_backends)
    result = run(["local_predictions"], f"{TASK}|smollm2-135m__lora-4")
    meta = result.asset_materializations_for_node("local_predictions")[0].metadata
    assert meta["calls_made"].value == 0 and meta["cache_hits"].value == meta["rows"].value > 0

    checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("raw_dataset"), "raw_row_counts")])
    assert checks, "raw_row_counts check did not run"
