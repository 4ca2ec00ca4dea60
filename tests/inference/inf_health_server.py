"""A stand-in model server for the lifecycle tests: starts one worker process (as vLLM starts its engine workers)
and answers GET /health with 200 on 127.0.0.1:PORT. Usage: inf_health_server.py PORT"""

import subprocess
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
print("worker", worker.pid, flush=True)


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
