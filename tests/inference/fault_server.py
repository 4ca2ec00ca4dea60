"""A fault-injecting OpenAI-compatible chat server on 127.0.0.1 (stdlib only), for the inference tests.

A request's messages choose its faults: ``[429x2]`` fails the first two attempts with 429 + Retry-After,
then it answers. Faults: 429, 500, 400, stall (sleep past the client timeout), cut (stream dropped
mid-way), badjson (a malformed SSE chunk). Attempts are counted per distinct message list. ``[cachedN]`` reports
N prompt tokens as served from the prompt cache; ``[length]`` ends the answer with finish_reason "length".
A server built with ``api_key="..."`` answers every request that does not carry that bearer key with HTTP 401
and OpenAI's ``invalid_api_key`` error body (a revoked key).
Answers are deterministic; token counts are whitespace words (prompt: all message contents), so tests
can recompute them exactly. Run as a script (``python fault_server.py``) it prints its port and serves.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULT = re.compile(r"\[(429|500|400|stall|cut|badjson)x(\d+)\]")
CACHED = re.compile(r"\[cached(\d+)\]")
LOGPROB = -0.25


def expected_answer(messages: list[dict]) -> str:
    key = json.dumps(messages, sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()
    return " ".join(f"w{digest[i:i + 4]}" for i in range(0, 4 * (1 + int(digest[0], 16) % 4), 4))


def prompt_tokens(messages: list[dict]) -> int:
    return sum(len(str(m["content"]).split()) for m in messages)


def plan_for(messages: list[dict]) -> list[str]:
    plan: list[str] = []
    for kind, n in FAULT.findall(" ".join(str(m["content"]) for m in messages)):
        plan += [kind] * int(n)
    return plan


class FaultState:
    def __init__(self, *, retry_after: str = "0.2", stall_s: float = 3.0, delay_s: float = 0.0,
                 api_key: str | None = None) -> None:
        self.retry_after, self.stall_s, self.delay_s, self.api_key = retry_after, stall_s, delay_s, api_key
        self.lock = threading.Lock()
        self.attempts: dict[str, int] = {}
        self.completions = 0
        self.inflight = 0
        self.max_inflight = 0
        self.bodies: list[dict] = []
        self.auth_headers: set[str] = set()


def make_handler(state: FaultState):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # small SSE writes would otherwise wait on delayed ACKs (~40 ms)

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _json(self, code: int, obj: dict, headers: dict | None = None) -> None:
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path in ("/health", "/v1/health"):
                self._json(200, {"status": "ok"})
            else:
                self._json(200, {"object": "list", "data": []})

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def _event(self, obj: dict | str) -> None:
            self._chunk(b"data: " + (obj if isinstance(obj, str) else json.dumps(obj)).encode() + b"\n\n")

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            messages = body["messages"]
            key = json.dumps(messages, sort_keys=True)
            with state.lock:
                state.bodies.append(body)
                state.auth_headers.add(self.headers.get("Authorization", ""))
                attempt = state.attempts.get(key, 0)
                state.attempts[key] = attempt + 1
                state.inflight += 1
                state.max_inflight = max(state.max_inflight, state.inflight)
            try:
                if state.api_key is not None and self.headers.get("Authorization") != f"Bearer {state.api_key}":
                    return self._json(401, {"error": {"message": "Incorrect API key provided.",
                                                      "type": "invalid_request_error", "code": "invalid_api_key"}})
                plan = plan_for(messages)
                fault = plan[attempt] if attempt < len(plan) else None
                self._serve(body, messages, fault)
            finally:
                with state.lock:
                    state.inflight -= 1

        def _serve(self, body: dict, messages: list[dict], fault: str | None) -> None:
            if fault == "429":
                return self._json(429, {"error": {"message": "rate limited", "type": "rate_limit"}},
                                  {"Retry-After": state.retry_after})
            if fault == "500":
                return self._json(500, {"error": {"message": "boom", "type": "server_error"}})
            if fault == "400":
                return self._json(400, {"error": {"message": "bad request: context too long", "type": "invalid"}})
            if fault == "stall":
                time.sleep(state.stall_s)
            if state.delay_s:
                time.sleep(state.delay_s)
            words = expected_answer(messages).split(" ")
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            base = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
            self._event({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                              "finish_reason": None}]})
            for i, word in enumerate(words):
                text = word if i == 0 else " " + word
                lp = ({"content": [{"token": text, "logprob": LOGPROB, "bytes": None, "top_logprobs": []}]}
                      if body.get("logprobs") else None)
                self._event({**base, "choices": [{"index": 0, "delta": {"content": text}, "logprobs": lp,
                                                  "finish_reason": None}]})
                if fault == "cut" and i == 0:
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if fault == "badjson" and i == 0:
                    self._event('{"id": "c1", "choices": [{"delta": {"content": "x"')
            text = " ".join(str(m["content"]) for m in messages)
            finish = "length" if "[length]" in text else "stop"
            self._event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
            if (body.get("stream_options") or {}).get("include_usage"):
                n_in = prompt_tokens(messages)
                usage = {"prompt_tokens": n_in, "completion_tokens": len(words), "total_tokens": n_in + len(words)}
                if cached := CACHED.search(text):
                    usage["prompt_tokens_details"] = {"cached_tokens": int(cached.group(1))}
                self._event({**base, "choices": [], "usage": usage})
            self._event("[DONE]")
            self._chunk(b"")
            with state.lock:
                state.completions += 1

    return Handler


class FaultServer:
    """``with FaultServer() as s: s.base_url`` -> http://127.0.0.1:<port>/v1; ``s.state`` has the counters."""

    def __init__(self, **state_kwargs) -> None:
        self.state = FaultState(**state_kwargs)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.state))
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> FaultServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":
    server = FaultServer(delay_s=float(sys.argv[1]) if len(sys.argv) > 1 else 0.0)
    print(server.httpd.server_address[1], flush=True)
    server.httpd.serve_forever()
