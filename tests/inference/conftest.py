import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
HERE = Path(__file__).resolve().parent
for p in (HERE, HERE.parent.parent):  # fault_server / inf_helpers, and the repo root (baseweight_assets)
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
