import json
from types import SimpleNamespace

import pytest
from inf_helpers import make_requests

from baseweight_assets.config.schema import ApiPrice
from baseweight_assets.inference.batch import (BatchNotFinished, build_batch_jsonl, collect_batch,
                                               run_batch_predictions, submit_batch)
from baseweight_assets.inference.spend import SpendCapReached, SpendLedger
from baseweight_assets.inference.store import PredictionStore
from baseweight_assets.inference.endpoint import Endpoint
from baseweight_assets.inference.requests import request_hash
from baseweight_assets.inference.runner import ROW_FIELDS
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


def test_batch_errors_never_quote_the_key_the_client_sends():
    reqs = _requests()[:2]
    h = [request_hash(r, EP) for r in reqs]
    key = "org-unshaped-key-0123456789"  # not sk-shaped: only the client's own key can mask it
    echo = {"message": f"Incorrect API key provided: {key}", "code": "invalid_api_key"}
    errors = json.dumps({"custom_id": h[0], "response": {"status_code": 401, "body": {"error": echo}}})
    client = FakeClient(errors=errors)
    client.api_key = key
    failed_batch = SimpleNamespace(id="b", status="failed", output_file_id=None, error_file_id="err",
                                   errors=SimpleNamespace(data=[SimpleNamespace(code="auth", message=f"bad key {key}")]))
    client.batches.retrieve = lambda bid: failed_batch
    rows = collect_batch(client, "b", reqs, EP, task_id="t", model_id="m", condition="zero-shot", price=PRICE,
                         batch_discount=0.5)["rows"]
    assert rows[0]["error"].startswith("status 401") and "Incorrect API key provided: ***" in rows[0]["error"]
    assert rows[1]["error"] == "no result in batch b (status failed): auth: bad key ***"
    assert key not in json.dumps(rows)


# --------------------------------------------------------------------------- run_batch_predictions

CACHED_PRICE = ApiPrice(input_per_1m=0.2, output_per_1m=1.25, cached_input_per_1m=0.02, effective_from="2026-05",
                        source="test")


class FakeOpenAI:
    """The files + batches API of ``openai.OpenAI``, answering each submitted line like the real service.

    ``statuses`` is the sequence of statuses each new batch reports on successive retrieves (the last sticks).
    ``answer(custom_id, body)`` returns ("ok", content, usage) | ("fail", status_code, message) | None (no line:
    the batch expired before reaching it; it then appears in the error file as batch_expired)."""

    def __init__(self, statuses=("validating", "in_progress", "completed"), answer=None):
        self.statuses, self.answer = list(statuses), answer or self._label_a
        self.files_store, self.batches_store, self.uploads, self.retrieves = {}, {}, [], 0
        self.batches = SimpleNamespace(list=self._list, create=self._create, retrieve=self._retrieve)
        self.files = SimpleNamespace(create=self._upload,
                                     content=lambda fid: SimpleNamespace(text=self.files_store[fid]))

    @staticmethod
    def _label_a(custom_id, body):
        return "ok", '{"label": "a"}', {"prompt_tokens": 100, "completion_tokens": 5,
                                        "prompt_tokens_details": {"cached_tokens": 60}}

    def _upload(self, file, purpose):
        assert purpose == "batch"
        fid = f"file-in-{len(self.uploads)}"
        self.files_store[fid] = file[1].read().decode()
        self.uploads.append(fid)
        return SimpleNamespace(id=fid)

    def _create(self, *, input_file_id, endpoint, completion_window, metadata):
        bid = f"batch-{len(self.batches_store)}"
        self.batches_store[bid] = {"id": bid, "input": input_file_id, "metadata": metadata,
                                   "script": list(self.statuses), "status": None}
        return SimpleNamespace(id=bid, status="validating", metadata=metadata)

    def _list(self, limit):
        return [SimpleNamespace(id=b["id"], status=b["status"] or b["script"][0], metadata=b["metadata"])
                for b in reversed(self.batches_store.values())]

    def _retrieve(self, bid):
        self.retrieves += 1
        b = self.batches_store[bid]
        b["status"] = b["script"].pop(0) if len(b["script"]) > 1 else b["script"][0]
        out = err = None
        if b["status"] in ("completed", "expired", "failed"):
            out, err = self._results(b)
        return SimpleNamespace(id=bid, status=b["status"], output_file_id=out, error_file_id=err, errors=None)

    def _results(self, b):
        ok, bad = [], []
        for line in self.files_store[b["input"]].splitlines():
            item = json.loads(line)
            got = self.answer(item["custom_id"], item["body"]) if b["status"] != "failed" else None
            if got is None:
                bad.append({"custom_id": item["custom_id"], "response": None,
                            "error": {"code": "batch_expired", "message": "not executed before the window ended"}})
            elif got[0] == "ok":
                ok.append({"custom_id": item["custom_id"], "response": {"status_code": 200, "body": {
                    "choices": [{"message": {"content": got[1]}, "finish_reason": "stop"}], "usage": got[2]}},
                    "error": None})
            else:
                bad.append({"custom_id": item["custom_id"], "response": {
                    "status_code": got[1], "body": {"error": {"message": got[2]}}}, "error": None})
        self.files_store[f"{b['id']}-out"] = "\n".join(json.dumps(x) for x in ok)
        self.files_store[f"{b['id']}-err"] = "\n".join(json.dumps(x) for x in bad)
        return f"{b['id']}-out", f"{b['id']}-err"


