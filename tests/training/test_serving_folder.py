from __future__ import annotations

import json

import pytest

from baseweight_assets.training.serving_folder import make_serving_folder


@pytest.fixture
def random_adapter(tiny_model_dir, tmp_path):
    """A LoRA adapter with non-zero B matrices, so it visibly changes the model's outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear",
                                                 init_lora_weights=False, task_type="CAUSAL_LM"))
    peft_model.save_pretrained(tmp_path / "adapter")
    return tmp_path / "adapter"


def test_serving_folder_loads_with_the_adapter_applied(tiny_model_dir, random_adapter, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = make_serving_folder(tiny_model_dir, random_adapter, tmp_path / "serve")
    assert (folder / "model.safetensors").is_symlink()
    assert json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"] == str(folder.resolve())
    tok = AutoTokenizer.from_pretrained(folder)
    assert tok.chat_template and "<|im_start|>" in tok.chat_template
    ids = tok("What color is the lime?", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        served = AutoModelForCausalLM.from_pretrained(folder).eval()(ids).logits
        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
        plain = base(ids).logits
        reference = PeftModel.from_pretrained(base, random_adapter).eval()(ids).logits
    assert not torch.allclose(served, plain, atol=1e-4)  # the adapter is applied ...
    torch.testing.assert_close(served, reference, atol=1e-5, rtol=1e-5)  # ... exactly as PEFT applies it


def test_serving_folder_is_replaced_atomically_and_rejects_bad_inputs(tiny_model_dir, random_adapter, tmp_path):
    out = tmp_path / "serve"
    make_serving_folder(tiny_model_dir, random_adapter, out)
    make_serving_folder(tiny_model_dir, random_adapter, out)  # rebuild over an existing folder
    assert (out / "adapter_model.safetensors").is_file() and not list(tmp_path.glob(".serve.*"))
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        make_serving_folder(tiny_model_dir, tmp_path, tmp_path / "other")
    assert not (tmp_path / "other").exists()
