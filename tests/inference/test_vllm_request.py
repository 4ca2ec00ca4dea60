"""The exact request a vLLM server receives from a LoRA cell (the fields of the pinned vLLM release): the adapter by
name, greedy, max_tokens, logprobs, the closed-label constraint as ``structured_outputs.choice`` and the chat
template switch. Sent through the real HTTP backend to a recording OpenAI-compatible server."""

from __future__ import annotations

from pathlib import Path

from fault_server import FaultServer

from baseweight_assets.config.loader import load_bench_config
from baseweight_assets.inference.backends import Adapter, local_answerers
from baseweight_assets.inference.cell import predict_cell
from test_servers import REPO, _prepared, _Prompt

CONFIG = load_bench_config(REPO / "configs")


def test_a_lora_cell_sends_vllm_its_adapter_name_and_structured_outputs(tmp_path):
    model = CONFIG.models["qwen3-8b"]
    task = CONFIG.tasks["banking77"]
    weights = {"hf_id": model.hf_id, "revision": model.revision, "weights": "snapshot"}
    adapters = [Adapter(0, tmp_path / "a0", "sha0"), Adapter(1, tmp_path / "a1", "sha1")]
    http = dict(concurrency=2, timeout_s=5.0, max_attempts=2, warmup=0, price=None, spend_cap_usd=None, rpm=None,
                tpm=None)
    with FaultServer() as server:
        with local_answerers(model, Path("/models/qwen3-8b"), weights, adapters, task_id="banking77",
                             variant="qwen3-8b__lora-500", vllm_url=server.base_url, server_log=tmp_path / "log",
                             http_kwargs=http) as answerers:
            value = predict_cell(task=task, prepared=_prepared(), prompt=_Prompt(), model=model,
                                 condition="lora-500", answerers=answerers, store_path=tmp_path / "p.jsonl",
                                 max_tokens=32, constrained=True, latency_probe=1, variant="qwen3-8b__lora-500",
                                 log=lambda m: None)
        bodies = list(server.state.bodies)
    assert {b["model"] for b in bodies} == {"banking77--qwen3-8b__lora-500", "banking77--qwen3-8b__lora-500--seed1"}
    body = next(b for b in bodies if b["model"] == "banking77--qwen3-8b__lora-500")
    assert body["temperature"] == 0 and body["max_tokens"] == 32 and body["logprobs"] is True
    assert body["structured_outputs"] == {"choice": ["card_arrival", "exchange_charge", "top_up"]}
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert "response_format" not in body and "guided_choice" not in body  # removed from vLLM >= 0.12
    assert sorted({r["seed"] for r in value["rows"]}) == [0, 1] and value["seeds"] == [0, 1]
    assert all(r["served_by"] == "vllm" and r["error"] is None for r in value["rows"])
