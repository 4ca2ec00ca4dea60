"""Pick how to train (Unsloth | TRL + bitsandbytes QLoRA | bf16 LoRA on CUDA | PEFT on CPU) and load the model.

The choice depends only on what this machine has; the reason is kept for the adapter's metadata.
Heavy libraries are imported lazily so this module imports on any machine.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Compile the decoder layers of a bitsandbytes 4-bit base too (the bf16 base always compiles on the packed path).
# Measured on Qwen3-8B's architecture (docs/PERFORMANCE.md, run C): 1.41-1.55x the eager 4-bit layers, less memory,
# the same losses. False restores eager 4-bit layers (gpu_train_throughput.py's trainer_eager4bit variant).
COMPILE_4BIT_LAYERS = True

# Unsloth's get_peft_model wants explicit module names; these cover Llama/Qwen/Gemma/Phi-3 style blocks.
_UNSLOTH_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass(frozen=True)
class Backend:
    name: str  # unsloth | trl_bnb | cuda_lora_bf16 | peft_cpu
    why: str
    device: str  # cuda | cpu
    load_in_4bit: bool
    dtype: str  # float32 | bfloat16 | float16
    trainer_class: str  # trl.SFTTrainer | transformers.Trainer
    optimizer: str
    padding_free: bool
    # Packed rows + varlen flash attention + chunked loss (training/packing.py); CUDA only, config.packing on.
    packed_varlen: bool = False
    # The prompt common to a batch runs once, logits only where labels are (training/prefix.py); the CPU path.
    shared_prefix: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def choose_backend(config: Any, *, cuda: bool | None = None, available: dict[str, bool] | None = None) -> Backend:
    """Decide the backend from the hardware and importable packages (both injectable for tests)."""
    cuda = _cuda_available() if cuda is None else cuda
    have = {m: importable(m) for m in ("unsloth", "bitsandbytes", "trl")}
    if cuda and "varlen" not in (available or {}):
        from baseweight_assets.training.packing import varlen_available

        have["varlen"] = varlen_available()
    have.update(available or {})
    trainer_class = "trl.SFTTrainer" if have["trl"] else "transformers.Trainer"
    no_trl = "" if have["trl"] else "; trl is not importable, so the plain transformers Trainer runs the loop"
    if not cuda:
        # Without flash attention a flattened batch attends over all its tokens under one mask (one step on 2
        # BANKING77 rows: 20.0 CPU s flattened, 15.1 right-padded, 6.5 with the shared prefix, same loss).
        return Backend("peft_cpu", "no CUDA device: plain LoRA with PEFT in float32, shared-prefix batches (the "
                       "prompt common to a batch runs once, logits only for the answer)" + no_trl, "cpu", False,
                       "float32", trainer_class, "adamw_torch", False, shared_prefix=True)
    # Without bf16, train in float32: plain float16 without loss scaling diverged (NaN at step 2, seen on an H200).
    dtype = "bfloat16" if _bf16_ok(config) else "float32"
    optimizer = config.optimizer
    if "8bit" in optimizer and not have["bitsandbytes"]:
        optimizer = "adamw_torch_fused"
    if have["unsloth"] and have["trl"]:
        return Backend("unsloth", "CUDA and unsloth importable: Unsloth FastLanguageModel, "
                       f"{'4-bit' if config.load_in_4bit else '16-bit'} base, its gradient checkpointing",
                       "cuda", bool(config.load_in_4bit), dtype, "trl.SFTTrainer", optimizer, True)
    one_process = int(os.environ.get("WORLD_SIZE", "1")) == 1  # the packed loss bypasses DDP's forward
    half = dtype != "float32"  # the flash varlen kernel has no float32 variant
    packed = bool(config.packing) and have["varlen"] and one_process and half
    packed_why = "; packed rows, varlen flash attention, chunked loss" if packed else ""
    if config.packing and not packed:
        packed_why = ("; packing asked but torch has no nn.attention.varlen (torch >= 2.10)" if not have["varlen"]
                      else "; packing asked but the packed path runs one process only" if not one_process
                      else "; packing asked but flash varlen attention needs bf16 (bf16 is off or unsupported)"
                      ) + ": flattened batches"
    if config.load_in_4bit and have["bitsandbytes"]:
        why = "CUDA without unsloth: QLoRA, bitsandbytes 4-bit NF4 base with double quantisation, " + dtype + " compute"
        return Backend("trl_bnb", why + no_trl + packed_why, "cuda", True, dtype, trainer_class, optimizer, True, packed)
    reason = "load_in_4bit is off" if not config.load_in_4bit else "bitsandbytes is not importable"
    return Backend("cuda_lora_bf16", f"CUDA without unsloth and {reason}: {dtype} LoRA (not QLoRA)" + no_trl + packed_why,
                   "cuda", False, dtype, trainer_class, optimizer, True, packed)


def _bf16_ok(config: Any) -> bool:
    import torch

    return bool(config.bf16) and torch.cuda.is_bf16_supported()


def lora_config(config: Any) -> Any:
    from peft import LoraConfig

    lc = config.lora
    return LoraConfig(r=lc.r, lora_alpha=lc.alpha, lora_dropout=lc.dropout, target_modules=lc.target_modules,
                      use_rslora=lc.use_rslora, bias="none", task_type="CAUSAL_LM")


def attn_implementation(backend: Backend) -> str:
    """The registered packed varlen attention for packed rows; else flash-attention 2 when installed (varlen
    kernels for padding-free batches), else PyTorch SDPA."""
    if backend.packed_varlen:
        from baseweight_assets.training.packing import register_packed_attention

        return register_packed_attention()
    if backend.device == "cuda" and importable("flash_attn"):
        return "flash_attention_2"
    return "sdpa"


def prepare_model(base_model_dir: Path | str, config: Any, backend: Backend, tokenizer: Any) -> Any:
    """Load the base as the backend wants and wrap it with LoRA; returns a PEFT model ready for a Trainer."""
    import torch
    from transformers import set_seed

    set_seed(config.seed)  # LoRA A matrices are random: seed before creating them
    dtype = getattr(torch, backend.dtype)
    if backend.name == "unsloth":
        return _prepare_unsloth(base_model_dir, config, backend, dtype)
    from peft import get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": dtype, "attn_implementation": attn_implementation(backend)}
    if backend.load_in_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype
        )
    if backend.device == "cuda":
        kwargs["device_map"] = {"": torch.cuda.current_device()}
    model = AutoModelForCausalLM.from_pretrained(str(base_model_dir), **kwargs)
    if model.config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if backend.load_in_4bit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    elif config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    peft_model = get_peft_model(model, lora_config(config))
    if backend.packed_varlen:
        from baseweight_assets.training.packing import prepare_packed_model

        prepare_packed_model(peft_model.get_base_model(), compile_layers=compile_layers(backend, config))
    return peft_model


def compile_layers(backend: Backend, config: Any) -> bool:
    """Regional compile on the packed CUDA path as measured: not with gradient checkpointing (never measured), and on
    a 4-bit base only where ``COMPILE_4BIT_LAYERS`` says."""
    return (backend.packed_varlen and backend.device == "cuda" and not config.gradient_checkpointing
            and (COMPILE_4BIT_LAYERS or not backend.load_in_4bit))


def _prepare_unsloth(base_model_dir: Path | str, config: Any, backend: Backend, dtype: Any) -> Any:
    from unsloth import FastLanguageModel  # noqa: PLC0415 - CUDA hosts only

    model, _tok = FastLanguageModel.from_pretrained(
        model_name=str(base_model_dir), max_seq_length=config.max_seq_length, dtype=dtype,
        load_in_4bit=backend.load_in_4bit,
    )
    targets = config.lora.target_modules
    return FastLanguageModel.get_peft_model(
        model, r=config.lora.r, lora_alpha=config.lora.alpha, lora_dropout=config.lora.dropout,
        target_modules=_UNSLOTH_TARGETS if targets == "all-linear" else list(targets), bias="none",
        use_gradient_checkpointing="unsloth", use_rslora=config.lora.use_rslora, random_state=config.seed,
    )
