"""All six tasks load from ../shared/data with the counts SOURCES.md states, and prepare cleanly."""

from collections import Counter

import pytest

from baseweight_assets.config import load_bench_config
from baseweight_assets.data import checks
from baseweight_assets.data.prepare import prepare_task
from baseweight_assets.data.raw import load_raw
from baseweight_assets.paths import REPO_ROOT
from baseweight_assets.settings import Settings
from baseweight_assets.prompting import PromptTemplate

if not Settings.from_env().data_root.is_dir():
    pytest.skip("real data not present", allow_module_level=True)

CFG = load_bench_config(REPO_ROOT / "configs")
SOURCES_COUNTS = {
    "banking77": {"train": 10003, "test": 3080},
    "fpb": {"train": 4846},
    "ledgar": {"test": 1000},
    "mbpp": {"prompt": 10, "test": 500, "validation": 90, "train": 374},
    "medmcqa": {"validation": 4183, "test_unlabelled": 6150},
    "cuad": {"documents": 510, "questions": 20910},
}
_raw: dict = {}


def raw(task_id):
    if task_id not in _raw:
        _raw[task_id] = load_raw(CFG.tasks[task_id], Settings.from_env().data_root)
    return _raw[task_id]


@pytest.mark.parametrize("task_id", sorted(SOURCES_COUNTS))
def test_counts_match_sources(task_id):
    r = raw(task_id)
    assert r["counts"] == SOURCES_COUNTS[task_id]
    assert checks.check_raw_row_counts(CFG.tasks[task_id], r).passed


def test_label_ids_match_hub_order():
    b = raw("banking77")
    assert b["labels"].index("card_arrival") == 11 and b["labels"].index("Refund_not_showing_up") == 51
    assert raw("fpb")["labels"] == ["negative", "neutral", "positive"]
    assert Counter(r["label"] for r in raw("fpb")["splits"]["train"]) == {1: 2879, 2: 1363, 0: 604}
    m = raw("medmcqa")["splits"]["validation"]
    assert Counter(r["answer"] for r in m) == {0: 1348, 1: 1085, 2: 925, 3: 825}  # 1-based file -> 0-based
    assert [r["meta"]["task_id"] for r in raw("mbpp")["splits"]["prompt"]] == list(range(1, 11))


def test_cuad_grid_and_location_report():
    r = raw("cuad")
    qs = r["splits"]["questions"]
    assert len({q["id"] for q in qs}) == 20910 and len({q["group"] for q in qs}) == 41
    located = r["report"]["clauses_located"]
    assert located["verbatim"] > 12000 and sum(located.values()) > 12700
    assert r["report"]["filenames_matched_loosely"] == 12
    texts = {c["title"]: c["text"] for c in r["splits"]["documents"]}
    for q in qs[:400]:
        for span, start in zip(q["answers"]["text"], q["answers"]["answer_start"]):
            if start >= 0:
                assert texts[q["title"]][start : start + len(span)] == span


@pytest.mark.parametrize("task_id", ["fpb", "ledgar", "mbpp", "medmcqa", "cuad"])
def test_prepare_smoke_and_checks(task_id):
    task = CFG.tasks[task_id]
    prompt = PromptTemplate.load(CFG.prompts_dir, task, raw(task_id)["labels"])
    p = prepare_task(task, raw(task_id), prompt, n_eval_seeds=2, rows_per_split=12, lora_sizes=[4, 8, 50, "full"])
    assert len(p["splits"]["train"]) <= 12 and all(len(s) <= 12 for s in p["test_seeds"])
    assert checks.check_no_train_test_overlap(p).passed
    assert checks.check_label_coverage(p).passed or checks.check_label_coverage(p).severity == "WARN"
    if task_id == "ledgar":
        assert set(p["skip_conditions"]) == {"lora"} and not p["splits"]["train"]
        assert p["provenance"]["partial"]
    if task_id == "cuad":
        qids = {r["question_id"] for r in p["splits"]["test_pool"]}
        assert qids == {q for s in p["test_seeds"] for q in s}
        windows = Counter(r["question_id"] for r in p["splits"]["test_pool"])
        assert all(windows[q] == r["meta"]["n_windows"] for r in p["splits"]["test_pool"] for q in [r["question_id"]])
        balance = Counter(next(r["meta"]["has_answer"] for r in p["splits"]["test_pool"] if r["question_id"] == q)
                          for q in p["test_seeds"][0])
        assert balance[True] == balance[False] == 6
        for r in p["splits"]["train"]:
            if r["meta"]["has_answer"]:
                assert all(line in r["fields"]["context"] for line in r["target"].splitlines())
    if p["splits"]["train"]:
        # the data-efficiency curve: nested subsets of train, sizes above what train holds skipped with the reason
        subsets = {c: set(ids) for c, ids in p["lora_subsets"].items()}
        assert len(subsets["lora-4"]) == 4 and len(subsets["lora-8"]) == 8
        assert subsets["lora-4"] <= subsets["lora-8"] <= subsets["lora-full"] == {r["id"] for r in p["splits"]["train"]}
        assert "lora-50" not in subsets and "50" in p["skip_conditions"]["lora-50"]


def test_full_prepare_fpb_split_and_determinism():
    task = CFG.tasks["fpb"]
    prompt = PromptTemplate.load(CFG.prompts_dir, task, raw("fpb")["labels"])
    a = prepare_task(task, raw("fpb"), prompt, n_eval_seeds=3)
    b = prepare_task(task, load_raw(task, Settings.from_env().data_root), prompt, n_eval_seeds=3)
    assert a == b
    assert a["report"]["pool_sizes"]["test"] in (726, 727)  # 15 % of 4,846 minus exact duplicates
    for f in (checks.check_label_coverage, checks.check_no_train_test_overlap, checks.check_class_balance):
        assert f(a).passed, f(a).description
