"""CUAD targets and demonstrations list every gold span the shown text holds, one per line, in document
order, so prompt, training targets, 5-shot demonstrations and the multi-span metric agree."""

from pathlib import Path

import pytest

from baseweight_assets.config import load_bench_config
from baseweight_assets.config.schema import WindowConfig
from baseweight_assets.data import windowed_documents as windowed
from baseweight_assets.data.pools import build_pools
from baseweight_assets.data.raw import load_raw
from baseweight_assets.data.windowed_documents import NOT_FOUND
from baseweight_assets.data.windows import Document
from baseweight_assets.prompting import PromptTemplate
from baseweight_assets.scoring.extraction import multi_span_f1, normalize_answer
from baseweight_assets.scoring.parsing import is_abstention, split_spans
from baseweight_assets.tasks import kind_of

REPO = Path(__file__).resolve().parents[2]
CFG = load_bench_config(REPO / "configs")


def _contract(n_words=400):
    return [f"w{i}" for i in range(n_words)]


def _question(words, ranges, order=None, has_answer=True):
    """Gold spans at word ranges (given in ``order``, not document order), with char offsets like the loader's."""
    text = " ".join(words)
    offsets = [len(" ".join(words[:i])) + (1 if i else 0) for i in range(len(words))]
    order = order or list(range(len(ranges)))
    gold = [" ".join(words[ranges[k][0]:ranges[k][1]]) for k in order]
    starts = [offsets[ranges[k][0]] for k in order]
    q = {"id": "q", "group": "Term", "fields": {"clause_type": "Term", "question": "Q?"}, "gold": gold,
         "meta": {"has_answer": has_answer, "title": "T", "source_id": "s", "answer_start": starts}}
    return Document("T", text), q


def test_training_target_lists_every_shown_span_in_document_order():
    words = _contract()
    # gold listed out of document order (the anchor, listed first, is [40, 45)); [300, 320) lies in a later window
    c, q = _question(words, [(40, 45), (10, 14), (300, 320), (60, 62)], order=[0, 3, 1, 2])
    cfg = WindowConfig(size=100, stride=80, few_shot_context_words=30)
    row = windowed.train_row("cuad", q, c, cfg, seed=0)
    context = row["fields"]["context"].split()
    start = words.index(context[0])
    shown = [(a, b) for a, b in [(10, 14), (40, 45), (60, 62), (300, 320)] if start <= a and b <= start + 100]
    assert row["target"].splitlines() == [" ".join(words[a:b]) for a, b in shown]
    assert len(shown) == 3 and all(line in row["fields"]["context"] for line in row["target"].splitlines())


def test_span_cut_by_the_window_edge_is_left_out_unless_it_is_the_anchor():
    words = _contract()
    c, q = _question(words, [(5, 10), (95, 110)])
    located = windowed.located_spans(q, c)
    assert windowed.target_text(c, located, 0, 100) == " ".join(words[5:10])
    # the anchor is kept, cut to the shown words, when no window can show it whole
    assert windowed.target_text(c, located, 0, 100, anchor=(95, 110)) == \
        " ".join(words[5:10]) + "\n" + " ".join(words[95:100])
    assert windowed.target_text(c, located, 20, 90) == NOT_FOUND


def test_duplicate_gold_texts_once_and_absent_clause_not_found():
    words = ["The", "term", "is", "five", "years.", "x", "The", "term", "is", "five", "years.", "y"]
    c = Document("T", " ".join(words))
    q = {"id": "q", "group": "Term", "fields": {"clause_type": "Term", "question": "Q?"},
         "gold": ["The term is five years.", "the term is five years"],
         "meta": {"has_answer": True, "title": "T", "source_id": "s", "answer_start": [0, 29]}}
    cfg = WindowConfig(size=16, stride=8, few_shot_context_words=8)
    assert windowed.few_shot_row("cuad", q, c, cfg, 0)["target"] == "The term is five years."
    q_absent = {**q, "gold": [], "meta": {**q["meta"], "has_answer": False, "answer_start": []}}
    assert windowed.train_row("cuad", q_absent, c, cfg, 0)["target"] == NOT_FOUND
    rows, _, _ = windowed.test_rows("cuad", q_absent, c, cfg, 12)
    assert {r["target"] for r in rows} == {NOT_FOUND}


