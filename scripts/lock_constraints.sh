#!/usr/bin/env bash
# Re-resolve an environment's exact package set from pyproject.toml's ranges: scripts/lock_constraints.sh cpu|gpu
# (pip's resolver in a throwaway venv, --dry-run: nothing is installed). CPU: the [test] extra over torch 2.13.0's
# CPU build. GPU: the [gpu,test] extras with the versions vLLM 0.33 and Unsloth 2026.10.9 allow.
set -euo pipefail
cd "$(dirname "$0")/.."
env_name="${1:?usage: $0 cpu|gpu}"
case "$env_name" in
  cpu) extras="test"; roots=("torch==2.13.0") ;;
  gpu) extras="gpu,test"; roots=("torch==2.14.0" "transformers==5.17.0" "trl==1.15.0") ;;
  *) echo "unknown environment $env_name (cpu|gpu)" >&2; exit 2 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --upgrade pip
"$tmp/venv/bin/pip" install -q --dry-run --ignore-installed --report "$tmp/report.json" -e ".[$extras]" "${roots[@]}"
out="constraints/$env_name.txt"
{ sed -n '/^#/p' "$out" 2>/dev/null
  python3 -c 'import json, sys
for i in sorted(json.load(open(sys.argv[1]))["install"], key=lambda i: i["metadata"]["name"].lower()):
    name, version = i["metadata"]["name"], i["metadata"]["version"].split("+")[0]
    if name.lower() not in ("baseweight-assets", "setuptools"):
        print(f"{name}=={version}")' "$tmp/report.json"; } > "$tmp/out.txt"
mv "$tmp/out.txt" "$out"
echo "wrote $out ($(grep -vc '^#' "$out") packages)"
