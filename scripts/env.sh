# Sourced by run.sh and .ci/run: the environment every command of this repo runs in.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"     # 2 torch threads run 5-10x slower on small CPUs
export TOKENIZERS_PARALLELISM=false
export HF_HOME="${HF_HOME:-$REPO_ROOT/.cache/huggingface}"
export BASEWEIGHT_PROFILE="${BASEWEIGHT_PROFILE:-smoke}"
# One Dagster instance per profile (run history, partition status), sharing the committed instance config.
export DAGSTER_HOME="${DAGSTER_HOME:-$REPO_ROOT/.dagster_home/$BASEWEIGHT_PROFILE}"
if [ ! -e "$DAGSTER_HOME/dagster.yaml" ] && [ "$DAGSTER_HOME" = "$REPO_ROOT/.dagster_home/$BASEWEIGHT_PROFILE" ]; then
  mkdir -p "$DAGSTER_HOME" && ln -s ../dagster.yaml "$DAGSTER_HOME/dagster.yaml"
fi
export BASEWEIGHT_DATA_DIR="${BASEWEIGHT_DATA_DIR:-$REPO_ROOT/../shared/data}"
# No Hub unless asked for: BASEWEIGHT_USE_HUB=1 (and network) switches raw data and real models to the Hub.
if [ "${BASEWEIGHT_USE_HUB:-0}" != "1" ]; then export HF_HUB_OFFLINE=1; fi
export PATH="$REPO_ROOT/.venv/bin:$PATH"
