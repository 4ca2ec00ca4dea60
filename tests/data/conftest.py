from pathlib import Path

import pytest
import yaml

from baseweight_assets.config.loader import load_model_file
from baseweight_assets.config.schema import TaskConfig

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def make_task(tmp_path):
    """Write a task YAML (and a prompt folder) under tmp_path and load it like the real configs."""

    def _make(spec: dict, system: str = "Labels: {{ labels | join(', ') }}", user: str = "{{ text }}") -> TaskConfig:
        (tmp_path / "configs").mkdir(exist_ok=True)
        path = tmp_path / "configs" / f"{spec['id']}.yaml"
        path.write_text(yaml.safe_dump(spec))
        prompt = tmp_path / "prompts" / spec["id"]
        prompt.mkdir(parents=True, exist_ok=True)
        (prompt / "system.j2").write_text(system)
        (prompt / "user.j2").write_text(user)
        return load_model_file(path, TaskConfig)

    return _make


@pytest.fixture
def classification_spec():
    return _classification_spec


def _classification_spec(task_id: str, files: dict, loader: str = "csv", **extra) -> dict:
    spec = {"id": task_id, "name": task_id, "task_type": "classification", "metric": "macro_f1",
            "max_output_tokens": 8,
            "source": {"offline": {"loader": loader, "dir": "data", "files": files, "text_field": "text",
                                   "label_field": "label"}},
            "sampling": {"seed": 1, "val_size": 4,
                         "train": {"total_cap": 20, "min_per_group": 2}, "test": {"total_cap": 9, "min_per_group": 1}},
            "n_shots": 3}
    spec.update(extra)
    return spec
