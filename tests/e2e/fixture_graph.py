"""The fixture graph: the committed fixtures (tests/fixtures/data: a few synthetic rows per task in each loader's
real format) with a tiny random model standing in for the embedded one; needs neither ../shared nor a real model.
The plan and its runs are the main job's own (cli/backfill_plan), materialized in process."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from baseweight_assets.cli.backfill_plan import Selection, instance_state, plan_backfill, run_order
from baseweight_assets.config.schema import ModelConfig
from baseweight_assets.defs.definitions_factory import build_definitions
from baseweight_assets.defs.resources import ModelStoreResource
from baseweight_assets.settings import Settings
from tests.fixtures.fixture_configs import FIXTURE_DATA

REPO = Path(__file__).resolve().parents[2]
SMOLLM = REPO / ".cache" / "models" / "smollm2-135m"
MODELS = ("smollm2-135m", "gpt-5.4-nano")


class TinyModelStore(ModelStoreResource):
    """A tiny random Llama with the embedded model's tokenizer, in place of the embedded model's weights."""

    tiny_dir: str

    def base_model_dir(self, model: ModelConfig, log=print) -> Path:
        return Path(self.tiny_dir)


def make_tiny_model(tmp_path_factory) -> Path:
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


def short_curve(configs: Path, sizes: list, training_seeds: int | None = None) -> None:
    run_defaults = yaml.safe_load((configs / "run_defaults.yaml").read_text())
    run_defaults["profiles"]["smoke"]["lora_sizes"] = sizes
    if training_seeds is not None:
        run_defaults["profiles"]["smoke"]["training_seeds"] = training_seeds
    (configs / "run_defaults.yaml").write_text(yaml.safe_dump(run_defaults))


def graph(root: Path, tiny: Path, configs: Path, env: dict | None = None):
    settings = Settings.from_env({
        "BASEWEIGHT_REPO_ROOT": str(root), "BASEWEIGHT_CONFIG_DIR": str(configs),
        "BASEWEIGHT_PROMPTS_DIR": str(configs.parent / "prompts"), "BASEWEIGHT_DATA_DIR": str(FIXTURE_DATA),
        "BASEWEIGHT_MODELS_CACHE": str(root / "models"), "BASEWEIGHT_PROFILE": "smoke",
        "BASEWEIGHT_API": "fake", **(env or {}),
    })
    defs = build_definitions(settings)
    resources = {**defs.resources, "model_store": TinyModelStore(models_cache=str(root / "models"), tiny_dir=str(tiny))}
    return settings, defs, resources


def materialize_plan(defs, resources, instance, tasks, models=MODELS) -> list:
    target = plan_backfill(defs, Selection(tasks, models), *instance_state(instance, defs))
    runs = run_order(defs, target)
    for assets, partition in runs:
        result = dg.materialize([*defs.assets, *defs.asset_checks], selection=list(assets), partition_key=partition,
                                resources=resources, instance=instance, raise_on_error=False)
        assert result.success, f"{assets}[{partition}] failed"
    return runs
