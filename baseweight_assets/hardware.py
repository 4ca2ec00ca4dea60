"""What the code is running on, named the way configs/pricing.yaml names hardware."""

from __future__ import annotations

import platform

# Substring of torch.cuda.get_device_name() -> pricing.yaml hardware key.
_GPU_NAMES = {"H200": "H200", "H100": "H100-SXM"}
CPU_HARDWARE = "cpu-2core"


def detect_hardware() -> dict:
    """``{"hardware": pricing key, "device": "cuda"|"cpu", "name": human name, "count": n}``."""
    try:
        import torch

        if torch.cuda.is_available():
            name = torch.cuda.get_device_name(0)
            key = next((v for k, v in _GPU_NAMES.items() if k in name), name)
            return {"hardware": key, "device": "cuda", "name": name, "count": torch.cuda.device_count()}
    except ImportError:
        pass
    return {"hardware": CPU_HARDWARE, "device": "cpu", "name": platform.processor() or platform.machine(), "count": 1}


def accelerator_count() -> int:
    """CUDA devices visible here, without initialising CUDA in this process: ``torch.cuda.device_count`` does not
    (``get_device_name`` does), so processes forked afterwards can still use the GPU."""
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count()
