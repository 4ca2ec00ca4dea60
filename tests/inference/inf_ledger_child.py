"""Child process for the run-wide spend cap test: one partition of a main run, sharing the run's spend ledger.

Usage: inf_ledger_child.py BASE_URL STORE LEDGER CAP_USD PREFIX N   (prints the result's run JSON, or STOPPED ...)
"""

import json
import sys
from pathlib import Path

from inf_helpers import RUN_KW, endpoint_for, make_requests

from baseweight_assets.config.schema import ApiPrice
from baseweight_assets.inference.runner import run_predictions
from baseweight_assets.inference.spend import SpendCapReached, SpendLedger

# $1 per token: a call reserves (estimated prompt + 16 max output tokens) dollars and costs its real tokens.
PRICE = ApiPrice(input_per_1m=1e6, output_per_1m=1e6, effective_from="x", source="test")

if __name__ == "__main__":
    base_url, store, ledger_path, cap, prefix, n = sys.argv[1:7]
    requests = make_requests([f"{prefix} question {i}" for i in range(int(n))])
    try:
        out = run_predictions(requests, endpoint_for(base_url, served_by="openai"), Path(store), log=lambda m: None,
                              **{**RUN_KW, "price": PRICE, "spend_cap_usd": None, "concurrency": 2},
                              ledger=SpendLedger(Path(ledger_path), float(cap)))
        print(json.dumps({"stopped": False, **out["run"]}))
    except SpendCapReached as exc:
        print(json.dumps({"stopped": True, **exc.result["run"]}))
