import json
from types import SimpleNamespace

from inf_helpers import make_requests

from baseweight_assets.config.schema import ApiPrice
from baseweight_assets.inference.batch import build_batch_jsonl, collect_batch, submit_batch
from baseweight_assets.inference.endpoint import Endpoint
from baseweight_assets.inference.requests import request_hash
from baseweight_assets.inference.structured import label_json_schema

EP = Endpoint(base_url="https://api.openai.com/v1", model="gpt-5.4-nano", api_key_env="OPENAI_API_KEY",
              served_by="openai", stand_in=False, supports_logprobs=True, supports_json_schema=True,
              supports_guided_choice=False, identity="openai|x|gpt-5.4-nano")
PRICE = ApiPrice(input_per_1m=0.2, output_per_1m=1.25, effective_from="2026-05", source="test")


class FakeClient:
    """Records calls; serves one output file and one error file."""

    def __init__(self, status="completed", outputs="", errors=""):
        self.created, self.uploaded, self._status = [], [], status
        self.contents = {"out": outputs, "err": errors}
        self.batches = SimpleNamespace(list=lambda limit: list(self.created), create=self._create,
                                       retrieve=lambda bid: SimpleNamespace(id=bid, status=self._status,
                                                                            output_file_id="out", error_file_id="err"))
        self.files = SimpleNamespace(create=self._upload, content=lambda fid: SimpleNamespace(text=self.contents[fid]))

    def _upload(self, file, purpose):
        self.uploaded.append((file[0], file[1].read().decode(), purpose))
        return SimpleNamespace(id=f"file-{len(self.uploaded)}")

    def _create(self, **kw):
        batch = SimpleNamespace(id=f"batch-{len(self.created)}", status="validating", **kw)
        self.created.append(batch)
        return batch


def _requests():
    reqs = make_requests(["first", "second", "third", "fourth"])
    return [r.__class__(**{**r.__dict__, "response_format": label_json_schema(["a", "b"])}) for r in reqs]


def test_batch_file_holds_exact_non_streaming_bodies_and_submit_is_idempotent(tmp_path):
    reqs = _requests()
    text, fingerprint = build_batch_jsonl(reqs, EP)
    lines = [json.loads(x) for x in text.splitlines()]
    assert [x["custom_id"] for x in lines] == [request_hash(r, EP) for r in reqs]
    body = lines[0]["body"]
    assert body["max_completion_tokens"] == 16 and body["temperature"] == 0 and "stream" not in body
    assert body["response_format"]["json_schema"]["schema"]["properties"]["label"]["enum"] == ["a", "b"]
    client = FakeClient()
    first = submit_batch(client, reqs, EP, tmp_path / "batch.jsonl")
    again = submit_batch(client, reqs, EP, tmp_path / "batch.jsonl")
    assert first == again and len(client.uploaded) == 1 and client.uploaded[0][1] == text
    assert client.created[0].metadata == {"baseweight_fingerprint": fingerprint}


def test_collect_maps_results_errors_and_no_shows_to_rows(tmp_path):
    reqs = _requests()
    h = [request_hash(r, EP) for r in reqs]

    def ok(i, content, lp=None):
        choice = {"message": {"content": content}, "logprobs": {"content": [{"logprob": v} for v in lp]} if lp else None}
        return json.dumps({"custom_id": h[i], "response": {"status_code": 200, "body": {
            "choices": [choice], "usage": {"prompt_tokens": 100 + i, "completion_tokens": 7}}}})
    outputs = "\n".join([ok(0, '{"label": "a"}', [-0.5, -1.5]), ok(1, "not json at all"),
                         json.dumps({"custom_id": h[2], "response": {"status_code": 200, "body": {"choices": []}}})])
    errors = json.dumps({"custom_id": h[3], "response": {"status_code": 400, "body": {"error": {"message": "bad"}}}})
    client = FakeClient(outputs=outputs, errors=errors)
    assert collect_batch(FakeClient(status="in_progress"), "b", reqs, EP, task_id="t", model_id="m",
                         condition="zero-shot", price=PRICE, batch_discount=0.5) is None
    out = collect_batch(client, "batch-0", reqs, EP, task_id="t", model_id="m", condition="zero-shot", price=PRICE,
                        batch_discount=0.5)
    rows = out["rows"]
    assert [r["id"] for r in rows] == [r.example_id for r in reqs]
    assert rows[0]["output"] == "a" and rows[0]["avg_logprob"] == -1.0 and rows[0]["input_tokens"] == 100
    assert rows[1]["output"] == "not json at all" and rows[1]["error"] is None
    assert rows[2]["error"].startswith("malformed batch result") and rows[3]["error"].startswith("status 400")
    assert all(r["served_by"] == "openai-batch" and r["latency_s"] is None for r in rows)
    full = (201 * 0.2 + 14 * 1.25) / 1e6
    assert abs(out["run"]["spend_usd"] - full * 0.5) < 1e-12
