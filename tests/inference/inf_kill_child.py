"""Child process for the kill -9 test: runs predictions against the fault server until killed."""

import sys
from pathlib import Path

from inf_helpers import RUN_KW, endpoint_for, make_requests

from baseweight_assets.inference.runner import run_predictions

if __name__ == "__main__":
    base_url, store, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    run_predictions(make_requests([f"question {i}" for i in range(n)]), endpoint_for(base_url, api_key_env="OPENAI_API_KEY"),
                    store, log=print, **{**RUN_KW, "concurrency": 2})
