"""Shared helpers for the scale-out tests (imported, not a conftest, so each test states what it uses)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("BASEWEIGHT_DATA_DIR") or REPO.parent / "shared" / "data")


def write_deployment(config_dir: Path, *, gpus: int = 1, node_selector: dict | None = None,
                     resource_name: str = "nvidia.com/gpu", hub_enabled: bool = False) -> Path:
    config_dir.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load((REPO / "configs" / "deployment.yaml").read_text())
    data["kubernetes"]["namespace"] = "bench-test"
    data["kubernetes"]["gpu_step"].update(gpus=gpus, resource_name=resource_name,
                                          node_selector=node_selector or {"gpu": "yes"})
    data["hub"]["enabled"] = hub_enabled
    path = config_dir / "deployment.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
