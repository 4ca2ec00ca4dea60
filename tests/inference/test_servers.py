import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from baseweight_assets.inference.servers import (ManagedServer, ServerStartError,
                                                 cleanup_stale_server, free_port, pidfile_for, sweep_stale_servers,
                                                 vllm_serve_command)
from baseweight_assets.storage.atomic import write_json
from baseweight_assets.storage.liveness import machine_token, process_token, start_centis

HERE = Path(__file__).resolve().parent
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
    with pytest.raises(ServerStartError, match="not ready after"):
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


def _start_step(tmp_path: Path) -> tuple[subprocess.Popen, dict, Path]:
    """A child 'step' that started a server (watchdog -> server -> worker) and now waits to be killed."""
    log, pids = tmp_path / "logs" / "serve.log", tmp_path / "pids.json"
    child = subprocess.Popen([sys.executable, str(HERE / "inf_kill_child.py"), "--server", str(log), str(pids)],
                             env={**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{REPO}"},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not pids.exists():
        assert child.poll() is None, child.stderr.read()
        assert time.monotonic() < deadline, "the step never reported a healthy server"
        time.sleep(0.05)
    return child, json.loads(pids.read_text()), log


def _kill9(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    proc.stderr.close()


def _next_server(log: Path, logs: list[str]) -> ManagedServer:
    port = free_port()
    return ManagedServer([sys.executable, str(HERE / "inf_health_server.py"), str(port)], log, host="127.0.0.1",
                         port=port, startup_timeout_s=60, stop_grace_s=2.0, log=logs.append)


def test_a_step_killed_with_sigkill_leaves_no_server_running(tmp_path):
    step, pids, _ = _start_step(tmp_path)
    assert not any(_dead(pids[k]) for k in ("watchdog", "server", "worker"))
    _kill9(step)
    # the watchdog hears of its parent's death (PR_SET_PDEATHSIG) and takes the whole group down
    assert all(_gone(pids[k], 15) for k in ("watchdog", "server", "worker")), pids


def test_next_step_stops_a_server_whose_watchdog_could_not_act(tmp_path):
    step, pids, log = _start_step(tmp_path)
    os.kill(pids["watchdog"], signal.SIGSTOP)  # frozen: it cannot react when its step dies
    try:
        _kill9(step)
        time.sleep(0.5)
        assert not _dead(pids["server"]) and not _dead(pids["worker"])  # left behind, holding port and memory
        logs: list[str] = []
        with _next_server(log, logs) as server:  # the next step of the partition, same log
            assert all(_gone(pids[k], 10) for k in ("watchdog", "server", "worker")), pids
            assert server._healthy()
            assert any("left behind by a dead step" in m and str(pids["worker"]) in m for m in logs), logs
        assert not pidfile_for(log).exists()  # a clean stop removes its own record
    finally:
        for pid in pids.values():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_workers_orphaned_by_a_killed_watchdog_are_stopped_by_the_sweep(tmp_path):
    step, pids, log = _start_step(tmp_path)
    os.kill(pids["watchdog"], signal.SIGKILL)  # the server dies with it (its own death signal) ...
    _kill9(step)
    assert _gone(pids["server"], 10)
    try:
        assert not _dead(pids["worker"])  # ... but its worker was re-parented and lives on
        logs: list[str] = []
        assert sweep_stale_servers(tmp_path / "logs", logs.append) == [pids["worker"]]
        assert _gone(pids["worker"], 10) and not pidfile_for(log).exists()
    finally:
        try:
            os.kill(pids["worker"], signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_pidfile_is_acted_on_only_for_the_same_process_and_a_dead_owner(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    pidfile = tmp_path / "serve.log.pid"
    dead_owner = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                                text=True).stdout.strip()
    started = start_centis(sleeper.pid)
    try:
        record = {"pgid": sleeper.pid, "owner": f"{dead_owner}-1-{machine_token()}", "machine": machine_token(),
                  "command": ["vllm", "serve"]}
        write_json(pidfile, {**record, "members": [[sleeper.pid, started - 500]]})  # the pid was reused since
        assert cleanup_stale_server(pidfile, lambda m: None) == [] and not _dead(sleeper.pid)
        write_json(pidfile, {**record, "owner": process_token(), "members": [[sleeper.pid, started]]})
        assert cleanup_stale_server(pidfile, lambda m: None) == [] and not _dead(sleeper.pid)  # its step lives
        write_json(pidfile, {**record, "machine": "0badf00d", "members": [[sleeper.pid, started]]})
        assert cleanup_stale_server(pidfile, lambda m: None) == [] and not _dead(sleeper.pid)  # another host's
        pidfile.write_text("12345\n")  # a pidfile some other program wrote: neither parsed as ours nor deleted
        assert cleanup_stale_server(pidfile, lambda m: None) == [] and pidfile.read_text() == "12345\n"
        write_json(pidfile, {**record, "members": [[sleeper.pid, started]]})
        assert cleanup_stale_server(pidfile, lambda m: None) == [sleeper.pid]
        assert _gone(sleeper.pid) and not pidfile.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


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
