"""Trainer callbacks: stop on a non-finite loss, keep train_state.json current, measure peak memory."""

from __future__ import annotations

import math
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

from transformers import TrainerCallback

from baseweight_assets.training.resume import write_state


class NonFiniteLossGuard(TrainerCallback):
    """Stops training at the first logged NaN/Inf loss or grad norm (logging runs every step)."""

    def __init__(self) -> None:
        self.bad_step: int | None = None
        self.bad_what: str = ""

    def on_log(self, args, state, control, logs=None, **kwargs):
        for key in ("loss", "grad_norm"):
            value = (logs or {}).get(key)
            if isinstance(value, (int, float)) and not math.isfinite(value) and self.bad_step is None:
                self.bad_step, self.bad_what = state.global_step, f"{key}={value}"
                control.should_training_stop = True
                control.should_save = False
        return control


class StateHeartbeat(TrainerCallback):
    """Keeps the elapsed time (every ``every_s`` and at each checkpoint) in train_state.json, so a killed run
    can still be costed when it resumes."""

    def __init__(self, work_dir: Path, started: float, log: Callable[[str], None], every_s: float = 30.0) -> None:
        self.work_dir, self.started, self.log, self.every_s = Path(work_dir), started, log, every_s
        self.last_write = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        if time.monotonic() - self.last_write >= self.every_s:
            write_state(self.work_dir, attempt_elapsed_s=time.monotonic() - self.started)
            self.last_write = time.monotonic()
        return control

    def on_save(self, args, state, control, **kwargs):
        self.last_write = time.monotonic()
        write_state(self.work_dir, last_checkpoint=f"checkpoint-{state.global_step}",
                    attempt_elapsed_s=time.monotonic() - self.started)
        self.log(f"checkpoint-{state.global_step} saved")
        return control


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def reset_gpu_peak() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak_gpu_mb() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    return max(torch.cuda.max_memory_allocated(i) for i in range(torch.cuda.device_count())) / 2**20
