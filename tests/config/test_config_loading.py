"""Config validation: every error names the file, the field and what was expected."""

import shutil
from pathlib import Path

import pytest
import yaml

from baseweight_assets.config import ConfigError, load_bench_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    shutil.copytree(REPO / "prompts", tmp_path / "prompts")
    return tmp_path / "configs"


def _edit(path: Path, **changes) -> None:
    data = yaml.safe_load(path.read_text())
    data.update(changes)
    path.write_text(yaml.safe_dump(data))


def test_repo_configs_load():
    bench = load_bench_config(REPO / "configs")
    assert set(bench.tasks) == {"banking77", "cuad", "ledgar", "fpb", "medmcqa", "mbpp"}
    assert {m.id for m in bench.local_models()} >= {"smollm2-135m", "qwen3-8b", "gemma-3-4b", "phi-4-mini"}
    assert {m.id for m in bench.api_models()} == {"gpt-5.4-mini", "gpt-5.4-nano"}
    for model in bench.api_models():
        assert set(model.conditions) <= {"zero-shot", "5-shot"}
        assert model.api_model in bench.pricing.api
    assert bench.training_for("qwen3-8b", "banking77").learning_rate == 5e-5  # task override wins
    assert bench.training_for("qwen3-8b", "banking77").lora.r == 4


def test_unknown_key_names_file_and_field(configs: Path):
    _edit(configs / "tasks" / "fpb.yaml", max_output_tokenz=3)
    with pytest.raises(ConfigError) as err:
        load_bench_config(configs)
    assert "fpb.yaml" in str(err.value) and "max_output_tokenz" in str(err.value)


def test_wrong_type_says_what_was_expected(configs: Path):
    _edit(configs / "tasks" / "banking77.yaml", max_output_tokens="lots")
    with pytest.raises(ConfigError) as err:
        load_bench_config(configs)
    msg = str(err.value)
    assert "banking77.yaml" in msg and "max_output_tokens" in msg and "integer" in msg and "'lots'" in msg


def test_api_model_cannot_take_lora(configs: Path):
    _edit(configs / "models" / "gpt-5.4-mini.yaml", conditions=["zero-shot", "lora-500"])
    with pytest.raises(ConfigError) as err:
        load_bench_config(configs)
    assert "gpt-5.4-mini.yaml" in str(err.value) and "conditions" in str(err.value)


def test_unknown_skip_condition(configs: Path):
    _edit(configs / "tasks" / "fpb.yaml", skip_conditions={"ten-shot": "no"})
    with pytest.raises(ConfigError) as err:
        load_bench_config(configs)
    assert "skip_conditions" in str(err.value) and "unknown condition 'ten-shot'" in str(err.value)
    assert "lora-<N>" in str(err.value)


def test_lora_curve_sizes_are_typed_and_expanded(configs: Path):
    bench = load_bench_config(configs)
    assert bench.lora_sizes("fpb", "full") == [50, 100, 250, 500, 1000, "full"]
    assert bench.lora_sizes("fpb", "smoke") == [4, 8, "full"]
    assert bench.model_conditions("smollm2-135m", "smoke") == ["zero-shot", "5-shot", "lora-4", "lora-8", "lora-full"]
    assert bench.training_seeds("full") == 3 and bench.training_seeds("smoke") == 1
    _edit(configs / "tasks" / "mbpp.yaml", lora_sizes=[50, "most"])
    with pytest.raises(ConfigError) as err:
        load_bench_config(configs)
    assert "mbpp.yaml" in str(err.value) and "lora_sizes" in str(err.value)


def test_id_must_match_file_name(configs: Path):
    _edit(configs / "tasks" / "fpb.yaml", id="fpb2")
    with pytest.raises(ConfigError, match=r"fpb\.yaml: field 'id': must equal the file name"):
        load_bench_config(configs)


def test_missing_training_file_is_named(configs: Path):
    (configs / "training" / "phi-4-mini.yaml").unlink()
    with pytest.raises(ConfigError, match=r"phi-4-mini\.yaml: field 'training': no file configs/training/phi-4-mini\.yaml"):
        load_bench_config(configs)


def test_api_model_without_price(configs: Path):
    _edit(configs / "models" / "gpt-5.4-nano.yaml", api_model="gpt-9")
    with pytest.raises(ConfigError, match=r"pricing\.yaml: field 'api': no price for 'gpt-9'"):
        load_bench_config(configs)


