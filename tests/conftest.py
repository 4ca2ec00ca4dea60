import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("BASEWEIGHT_DATA_DIR") or REPO_ROOT.parent / "shared" / "data")
SMALL_MODEL_DIR = REPO_ROOT / ".cache" / "models" / "smollm2-135m"


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (set BASEWEIGHT_DATA_DIR)")
    return SHARED_DATA
