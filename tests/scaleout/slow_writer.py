"""Child process for test_atomic_writes: writes a JSON artifact that stalls half-way (then gets kill -9)."""

import sys
import time
from pathlib import Path

from baseweight_assets.storage.atomic import write_json


class Stall:
    """json.dump asks the artifact writer's default hook for ``item()``; we block there, mid-file."""

    def item(self):
        Path(sys.argv[2]).write_text("stalled")
        time.sleep(60)
        return 0


rows = [{"id": i, "text": "x" * 200} for i in range(20000)]  # ~4 MB: flushed to disk before the stall
write_json(Path(sys.argv[1]), {"rows": rows, "tail": Stall()})
