from __future__ import annotations

from baseweight_assets.training import backends
from baseweight_assets.training.backends import choose_backend


def _all(unsloth=False, bnb=False, trl=True):
    return {"unsloth": unsloth, "bitsandbytes": bnb, "trl": trl}


def test_cpu_is_plain_peft_lora_in_fp32(tiny_config):
    b = choose_backend(tiny_config, cuda=False, available=_all(unsloth=True, bnb=True))
    assert (b.name, b.device, b.dtype, b.load_in_4bit) == ("peft_cpu", "cpu", "float32", False)
    assert "no CUDA" in b.why
    # shared-prefix batches whatever config.packing says: flattened batches are slower on CPU (no flash attention)
    assert b.shared_prefix and not b.padding_free and not b.packed_varlen
    packed = choose_backend(tiny_config.model_copy(update={"packing": True}), cuda=False, available=_all())
    assert packed.shared_prefix and not packed.padding_free


def test_cuda_prefers_unsloth_then_qlora_then_bf16_lora(tiny_config, monkeypatch):
    import baseweight_assets.training.backends as backends

    monkeypatch.setattr(backends, "_bf16_ok", lambda config: True)
    cfg = tiny_config.model_copy(update={"load_in_4bit": True, "optimizer": "adamw_8bit"})
    assert choose_backend(cfg, cuda=True, available=_all(unsloth=True, bnb=True)).name == "unsloth"
    qlora = choose_backend(cfg, cuda=True, available=_all(bnb=True))
    assert (qlora.name, qlora.load_in_4bit, qlora.dtype, qlora.padding_free) == ("trl_bnb", True, "bfloat16", True)
    assert qlora.trainer_class == "trl.SFTTrainer" and qlora.optimizer == "adamw_8bit"
    no_bnb = choose_backend(cfg, cuda=True, available=_all(bnb=False, trl=False))
    assert no_bnb.name == "cuda_lora_bf16" and not no_bnb.load_in_4bit
    assert "bitsandbytes is not importable" in no_bnb.why and "trl is not importable" in no_bnb.why
    assert no_bnb.trainer_class == "transformers.Trainer" and no_bnb.optimizer == "adamw_torch_fused"
    off = choose_backend(cfg.model_copy(update={"load_in_4bit": False}), cuda=True, available=_all(bnb=True))
    assert off.name == "cuda_lora_bf16" and "load_in_4bit is off" in off.why


def test_cuda_without_bf16_trains_in_float32_not_float16(tiny_config, monkeypatch):
    """Plain float16 without loss scaling diverged on a real H200 run; float32 is the safe fallback."""
    import baseweight_assets.training.backends as backends

    monkeypatch.setattr(backends, "_bf16_ok", lambda config: False)
    b = choose_backend(tiny_config.model_copy(update={"bf16": False}), cuda=True, available=_all())
    assert b.dtype == "float32" and "float32 LoRA" in b.why


def test_packed_cuda_path_compiles_layers_as_measured(tiny_config, monkeypatch):
    monkeypatch.setattr(backends, "_bf16_ok", lambda config: True)
    packed = tiny_config.model_copy(update={"packing": True, "load_in_4bit": True})
    qlora = choose_backend(packed, cuda=True, available={**_all(bnb=True), "varlen": True})
    assert qlora.name == "trl_bnb" and qlora.packed_varlen
    assert backends.compile_layers(qlora, packed)  # compiled 4-bit layers: 1.41-1.55x eager on an H200
    monkeypatch.setattr(backends, "COMPILE_4BIT_LAYERS", False)
    assert not backends.compile_layers(qlora, packed)
    bf16 = choose_backend(packed.model_copy(update={"load_in_4bit": False}), cuda=True,
                          available={**_all(bnb=True), "varlen": True})
    assert backends.compile_layers(bf16, packed)
    assert not backends.compile_layers(bf16, packed.model_copy(update={"gradient_checkpointing": True}))
    assert not backends.compile_layers(choose_backend(packed, cuda=False), packed)  # CPU never compiles
