"""Which precision a device computes natively (imports only torch: the GPU benchmarks load the engine without the
config stack)."""

from __future__ import annotations


def computes_bf16(device_type: str) -> bool:
    """Whether the device computes bf16 natively: a CUDA GPU that supports it, or a CPU with AVX512-BF16 or AMX
    (elsewhere CPU bf16 is emulated and slower than fp32)."""
    import torch

    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    try:  # private helpers (used by torch's inductor); absent means not detectable, so not assumed
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:
        return False