def test_prompt_asks_for_what_the_metric_scores():
    task = CFG.tasks["cuad"]
    prompt = PromptTemplate.load(CFG.prompts_dir, task, None)
    system = prompt.render_system()
    assert "every passage" in system and "own line" in system and "exactly: Not found." in system
    assert "one per line" in prompt.render_user({"fields": {"context": "x", "question": "Q", "clause_type": "T"}})
    assert task.metric == "multi_span_f1" and task.cluster_by == "title"
    assert is_abstention(NOT_FOUND) and split_spans(NOT_FOUND) == []


_LOADED: dict = {}


@pytest.fixture
def cuad(shared_data):
    """The real CUAD release, prepared once per test module: (task, raw, contracts, question pools)."""
    if "cuad" not in _LOADED:
        task = CFG.tasks["cuad"]
        raw = load_raw(task, shared_data)
        kind = kind_of(task)
        pools, _ = build_pools(task, raw, lambda row: kind.example(task.id, row, None))
        contracts = kind.documents(task, raw)
        question_pools = kind.refine_pools(task, pools, contracts, {})
        _LOADED["cuad"] = task, raw, contracts, question_pools
    return _LOADED["cuad"]


def _multi(questions, contracts, k):
    """k questions whose gold has several spans located in the text (35 % of answerable ones)."""
    out = [q for q in questions if len(windowed.located_spans(q, contracts[q["meta"]["title"]])) >= 2]
    return out[:k]


def test_real_training_and_demo_targets(cuad):
    task, _, contracts, pools = cuad
    cfg = task.windows
    several = 0
    for q in _multi(pools["train"], contracts, 150):
        c = contracts[q["meta"]["title"]]
        for row in (windowed.train_row(task.id, q, c, cfg, 42), windowed.few_shot_row(task.id, q, c, cfg, 42)):
            lines, context = row["target"].splitlines(), row["fields"]["context"]
            assert lines and all(line in context for line in lines), q["id"]
            found = [context.find(line) for line in lines]
            assert found == sorted(found), f"{q['id']}: target not in document order"
            assert len({normalize_answer(x) for x in lines}) == len(lines)
            # the scorer reads the target back as exactly these spans, scoring 1 against them
            assert multi_span_f1(split_spans(row["target"]), lines) == 1.0
            several += len(lines) > 1
    assert several > 50  # the old rows showed one span only


def test_real_test_windows_together_show_every_located_span(cuad):
    task, _, contracts, pools = cuad
    cfg = task.windows
    checked = 0
    for q in _multi(pools["test"], contracts, 60):
        c = contracts[q["meta"]["title"]]
        rows, truncated, _ = windowed.test_rows(task.id, q, c, cfg, cfg.max_windows)
        if truncated:
            continue
        shown = {normalize_answer(line) for r in rows for line in r["target"].splitlines()} - {"not found"}
        for first, end in windowed.located_spans(q, c):
            if end - first <= cfg.size - cfg.stride:  # short enough that some window shows it whole
                assert normalize_answer(c.text(first, end)) in shown, q["id"]
                checked += 1
    assert checked > 60


def test_real_gold_spans_survive_the_span_parser(cuad):
    _, raw, _, _ = cuad
    spans = [" ".join(s.split()) for q in raw["splits"]["questions"] for s in q["answers"]["text"]]
    assert len(spans) == 13101
    assert not [s for s in spans if is_abstention(s)]
    changed = [s for s in spans if [normalize_answer(x) for x in split_spans(s)] != [normalize_answer(s)]]
    # only a leading list marker is lost ("• Minimum yearly purchases ...", "7) All covenants ...")
    assert len(changed) == 2 and all(s[0] in "•7" for s in changed)
