"""Code generation: write a function that passes the question's assert tests, run in the sandbox.

Canonical row: ``{"text": problem statement, "code": reference solution, "test_list": [assert strings],
"test_setup_code": str, "meta": {...}}``. Example: fields ``{"text", "test_list"}``, group "all", target = the
reference in a fenced python block (CRLF -> LF, stripped), gold ``{"test_list", "test_setup_code", "entry_point"}``
(``entry_point``: the function the asserts call), contamination compared on the problem text. Decoding is free
text; ``scoring.code`` runs each row's first fenced block in the sandbox (``task.sandbox`` limits unless the caller
gives others) and a question's ``correct`` is the share of its samples that pass; secondary pass@k.
"""

from __future__ import annotations

import re
from collections import defaultdict

from baseweight_assets.data.examples import make
from baseweight_assets.scoring import code
from baseweight_assets.scoring.categories import CODE, code_category
from baseweight_assets.scoring.parsing import extract_code
from baseweight_assets.tasks.kind import KindScores, ScoringInput, TaskKind


def entry_point(source: str, tests: list[str]) -> str:
    """The function the asserts call: the first name defined in the code that a test uses."""
    defined = re.findall(r"^\s*def\s+([A-Za-z_]\w*)", source, flags=re.M)
    joined = "\n".join(tests)
    for name in defined:
        if re.search(rf"\b{re.escape(name)}\s*\(", joined):
            return name
    called = re.search(r"assert\s+(?:not\s+)?\(?\s*(?:math\.\w+\()?\s*(?:set\()?([A-Za-z_]\w*)\s*\(", joined)
    return called.group(1) if called else (defined[0] if defined else "")


class CodeKind(TaskKind):
    name = "code"
    categories = CODE
    metrics = ("pass_at_1",)

    def example(self, task_id: str, row: dict, labels: list[str] | None) -> dict:
        source = row["code"].replace("\r\n", "\n").strip()
        tests = list(row["test_list"])
        gold = {"test_list": tests, "test_setup_code": row["test_setup_code"], "entry_point": entry_point(source, tests)}
        fields = {"text": row["text"], "test_list": tests}
        return make(task_id, "all", fields, f"```python\n{source}\n```", gold, dict(row.get("meta") or {}),
                    content=row["text"])

    def parser(self, labels):
        return extract_code

    def score(self, given: ScoringInput) -> KindScores:
        limits = given.sandbox or given.task.sandbox.limits()
        flat = [(qid, row) for qid in given.ids for row in given.rows[qid]]
        golds = [code.check_gold(given.gold[qid], f"question {qid}") for qid, _ in flat]
        statuses, sandbox = code.execute_rows([row for _, row in flat], golds, limits, given.workers,
                                              allow_unsandboxed=given.allow_unsandboxed)
        samples: dict[str, list[str]] = defaultdict(list)
        categories: dict[str, list[str]] = defaultdict(list)
        for (qid, row), status in zip(flat, statuses):
            samples[qid].append(status)
            categories[qid].append(code_category(status, row.get("finish_reason")))
        per_example = [{"question_id": q, "correct": sum(s == "pass" for s in samples[q]) / len(samples[q]),
                        "category": categories[q][0], "parsed": None} for q in given.ids]
        return KindScores(per_example, {**code.pass_at_ks({q: samples[q] for q in given.ids}), "sandbox": sandbox})

    def gold_from_record(self, record: dict, where: str) -> dict:
        gold = record["gold"]
        if not isinstance(gold, list) or not all(isinstance(t, str) for t in gold):
            raise ValueError(f"{where}: 'gold' must be the list of assert strings")
        setup = record.get("test_setup_code") or ""
        if not isinstance(setup, str):
            raise ValueError(f"{where}: 'test_setup_code' must be a string")
        return {"test_list": gold, "test_setup_code": setup}
