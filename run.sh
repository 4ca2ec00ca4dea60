#!/usr/bin/env bash
# Baseweight Bench front door.
#   ./run.sh              set up (idempotent) and run the main job: the whole graph on the embedded default
#   ./run.sh test         set up and run the test suite
#   ./run.sh setup        set up only
#   ./run.sh dev          open the Dagster UI on http://127.0.0.1:3000
set -euo pipefail
cd "$(dirname "$0")"
source scripts/env.sh
cmd="${1:-main}"; [ $# -gt 0 ] && shift
case "$cmd" in
  setup) scripts/setup.sh ;;
  main)  scripts/setup.sh && baseweight-run "$@" ;;
  test)  scripts/setup.sh && pytest "$@" ;;
  dev)   exec dagster dev -h 127.0.0.1 -p "${PORT:-3000}" ;;
  *) echo "usage: ./run.sh [main|test|setup|dev] [args...]" >&2; exit 2 ;;
esac