RUN = dict(task_id="t", model_id="gpt-5.4-nano", condition="zero-shot", price=CACHED_PRICE, batch_discount=0.5,
           poll_interval_s=0.0, log=lambda m: None)


def _submitted_ids(client, upload):
    return [json.loads(x)["custom_id"] for x in client.files_store[upload].splitlines()]


def test_batch_mode_submits_once_polls_and_writes_rows_to_the_store(tmp_path):
    reqs = _requests()
    h = [request_hash(r, EP) for r in reqs]
    store_path = tmp_path / "store" / "gpt-5.4-nano__zero-shot.jsonl"

    def answer(custom_id, body):  # the third request is a bad line: the API rejects it
        if custom_id == h[2]:
            return "fail", 400, "Invalid 'messages'"
        return FakeOpenAI._label_a(custom_id, body)
    client = FakeOpenAI(answer=answer)
    out = run_batch_predictions(reqs, EP, store_path, client=client, timeout_s=60, **RUN)

    assert len(client.uploads) == 1 and len(client.batches_store) == 1 and client.retrieves >= 3  # polled
    rows = out["rows"]
    assert [r["request_hash"] for r in rows] == h and all(set(r) == set(ROW_FIELDS) for r in rows)
    assert rows[0]["finish_reason"] == "stop" and rows[2]["finish_reason"] is None
    assert all(r["served_by"] == "openai-batch" and r["latency_s"] is None and r["variant"] ==
               "gpt-5.4-nano__zero-shot" for r in rows)
    assert [r["output"] for r in rows] == ["a", "a", None, "a"]
    assert rows[2]["error"].startswith("status 400") and "Invalid 'messages'" in rows[2]["error"]
    assert rows[0]["input_tokens"] == 100 and rows[0]["cached_input_tokens"] == 60 and rows[0]["output_tokens"] == 5
    # per answered row: 40 x 0.2/1M + 60 x 0.02/1M + 5 x 1.25/1M = 15.45e-6, x3 rows, half off for the Batch API
    assert out["run"]["spend_usd"] == pytest.approx(3 * 15.45e-6 * 0.5)
    assert out["run"]["served_by"] == "openai-batch" and out["run"]["batch"] is True
    assert out["run"]["calls_made"] == 4 and out["run"]["cache_hits"] == 0 and out["run"]["errors"] == 1
    assert out["run"]["latency_p50_s"] is None and out["run"]["batch_status"] == "completed"
    stored = PredictionStore(store_path).load()
    assert set(stored) == set(h) and stored[h[2]]["error"] and stored[h[0]]["output"] == "a"

    # rerun: the three answered rows are skipped; only the failed line goes into a new batch
    client.answer = FakeOpenAI._label_a
    again = run_batch_predictions(reqs, EP, store_path, client=client, timeout_s=60, **RUN)
    assert len(client.uploads) == 2 and _submitted_ids(client, client.uploads[1]) == [h[2]]
    assert again["run"]["cache_hits"] == 3 and again["run"]["calls_made"] == 1 and again["run"]["errors"] == 0
    assert [r["output"] for r in again["rows"]] == ["a"] * 4
    lines = store_path.read_text().splitlines()
    assert len(lines) == 4  # the superseded error row was dropped: one row per request

    # third run: everything answered, nothing submitted, nothing polled
    retrieves = client.retrieves
    third = run_batch_predictions(reqs, EP, store_path, client=client, timeout_s=60, **RUN)
    assert len(client.uploads) == 2 and client.retrieves == retrieves
    assert third["run"]["calls_made"] == 0 and third["run"]["cache_hits"] == 4 and third["run"]["spend_usd"] == 0


