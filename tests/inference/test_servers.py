import os
import sys
import time
from pathlib import Path

import pytest
from inf_helpers import RUN_KW, make_requests
from inf_tiny_model import build_tiny_chat_model

from baseweight_assets.config.loader import load_bench_config
from baseweight_assets.inference.endpoint import Endpoint, resolve_api_endpoint
from baseweight_assets.inference.requests import build_requests
from baseweight_assets.inference.runner import run_predictions
from baseweight_assets.inference.servers import (ManagedServer, ServerStartError, TransformersServer,
                                                 vllm_serve_command)

REPO = Path(__file__).resolve().parents[2]
SMOLLM = REPO / ".cache" / "models" / "smollm2-135m"


def _gone(pid: int, wait_s: float = 5.0) -> bool:
    """True once ``pid`` is dead; SIGKILL is delivered asynchronously, so allow a moment under load."""
    deadline = time.monotonic() + wait_s
    while not _dead(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie still answers kill(0); it is dead if /proc says so
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "zombie" in status.read_text()


def _stand_in(base_url: str, model_path: Path) -> Endpoint:
    return Endpoint(base_url=base_url, model=str(model_path), api_key_env=None, served_by="transformers",
                    stand_in=True, supports_logprobs=False, supports_json_schema=False,
                    supports_guided_choice=False, identity=f"transformers|{model_path}")


@pytest.mark.slow
def test_transformers_serve_lifecycle_with_tiny_model(tmp_path):
    model = build_tiny_chat_model(tmp_path / "tiny")
    log_path = tmp_path / "serve.log"
    with TransformersServer(log_path, startup_timeout_s=120) as server:
        pid = server.proc.pid
        out = run_predictions(make_requests(["What color is the lime?", "And the sky?"], max_tokens=6),
                              _stand_in(server.base_url, model), tmp_path / "p.jsonl", log=lambda m: None,
                              **{**RUN_KW, "timeout_s": 60, "concurrency": 1})
    assert _gone(pid)
    assert all(r["error"] is None for r in out["rows"]), [r["error"] for r in out["rows"]]
    assert all(r["output_tokens"] == 6 and r["input_tokens"] > 10 for r in out["rows"])  # random weights: no EOS
    assert all(r["avg_logprob"] is None and r["stand_in"] for r in out["rows"])  # serve returns no logprobs
    assert "Uvicorn running" in log_path.read_text() or "Application startup" in log_path.read_text()


def test_server_that_exits_raises_with_its_log(tmp_path):
    cmd = [sys.executable, "-c", "import sys; print('cannot load model xyz'); sys.exit(3)"]
    with pytest.raises(ServerStartError, match="cannot load model xyz"):
        with ManagedServer(cmd, tmp_path / "log.txt", host="127.0.0.1", port=9, startup_timeout_s=10):
            pass


def test_unhealthy_server_times_out_and_leaves_no_process(tmp_path):
    cmd = [sys.executable, "-c", "import subprocess, sys, time; "
           "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
           "print('child', p.pid, flush=True); time.sleep(60)"]
    log = tmp_path / "log.txt"
    server = ManagedServer(cmd, log, host="127.0.0.1", port=9, startup_timeout_s=1.5)
    with pytest.raises(ServerStartError, match="not healthy after"):
        server.__enter__()
    grandchild = int(log.read_text().split("child", 1)[1].split()[0])
    assert server.proc is None and _gone(grandchild)


def test_keyboard_interrupt_while_starting_kills_the_group(tmp_path, monkeypatch):
    cmd = [sys.executable, "-c", "import time; time.sleep(60)"]
    server = ManagedServer(cmd, tmp_path / "log.txt", host="127.0.0.1", port=9, startup_timeout_s=30)
    pids = []
    real_healthy = server._healthy

    def interrupt():
        pids.append(server.proc.pid)
        raise KeyboardInterrupt

    monkeypatch.setattr(server, "_healthy", interrupt)
    with pytest.raises(KeyboardInterrupt):
        server.__enter__()
    assert real_healthy and _gone(pids[0])


def test_vllm_command_loads_every_adapter_with_the_right_rank(tmp_path):
    a = tmp_path / "banking"
    a.mkdir()
    (a / "adapter_config.json").write_text('{"r": 4}')
    b = tmp_path / "cuad"
    b.mkdir()
    (b / "adapter_config.json").write_text('{"r": 16, "rank_pattern": {"q_proj": 24}}')
    cmd = vllm_serve_command("Qwen/Qwen3-8B", "b968826", {"adapter_banking77": a, "adapter_cuad": b}, port=8123,
                             max_model_len=2560)
    assert cmd[:3] == ["vllm", "serve", "Qwen/Qwen3-8B"]
    assert cmd[cmd.index("--revision") + 1] == "b968826"
    assert cmd[cmd.index("--port") + 1] == "8123" and cmd[cmd.index("--max-model-len") + 1] == "2560"
    assert cmd[cmd.index("--dtype") + 1] == "bfloat16" and "--enable-lora" in cmd
    i = cmd.index("--lora-modules")
    assert cmd[i + 1: i + 3] == [f"adapter_banking77={a}", f"adapter_cuad={b}"]
    assert cmd[cmd.index("--max-lora-rank") + 1] == "32"
    assert "--enable-lora" not in vllm_serve_command("m", "r", {}, port=1, max_model_len=512)


class _Prompt:
    """Minimal stand-in for baseweight_assets.prompting.PromptTemplate (same interface)."""

    hash = "prompt-sha"

    def render_messages(self, example, few_shot=()):
        msgs = [{"role": "system", "content": "Classify the banking query. Reply with the intent only."}]
        for shot in few_shot:
            msgs += [{"role": "user", "content": shot["fields"]["text"]},
                     {"role": "assistant", "content": shot["target"]}]
        return msgs + [{"role": "user", "content": example["fields"]["text"]}]


def _prepared():
    def ex(i, text, label):
        return {"id": f"b-{i}", "question_id": f"b-{i}", "group": label, "fields": {"text": text},
                "target": label, "gold": label, "meta": {}}
    pool = [ex(1, "My card has not arrived yet", "card_arrival"), ex(2, "How do I top up?", "top_up"),
            ex(3, "Is there an exchange fee?", "exchange_charge"), ex(4, "not in any seed", "top_up")]
    return {"task": "banking77", "labels": ["card_arrival", "exchange_charge", "top_up"],
            "splits": {"train": [], "val": [], "test_pool": pool,
                       "few_shot": [ex(9, "Where is my new card?", "card_arrival")]},
            "test_seeds": [["b-1", "b-2"], ["b-2", "b-3"]], "few_shot_hash": "fs-sha", "prompt_hash": "prompt-sha"}


@pytest.mark.slow
def test_real_transformers_serve_with_smollm2_end_to_end(tmp_path):
    if not (SMOLLM / "model.safetensors").exists():
        pytest.skip(f"small model folder {SMOLLM} is missing (built by the setup command)")
    config = load_bench_config(REPO / "configs")
    task, api_model = config.tasks["banking77"], config.models["gpt-5.4-nano"]
    os.environ.pop(api_model.api_key_env, None)
    log_path = tmp_path / "serve.log"
    with TransformersServer(log_path) as server:
        endpoint = resolve_api_endpoint(api_model, stand_in_url=server.base_url, stand_in_model=str(SMOLLM))
        reqs = build_requests(task, _prepared(), _Prompt(), api_model, "5-shot", max_tokens=12, constrained=True,
                              endpoint=endpoint)
        out = run_predictions(reqs, endpoint, tmp_path / "p.jsonl", task_id="banking77", model_id="gpt-5.4-nano",
                              condition="5-shot", concurrency=2, timeout_s=120, max_attempts=2, warmup=1,
                              price=config.pricing.api["gpt-5.4-nano"], spend_cap_usd=1.0, rpm=None, tpm=None,
                              log=lambda m: None, latency_probe=1)
    assert [r["id"] for r in out["rows"]] == ["b-1", "b-2", "b-3"]
    assert all(r["error"] is None and r["output"].strip() for r in out["rows"]), out["rows"]
    assert all(0 < r["output_tokens"] <= 12 and r["input_tokens"] > 30 for r in out["rows"])
    assert all(r["stand_in"] and r["served_by"] == "transformers" and r["few_shot_hash"] == "fs-sha"
               for r in out["rows"])
    assert out["run"]["calls_made"] == 4 and out["run"]["ttft_p50_s"] is not None
