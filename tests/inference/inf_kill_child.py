"""Child processes for the kill -9 tests.

``inf_kill_child.py BASE_URL STORE N``: runs predictions against the fault server until killed (or done).
``inf_kill_child.py --server LOG_PATH PIDS_JSON``: a step that starts a model server (inf_health_server.py, which
has a worker process), writes the pids of its watchdog, server and worker to PIDS_JSON once healthy, then waits
to be killed.
"""

import json
import sys
import time
from pathlib import Path

import psutil
from inf_helpers import RUN_KW, endpoint_for, make_requests

from baseweight_assets.inference.runner import run_predictions
from baseweight_assets.inference.servers import ManagedServer, free_port

HERE = Path(__file__).resolve().parent


def serve_until_killed(log_path: Path, pids_path: Path) -> None:
    port = free_port()
    with ManagedServer([sys.executable, str(HERE / "inf_health_server.py"), str(port)], log_path, host="127.0.0.1",
                       port=port, startup_timeout_s=60, stop_grace_s=2.0) as server:
        server_proc = psutil.Process(server.proc.pid).children()[0]
        worker = int(log_path.read_text().split("worker", 1)[1].split()[0])
        pids_path.write_text(json.dumps({"step": psutil.Process().pid, "watchdog": server.proc.pid,
                                         "server": server_proc.pid, "worker": worker}))
        time.sleep(300)


if __name__ == "__main__":
    if sys.argv[1] == "--server":
        serve_until_killed(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        base_url, store, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
        run_predictions(make_requests([f"question {i}" for i in range(n)]),
                        endpoint_for(base_url, api_key_env="OPENAI_API_KEY"), store, log=print,
                        **{**RUN_KW, "concurrency": 2})
