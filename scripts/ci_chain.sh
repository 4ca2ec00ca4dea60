#!/usr/bin/env bash
# One complete chain of partitions, raw data to scores, through the real `dagster asset materialize` CLI
# on the smoke profile: FPB with the embedded model fine-tuned on the lora-500 subset.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
export BASEWEIGHT_PROFILE=smoke
task=fpb
variant=smollm2-135m__lora-500
m() { echo "[chain] dagster asset materialize --select $1 --partition $2"; dagster asset materialize -m baseweight_assets.definitions --select "$1" --partition "$2"; }
m raw_dataset,prepared_splits "$task"
m lora_adapter "$task|$variant"
m local_predictions "$task|$variant"
m scores "$task|$variant"
python - "$task" "$variant" <<'PY'
import json, sys
from baseweight_assets.paths import ProjectPaths, REPO_ROOT
task, variant = sys.argv[1:]
path = ProjectPaths(REPO_ROOT, "smoke").results / "scores" / task / f"{variant}.json"
scores = json.loads(path.read_text())
assert scores["status"] == "ok" and scores["metric"] is not None, scores.get("reason")
print(f"[chain] {path}: {scores['metric_id']} = {scores['metric']:.3f} (95% CI {scores['ci_lo']:.3f}-{scores['ci_hi']:.3f}, n={scores['n']})")
PY