def test_invalid_yaml_and_non_mapping(configs: Path):
    (configs / "pricing.yaml").write_text("api: [unclosed\n")
    with pytest.raises(ConfigError, match=r"pricing\.yaml: not valid YAML"):
        load_bench_config(configs)
    (configs / "pricing.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match=r"pricing\.yaml: expected a mapping"):
        load_bench_config(configs)


def test_price_scenarios_must_be_ordered(configs: Path):
    data = yaml.safe_load((configs / "pricing.yaml").read_text())
    data["hardware"]["H100-SXM"]["low"] = 99.0
    (configs / "pricing.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"hardware\.H100-SXM.*low <= mid <= high"):
        load_bench_config(configs)


def test_variant_separator_is_reserved(configs: Path):
    _edit(configs / "models" / "phi-4-mini.yaml", id="phi__4")
    with pytest.raises(ConfigError, match="'__'"):
        load_bench_config(configs)


def test_missing_prompt_folder(configs: Path):
    shutil.rmtree(configs.parent / "prompts" / "fpb")
    with pytest.raises(ConfigError, match=r"fpb\.yaml: field 'prompt': folder .* not found"):
        load_bench_config(configs)


# --------------------------------------------------------------------------- pricing


def test_repo_pricing_covers_rented_gpus_cpus_and_every_task_labelling():
    bench = load_bench_config(REPO / "configs")
    pricing = bench.pricing
    assert {"A10G", "L4", "L40S", "A100-40GB", "A100-80GB", "H100-PCIe", "H100-SXM", "H200",
            "RTX-4090"} <= set(pricing.hardware)
    assert all(rate.device_names for rate in pricing.hardware.values())  # every GPU can be detected
    assert pricing.cpu_per_vcpu is not None and not pricing.cpu_per_vcpu.device_names
    # the six tasks have their own labelling cost (a new task falls back to labelling.default); no stray ids
    assert {"banking77", "cuad", "ledgar", "fpb", "medmcqa", "mbpp"} <= set(pricing.labelling.tasks)
    assert set(pricing.labelling.tasks) <= set(bench.tasks)
    for rate in [pricing.labelling.default, *pricing.labelling.tasks.values()]:
        assert rate.usd_per_example > 0 and rate.source and rate.checked_at


def _edit_pricing(configs: Path, change) -> None:
    data = yaml.safe_load((configs / "pricing.yaml").read_text())
    change(data)
    (configs / "pricing.yaml").write_text(yaml.safe_dump(data))


def test_cpu_key_under_hardware_is_rejected(configs: Path):
    _edit_pricing(configs, lambda d: d["hardware"].update({"cpu-8core": d["hardware"]["L4"] | {"device_names": []}}))
    with pytest.raises(ConfigError, match=r"pricing\.yaml: field '<root>'.*hardware\.cpu-8core.*cpu_per_vcpu"):
        load_bench_config(configs)


def test_bad_device_pattern_names_the_field(configs: Path):
    _edit_pricing(configs, lambda d: d["hardware"]["L4"].update({"device_names": ["NVIDIA (L4"]}))
    with pytest.raises(ConfigError, match=r"pricing\.yaml: field 'hardware\.L4\.device_names'.*regular expression"):
        load_bench_config(configs)


def test_labelling_cost_is_validated(configs: Path):
    _edit_pricing(configs, lambda d: d["labelling"]["tasks"]["fpb"].update({"usd_per_example": -1}))
    with pytest.raises(ConfigError, match=r"pricing\.yaml: field 'labelling\.tasks\.fpb\.usd_per_example'"):
        load_bench_config(configs)
    _edit_pricing(configs, lambda d: d["labelling"]["tasks"]["fpb"].update({"usd_per_example": 1, "source": None}))
    with pytest.raises(ConfigError, match=r"field 'labelling\.tasks\.fpb\.source'"):
        load_bench_config(configs)


def test_api_mode_batch_only_for_api_models(configs: Path):
    _edit(configs / "models" / "gpt-5.4-nano.yaml", api_mode="batch")
    assert load_bench_config(configs).models["gpt-5.4-nano"].api_mode == "batch"
    _edit(configs / "models" / "gpt-5.4-nano.yaml", api_mode="stream")
    with pytest.raises(ConfigError, match=r"gpt-5\.4-nano\.yaml: field 'api_mode'.*'realtime' or 'batch'"):
        load_bench_config(configs)
    _edit(configs / "models" / "smollm2-135m.yaml", api_mode="batch")
    _edit(configs / "models" / "gpt-5.4-nano.yaml", api_mode="realtime")
    with pytest.raises(ConfigError, match=r"smollm2-135m\.yaml: field 'api_mode'.*API models only"):
        load_bench_config(configs)
