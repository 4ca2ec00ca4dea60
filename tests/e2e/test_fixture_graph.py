"""The whole graph, every stage and every task kind, on the committed fixtures (tests/fixtures/data: a few synthetic
rows per task in each loader's real format) with a tiny random model standing in for the embedded one and the fake
API endpoint: runs on every pytest run, needs neither ../shared nor a real model. The plan and its runs are the main
job's own (cli/backfill_plan), materialized in process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml

from baseweight_assets.cli.backfill_plan import Selection, instance_state, plan_backfill, run_order
from baseweight_assets.config.schema import ModelConfig
from baseweight_assets.defs.definitions_factory import build_definitions
from baseweight_assets.defs.resources import ModelStoreResource
from baseweight_assets.pipeline.stages import STAGES
from baseweight_assets.report.dashboard import validate_dashboard
from baseweight_assets.settings import Settings
from tests.fixtures.fixture_configs import FIXTURE_DATA, fixture_configs

REPO = Path(__file__).resolve().parents[2]
SMOLLM = REPO / ".cache" / "models" / "smollm2-135m"
ONE_TASK_PER_KIND = ("banking77", "medmcqa", "cuad", "mbpp")
MODELS = ("smollm2-135m", "gpt-5.4-nano")


class TinyModelStore(ModelStoreResource):
    """A tiny random Llama with the embedded model's tokenizer, in place of the embedded model's weights."""

    tiny_dir: str

    def base_model_dir(self, model: ModelConfig, log=print) -> Path:
        return Path(self.tiny_dir)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    if not (SMOLLM / "tokenizer.json").is_file():
        pytest.skip("the embedded model's tokenizer is missing: run ./run.sh setup")
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    path = tmp_path_factory.mktemp("tiny-model")
    tokenizer = AutoTokenizer.from_pretrained(SMOLLM)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=8192,
                         tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _short_curve(configs: Path, sizes: list) -> None:
    run_defaults = yaml.safe_load((configs / "run_defaults.yaml").read_text())
    run_defaults["profiles"]["smoke"]["lora_sizes"] = sizes
    (configs / "run_defaults.yaml").write_text(yaml.safe_dump(run_defaults))


def _graph(root: Path, tiny: Path, configs: Path):
    settings = Settings.from_env({
        "BASEWEIGHT_REPO_ROOT": str(root), "BASEWEIGHT_CONFIG_DIR": str(configs),
        "BASEWEIGHT_PROMPTS_DIR": str(configs.parent / "prompts"), "BASEWEIGHT_DATA_DIR": str(FIXTURE_DATA),
        "BASEWEIGHT_MODELS_CACHE": str(root / "models"), "BASEWEIGHT_PROFILE": "smoke", "BASEWEIGHT_API": "fake",
    })
    defs = build_definitions(settings)
    resources = {**defs.resources, "model_store": TinyModelStore(models_cache=str(root / "models"), tiny_dir=str(tiny))}
    return settings, defs, resources


def _materialize_plan(defs, resources, instance, tasks) -> list:
    target = plan_backfill(defs, Selection(tasks, MODELS), *instance_state(instance, defs))
    runs = run_order(defs, target)
    for assets, partition in runs:
        result = dg.materialize([*defs.assets, *defs.asset_checks], selection=list(assets), partition_key=partition,
                                resources=resources, instance=instance, raise_on_error=False)
        assert result.success, f"{assets}[{partition}] failed"
    return runs


def test_every_stage_and_every_kind_on_the_fixtures(tmp_path, tiny_model):
    configs = fixture_configs(tmp_path / "cfg")
    _short_curve(configs, [4, "full"])
    settings, defs, resources = _graph(tmp_path / "out", tiny_model, configs)
    instance = dg.DagsterInstance.ephemeral()
    runs = _materialize_plan(defs, resources, instance, ONE_TASK_PER_KIND)
    materialized = {a for assets, _ in runs for a in assets}
    assert materialized == {s.key for s in STAGES if s.materialized}  # every stage of the registry ran

    paths = settings.paths
    dashboard = json.loads(paths.dashboard_json.read_text())
    validate_dashboard(dashboard)
    assert sorted(dashboard["tasks"]) == sorted(ONE_TASK_PER_KIND)
    for task in ONE_TASK_PER_KIND:
        cells = dashboard["tasks"][task]["cells"]
        kind = dashboard["tasks"][task]["task_type"]
        assert cells["gpt-5.4-nano__zero-shot"]["status"] in ("ok", "incomplete"), (task, kind)
        scored = [c for c in cells.values() if c["status"] == "ok"]
        assert scored, f"{task} ({kind}): no scored cell"
        assert all(0.0 <= c["metric"]["value"] <= 1.0 for c in scored if c["metric"]["value"] is not None)
    lora = json.loads((paths.results / "lora_adapter" / "banking77" / "smollm2-135m__lora-4.json").read_text())
    assert lora["status"] == "ok" and lora["adapters"][0]["metadata"]["n_train"] == 4
    assert dashboard["curves"]["by_task"]["banking77"]  # the data-efficiency curve reached the dashboard
    assert (paths.site / "index.html").is_file()

    # a second plan on the same instance has nothing left to do
    assert _materialize_plan(defs, resources, instance, ONE_TASK_PER_KIND) == []


def test_a_project_with_a_single_task_builds_its_dashboard(tmp_path, tiny_model):
    """Every fan-in gets a mapping with one upstream partition as with many (dashboard_data broke here once)."""
    configs = fixture_configs(tmp_path / "cfg")
    for path in (configs / "tasks").glob("*.yaml"):
        if path.stem != "fpb":
            path.unlink()
    for path in (configs / "models").glob("*.yaml"):
        if path.stem not in MODELS:
            path.unlink()
    _short_curve(configs, ["full"])
    settings, defs, resources = _graph(tmp_path / "out", tiny_model, configs)
    _materialize_plan(defs, resources, dg.DagsterInstance.ephemeral(), ("fpb",))
    dashboard = json.loads(settings.paths.dashboard_json.read_text())
    assert list(dashboard["tasks"]) == ["fpb"] and dashboard["task_order"] == ["fpb"]
