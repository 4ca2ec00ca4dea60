"""Every task option is typed and checked when the configs load: overrides, sandbox limits, the task kind and the
loader with its options. Errors name the file and the field."""

import dataclasses
import re
import shutil
from pathlib import Path

import pytest
import yaml

from baseweight_assets.config import ConfigError, load_bench_config
from baseweight_assets.config.loader import load_task_file
from baseweight_assets.config.schema import SandboxConfig, TaskConfig
from baseweight_assets.scoring.sandbox import SandboxLimits

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    shutil.copytree(REPO / "prompts", tmp_path / "prompts")
    return tmp_path / "configs"


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _error(configs: Path) -> str:
    with pytest.raises(ConfigError) as err:
        load_bench_config(configs)
    return str(err.value)


@pytest.mark.parametrize("task,change,expected", [
    ("fpb", lambda d: d["training_overrides"].update(learning_rat=1e-4),
     r"fpb\.yaml: field 'training_overrides\.learning_rat': Extra inputs are not permitted"),
    ("fpb", lambda d: d["training_overrides"].update(warmup_ratio="lots"),
     r"fpb\.yaml: field 'training_overrides\.warmup_ratio': Input should be a valid number.*'lots'"),
    ("fpb", lambda d: d["training_overrides"].update(per_device_batch_size=0),
     r"field 'training_overrides\.per_device_batch_size': Input should be greater than or equal to 1"),
    ("fpb", lambda d: d["training_overrides"].update(lora={"r": 4}),
     r"field 'training_overrides\.lora': Extra inputs are not permitted"),
    ("banking77", lambda d: d["lora_overrides"].update(rank=4),
     r"banking77\.yaml: field 'lora_overrides\.rank': Extra inputs are not permitted"),
    ("banking77", lambda d: d["lora_overrides"].update(dropout=1.5),
     r"field 'lora_overrides\.dropout': Input should be less than 1"),
    ("mbpp", lambda d: d["sandbox"].update(memory=512),
     r"mbpp\.yaml: field 'sandbox\.memory': Extra inputs are not permitted"),
    ("mbpp", lambda d: d["sandbox"].update(timeout_s=0),
     r"mbpp\.yaml: field 'sandbox\.timeout_s': Input should be greater than 0"),
    ("fpb", lambda d: d["source"]["offline"]["options"].update(agreemnt="66"),
     r"fpb\.yaml: field 'source\.offline\.options\.agreemnt': Extra inputs are not permitted"),
    ("fpb", lambda d: d["source"]["offline"]["options"].update(agreement="51"),
     r"fpb\.yaml: field 'source\.offline\.options\.agreement': Input should be '50', '66', '75' or 'all'"),
    ("cuad", lambda d: d["source"]["offline"]["options"].update(test_contract_fraction=0.2),  # now a pool rule
     r"cuad\.yaml: field 'source\.offline\.options\.test_contract_fraction': Extra inputs"),
    ("banking77", lambda d: d["source"]["offline"].update(options={"delimiter": ";"}),
     r"banking77\.yaml: field 'source\.offline\.options\.delimiter': Extra inputs are not permitted"),
    ("ledgar", lambda d: d["source"]["offline"].update(loader="ledgar2"),
     r"ledgar\.yaml: field 'source\.offline\.loader': unknown loader 'ledgar2' \(known: \['csv', 'cuad', "),
    ("ledgar", lambda d: d.update(task_type="ranking"),
     r"ledgar\.yaml: field 'task_type': unknown task kind 'ranking' \(known: \['classification', 'code', "),
    ("cuad", lambda d: d.pop("windows"), r"cuad\.yaml: field 'windows': required for task_type 'extraction'"),
    ("mbpp", lambda d: d.update(metric="macro_f1"),
     r"mbpp\.yaml: field 'metric': 'macro_f1' is not a metric of task_type 'code'"),
    ("medmcqa", lambda d: d["source"]["offline"]["pools"]["test"].update(fraktion=0.4),
     r"medmcqa\.yaml: field 'source\.offline\.pools\.test\.fraktion': Extra inputs are not permitted"),
])
def test_a_typo_or_bad_value_fails_at_load_naming_file_and_field(configs, task, change, expected):
    _edit(configs / "tasks" / f"{task}.yaml", change)
    assert re.search(expected, _error(configs))


def test_overrides_apply_only_what_the_task_sets():
    bench = load_bench_config(REPO / "configs")
    recipe, task = bench.training[bench.models["qwen3-8b"].training], bench.tasks["fpb"]
    assert task.training_overrides.model_dump(exclude_unset=True) == {
        "learning_rate": 1e-4, "weight_decay": 0.1, "warmup_ratio": 0.1, "early_stopping_patience": 1}
    trained = bench.training_for("qwen3-8b", "fpb")
    assert (trained.learning_rate, trained.weight_decay, trained.lora.r, trained.lora.alpha) == (1e-4, 0.1, 8, 16)
    assert trained.max_seq_length == recipe.max_seq_length and trained.lora.dropout == recipe.lora.dropout
    assert bench.tasks["ledgar"].lora_overrides.model_dump(exclude_unset=True) == {}


def test_sandbox_settings_are_exactly_the_sandbox_limits():
    limits_fields = {f.name: f.default for f in dataclasses.fields(SandboxLimits)}
    assert {name: info.default for name, info in SandboxConfig.model_fields.items()} == limits_fields
    task = load_bench_config(REPO / "configs").tasks["mbpp"]
    assert task.sandbox.limits() == SandboxLimits(timeout_s=10, cpu_s=10, memory_mb=1024, max_processes=32,
                                                  max_file_mb=16)
    assert task.sandbox.limits(timeout_s=5).timeout_s == 5 and task.sandbox.limits(timeout_s=5).cpu_s == 10
    assert SandboxLimits.from_task(task.sandbox, 3.0) == task.sandbox.limits(3.0)  # the caller in defs/ still works
    assert TaskConfig.model_fields["sandbox"].default_factory().limits() == SandboxLimits()


def test_load_task_file_checks_a_single_task(tmp_path):
    spec = yaml.safe_load((REPO / "configs" / "tasks" / "fpb.yaml").read_text())
    spec["source"]["offline"]["options"]["agreement"] = 66  # an int is read as the level it names
    path = tmp_path / "fpb.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert load_task_file(path).source.offline.options == {"agreement": 66}
    spec["source"]["offline"]["options"]["agreement"] = True
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match=r"fpb\.yaml: field 'source\.offline\.options\.agreement'"):
        load_task_file(path)
