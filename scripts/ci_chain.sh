#!/usr/bin/env bash
# One complete chain of partitions through the real `dagster asset materialize` CLI on the smoke profile: FPB with the
# embedded model fine-tuned on a LoRA subset, from raw data to the dashboard. The steps are derived from the stage
# registry and the asset graph (python -m baseweight_assets.cli.chain), never written out here.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
export BASEWEIGHT_PROFILE=smoke
task=fpb
variant=smollm2-135m__lora-8
python -m baseweight_assets.cli.chain "$task" "$variant" > "${TMPDIR:-/tmp}/baseweight-chain.txt"
while IFS= read -r step; do
  echo "[chain] $step"
  eval "$step"
done < "${TMPDIR:-/tmp}/baseweight-chain.txt"
python - "$task" "$variant" <<'PY'
import json, sys
from baseweight_assets.settings import Settings
task, variant = sys.argv[1:]
path = Settings.from_env().paths.results / "local_scores" / task / f"{variant}.json"
scores = json.loads(path.read_text())
assert scores["status"] == "ok" and scores["metric"] is not None, scores.get("reason")
print(f"[chain] {path}: {scores['metric_id']} = {scores['metric']:.3f} (95% CI {scores['ci_lo']:.3f}-{scores['ci_hi']:.3f}, n={scores['n']})")
PY
