"""Run train_adapter in a separate process (the resume test SIGKILLs it). Usage: train_child.py SPEC.json"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import torch  # noqa: E402
from tiny_model import fruit_rows, render_messages  # noqa: E402

from baseweight_assets.config.schema import TrainingConfig  # noqa: E402
from baseweight_assets.training.trainer import train_adapter  # noqa: E402

torch.set_num_threads(1)
spec = json.loads(Path(sys.argv[1]).read_text())
train_adapter(base_model_dir=spec["model_dir"], train_rows=fruit_rows(spec["n_train"]), val_rows=fruit_rows(4, "val"),
              render_messages=render_messages, config=TrainingConfig.model_validate(spec["config"]),
              out_dir=Path(spec["out_dir"]), work_dir=Path(spec["work_dir"]), max_epochs=spec["max_epochs"],
              hourly_rate=1.0, hardware="cpu-test", input_fingerprint="fp", log=lambda m: print(m, flush=True))