def test_timeout_is_resumable_and_finds_the_same_batch(tmp_path):
    reqs = _requests()
    store_path = tmp_path / "s.jsonl"
    client = FakeOpenAI(statuses=("validating", "in_progress", "in_progress", "in_progress", "completed"))
    with pytest.raises(BatchNotFinished) as err:
        run_batch_predictions(reqs, EP, store_path, client=client, timeout_s=0, **RUN)
    msg = str(err.value)
    assert "batch-0" in msg and "rerun to resume" in msg and "t/gpt-5.4-nano__zero-shot" in msg
    assert not store_path.exists() and len(client.uploads) == 1
    # rerun (the record beside the store names the batch): no second upload, rows collected when it completes
    out = run_batch_predictions(reqs, EP, store_path, client=client, timeout_s=60, **RUN)
    assert len(client.uploads) == 1 and len(client.batches_store) == 1
    assert out["run"]["batch_id"] == "batch-0" and [r["output"] for r in out["rows"]] == ["a"] * 4


def test_resume_without_the_local_record_finds_the_batch_by_its_metadata(tmp_path):
    reqs = _requests()
    store_path = tmp_path / "s.jsonl"
    client = FakeOpenAI(statuses=("in_progress", "in_progress", "completed"))
    with pytest.raises(BatchNotFinished):
        run_batch_predictions(reqs, EP, store_path, client=client, timeout_s=0, **RUN)
    record = store_path.with_name(store_path.name + ".batch.jsonl.submitted.json")
    assert json.loads(record.read_text())["batches"] == [
        {"batch_id": "batch-0", "fingerprint": client.batches_store["batch-0"]["metadata"]["baseweight_fingerprint"],
         "collected": False}]
    record.unlink()  # e.g. killed between create and writing the record
    out = run_batch_predictions(reqs, EP, store_path, client=client, timeout_s=60, **RUN)
    assert len(client.uploads) == 1 and out["run"]["batch_id"] == "batch-0"


def test_expired_batch_keeps_what_finished_and_the_rerun_submits_only_the_rest(tmp_path):
    reqs = _requests()
    h = [request_hash(r, EP) for r in reqs]
    store_path = tmp_path / "s.jsonl"
    client = FakeOpenAI(statuses=("in_progress", "expired"),
                        answer=lambda cid, body: FakeOpenAI._label_a(cid, body) if cid in h[:2] else None)
    out = run_batch_predictions(reqs, EP, store_path, client=client, timeout_s=60, **RUN)
    assert out["run"]["batch_status"] == "expired"
    assert [r["output"] for r in out["rows"]] == ["a", "a", None, None]
    assert all("batch_expired" in r["error"] for r in out["rows"][2:])
    assert out["run"]["spend_usd"] == pytest.approx(2 * 15.45e-6 * 0.5)  # only what ran is paid
    # rerun: the expired batch is never reused; a new one carries only the two unanswered requests
    client.statuses, client.answer = ["completed"], FakeOpenAI._label_a
    again = run_batch_predictions(reqs, EP, store_path, client=client, timeout_s=60, **RUN)
    assert len(client.batches_store) == 2 and _submitted_ids(client, client.uploads[1]) == h[2:]
    assert [r["output"] for r in again["rows"]] == ["a"] * 4 and again["run"]["cache_hits"] == 2


