"""Shared pieces of the GPU benchmarks: model configs, card ceilings, environment, output files.

Runs on the lent GPU machine's own python3 (torch 2.11, transformers 5.17, no pydantic), so it imports
nothing from baseweight_assets.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import torch

DATASHEET_BF16_DENSE_TFLOPS = 989.0  # H100/H200 SXM dense bf16, vendor datasheet (no sparsity)


def qwen3_8b_config(**overrides):
    """Qwen3-8B's architecture (values of Qwen/Qwen3-8B config.json), for random-weight builds."""
    from transformers import Qwen3Config

    values = dict(
        hidden_size=4096, num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8, head_dim=128,
        intermediate_size=12288, vocab_size=151936, rope_theta=1_000_000.0, tie_word_embeddings=False,
        max_position_embeddings=40960, rms_norm_eps=1e-6, hidden_act="silu", attention_bias=False,
        bos_token_id=151643, eos_token_id=151645, pad_token_id=None,
    )
    values.update(overrides)
    config = Qwen3Config(**values)
    # transformers 5.x keeps rope settings in rope_parameters; set both so 4.x and 5.x agree.
    if getattr(config, "rope_parameters", None) is not None:
        config.rope_parameters["rope_theta"] = values["rope_theta"]
    return config


def smollm2_135m_config(**overrides):
    """SmolLM2-135M-Instruct's architecture (Llama), for random-weight builds."""
    from transformers import LlamaConfig

    values = dict(
        hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3, head_dim=64,
        intermediate_size=1536, vocab_size=49152, rope_theta=100_000.0, tie_word_embeddings=True,
        max_position_embeddings=8192, rms_norm_eps=1e-5, hidden_act="silu",
        bos_token_id=1, eos_token_id=2, pad_token_id=2,
    )
    values.update(overrides)
    config = LlamaConfig(**values)
    if getattr(config, "rope_parameters", None) is not None:
        config.rope_parameters["rope_theta"] = values["rope_theta"]
    return config


def tiny_config(family: str, vocab_size: int = 512):
    """A few-layer model of the same family, for CPU smoke runs of the scripts."""
    build = qwen3_8b_config if family == "qwen3" else smollm2_135m_config
    return build(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 head_dim=16, intermediate_size=128, vocab_size=vocab_size)


def build_random_model(config, device: str, dtype=torch.bfloat16, attn_implementation: str = "sdpa"):
    """Random-weight causal LM built directly on `device` (an 8B init on the CPU would take minutes)."""
    from transformers import AutoModelForCausalLM

    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation=attn_implementation)
    return model.to(device)


def count_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure_matmul_tflops(device: str, n: int = 8192, reps: int = 20) -> float:
    """Dense bf16 n^3 matrix product on random data, median of `reps` timed with CUDA events."""
    if not device.startswith("cuda"):
        return float("nan")
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    times.sort()
    del a, b
    return 2 * n**3 / times[len(times) // 2] / 1e12


def measure_copy_gbps(device: str, nbytes: int = 4 << 30, reps: int = 20) -> float:
    """Device-to-device copy bandwidth, counting bytes read plus bytes written (GB/s)."""
    if not device.startswith("cuda"):
        return float("nan")
    src = torch.randint(0, 255, (nbytes,), device=device, dtype=torch.uint8)
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        dst.copy_(src)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    times.sort()
    del src, dst
    return 2 * nbytes / times[len(times) // 2] / 1e9


def environment() -> dict:
    """Card, driver and library versions, for the report."""
    import peft
    import transformers

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
    }
    try:
        info["nvidia_smi"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version,clocks.max.sm", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        info["nvidia_smi"] = f"unavailable: {exc}"
    return info


def write_json_atomic(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh, indent=2, default=str)
    os.replace(tmp, path)


def print_table(rows: list[dict], columns: list[str]) -> None:
    """A Markdown table of `rows` on stdout (the device reply keeps the end of the output)."""
    def fmt(value):
        if isinstance(value, float):
            return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
        return str(value)

    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(fmt(row.get(c, "")) for c in columns) + " |")


class Stopwatch:
    """Wall time of a region with the device synchronised at both ends."""

    def __init__(self, device: str):
        self.device = device
        self.seconds = 0.0

    def __enter__(self):
        sync(self.device)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        sync(self.device)
        self.seconds = time.perf_counter() - self._t0
        return False
