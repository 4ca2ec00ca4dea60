"""``python -m baseweight_assets.models.embedded_cli``: fetch and convert every embedded model (idempotent)."""

from __future__ import annotations

import sys
from pathlib import Path

from baseweight_assets.config.loader import load_bench_config
from baseweight_assets.models.embedded import ensure_embedded_model
from baseweight_assets.paths import REPO_ROOT, ProjectPaths


def main(argv: list[str] | None = None) -> int:
    bench = load_bench_config(REPO_ROOT / "configs", REPO_ROOT / "prompts")
    cache = ProjectPaths(REPO_ROOT).models_cache
    for model in bench.models.values():
        if model.embedded_weights is not None:
            folder = ensure_embedded_model(model, Path(cache), log=lambda m: print(f"[setup] {m}"))
            print(f"[setup] embedded model {model.id}: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