def test_spend_cap_refuses_a_new_batch_before_uploading(tmp_path):
    reqs = _requests()
    client = FakeOpenAI()
    expensive = ApiPrice(input_per_1m=1e6, output_per_1m=1e6, effective_from="x", source="test")
    with pytest.raises(SpendCapReached, match="nothing submitted") as err:
        run_batch_predictions(reqs, EP, tmp_path / "s.jsonl", client=client, timeout_s=60, spend_cap_usd=1.0,
                              **{**RUN, "price": expensive})
    assert client.uploads == [] and err.value.result["rows"] == []


def test_a_batch_draws_on_the_runs_shared_ledger(tmp_path):
    """The worst case is reserved on the run's ledger at submission and replaced by the billed cost at collection;
    a batch that does not fit what is left of the run's cap is not submitted."""
    reqs = _requests()
    ledger = SpendLedger(tmp_path / "spend" / "run.json", cap_usd=1.0)
    out = run_batch_predictions(reqs, EP, tmp_path / "s.jsonl", client=FakeOpenAI(), timeout_s=60, ledger=ledger,
                                **RUN)
    totals = ledger.totals()
    assert out["run"]["spend_usd"] > 0 and totals["reserved_usd"] == 0
    assert totals["spent_usd"] == pytest.approx(out["run"]["spend_usd"])
    assert ledger.try_reserve(1.0 - totals["spent_usd"] - 1e-9) is not None  # the rest of the cap is now taken
    client = FakeOpenAI()
    with pytest.raises(SpendCapReached, match="left of the run's spend cap"):
        run_batch_predictions(reqs, EP, tmp_path / "other.jsonl", client=client, timeout_s=60, ledger=ledger, **RUN)
    assert client.uploads == []


def test_bad_arguments_and_duplicates_are_refused(tmp_path):
    reqs = _requests()
    with pytest.raises(ValueError, match="duplicate requests"):
        run_batch_predictions(reqs + reqs[:1], EP, tmp_path / "s.jsonl", client=FakeOpenAI(), timeout_s=1, **RUN)
    with pytest.raises(ValueError, match="timeout_s"):
        run_batch_predictions(reqs, EP, tmp_path / "s.jsonl", client=FakeOpenAI(), timeout_s=-1, **RUN)


def test_a_second_run_of_the_partition_waits_for_the_store_and_submits_nothing(tmp_path):
    from baseweight_assets.storage.locks import LockTimeout

    store_path = tmp_path / "s.jsonl"
    client = FakeOpenAI()
    with PredictionStore(store_path):  # another run holds the partition's store
        with pytest.raises(LockTimeout, match="s.jsonl"):
            run_batch_predictions(_requests(), EP, store_path, client=client, timeout_s=60, lock_timeout_s=0.1,
                                  **RUN)
    assert client.uploads == []


def test_a_batch_whose_every_line_failed_is_retried_in_a_new_batch_not_collected_again(tmp_path):
    reqs = _requests()
    store_path = tmp_path / "s.jsonl"
    client = FakeOpenAI(statuses=("completed",), answer=lambda cid, body: ("fail", 500, "server error"))
    first = run_batch_predictions(reqs, EP, store_path, client=client, timeout_s=60, **RUN)
    assert all(r["error"].startswith("status 500") for r in first["rows"]) and first["run"]["spend_usd"] == 0
    # same pending set, same fingerprint: the completed batch must not be collected again (its errors would repeat)
    client.answer = FakeOpenAI._label_a
    again = run_batch_predictions(reqs, EP, store_path, client=client, timeout_s=60, **RUN)
    assert len(client.batches_store) == 2 and again["run"]["batch_id"] == "batch-1"
    assert [r["output"] for r in again["rows"]] == ["a"] * 4
    # everything answered now: nothing pending, nothing submitted
    third = run_batch_predictions(reqs, EP, store_path, client=client, timeout_s=60, **RUN)
    assert len(client.batches_store) == 2 and third["run"]["calls_made"] == 0
