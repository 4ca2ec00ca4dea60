from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))

from tiny_model import build_tiny_model  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    import torch

    torch.set_num_threads(1)
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def tiny_config():
    from baseweight_assets.config.schema import TrainingConfig

    return TrainingConfig(model="tiny", lora={"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": "all-linear"},
                          learning_rate=5e-3, per_device_batch_size=4, gradient_accumulation=1, max_seq_length=64,
                          evals_per_epoch=2, early_stopping_patience=0, load_in_4bit=False, bf16=False,
                          optimizer="adamw_torch", warmup_ratio=0.0)
