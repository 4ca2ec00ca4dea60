"""Raw rows -> Example dicts (docs/ARCHITECTURE.md), one builder per kind of source row.

``_content`` is a transient key holding the text the contamination check compares; prepare drops
it before output.
"""

from __future__ import annotations

import re

from baseweight_assets.data.contamination import content_text
from baseweight_assets.data.ids import content_id

NOT_FOUND = "Not found."
MAX_EXPLANATION_CHARS = 1400


def make(task_id: str, group: str, fields: dict, target: str, gold: object, meta: dict | None = None,
         content: str | None = None, question_id: str | None = None) -> dict:
    ex_id = content_id(task_id, {"fields": fields, "gold": gold})
    ex = {"id": ex_id, "question_id": question_id or ex_id, "group": group, "fields": fields,
          "target": target, "gold": gold, "meta": meta or {}}
    ex["_content"] = content if content is not None else content_text(fields)
    return ex


def classification(task_id: str, row: dict, labels: list[str], text_key: str = "text") -> dict:
    name = labels[row["label"]]
    return make(task_id, name, {"text": row[text_key]}, name, name)


def _truncate_words(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " ..."


def medmcqa(task_id: str, row: dict, labels: list[str]) -> dict:
    letter = labels[row["cop"]]
    options = {labels[i]: row[k] for i, k in enumerate(("opa", "opb", "opc", "opd"))}
    exp = _truncate_words(row.get("exp") or "", MAX_EXPLANATION_CHARS)
    target = f"{exp}\n<answer>{letter}</answer>" if exp else f"<answer>{letter}</answer>"
    meta = {"subject": row["subject_name"], "topic": row.get("topic_name") or "", "source_id": row["id"],
            "explanation_chars": len(exp), "offline_split": True}
    fields = {"question": row["question"], "options": options}
    return make(task_id, row["subject_name"], fields, target, letter, meta)


def entry_point(code: str, tests: list[str]) -> str:
    """The function the asserts call: the first name defined in the code that a test uses."""
    defined = re.findall(r"^\s*def\s+([A-Za-z_]\w*)", code, flags=re.M)
    joined = "\n".join(tests)
    for name in defined:
        if re.search(rf"\b{re.escape(name)}\s*\(", joined):
            return name
    called = re.search(r"assert\s+(?:not\s+)?\(?\s*(?:math\.\w+\()?\s*(?:set\()?([A-Za-z_]\w*)\s*\(", joined)
    return called.group(1) if called else (defined[0] if defined else "")


def mbpp(task_id: str, row: dict) -> dict:
    code = row["code"].replace("\r\n", "\n").strip()
    tests = list(row["test_list"])
    gold = {"test_list": tests, "test_setup_code": row["test_setup_code"], "entry_point": entry_point(code, tests)}
    fields = {"text": row["text"], "test_list": tests}
    meta = {"task_id": row["task_id"], "challenge_test_list": row.get("challenge_test_list") or []}
    return make(task_id, "all", fields, f"```python\n{code}\n```", gold, meta, content=row["text"])


def cuad_question(task_id: str, q: dict) -> dict:
    """Question-level CUAD example (no context yet; windows are added in preparation)."""
    spans = q["answers"]["text"]
    meta = {"has_answer": bool(spans), "title": q["title"], "source_id": q["id"],
            "answer_start": q["answers"]["answer_start"], "located": q["answers"]["located"]}
    fields = {"clause_type": q["clause_type"], "question": q["question"]}
    ex = make(task_id, q["clause_type"], fields, NOT_FOUND, spans, meta)
    ex["id"] = ex["question_id"] = content_id(task_id, {"question": q["id"], "gold": spans})
    return ex
