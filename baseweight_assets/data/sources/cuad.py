"""CUAD v1 raw release -> the cuad-qa question grid (41 clause categories x 510 contracts).

Canonical extraction rows (``baseweight_assets.tasks.extraction``): split ``documents`` ``[{"title", "text"}]``
(the TXT files, which are the SQuAD contexts) and split ``questions`` ``[{"id", "title", "question", "group",
"fields": {"clause_type"}, "answers": {"text", "answer_start", "located"}}]`` with the HF cuad-qa id
``<title>__<clause_type>`` and the clause type as the group. Contexts are kept once per contract, not per
question (41 copies of 27 MB would not fit the memory budget).

Each gold clause is located in its contract: verbatim (``answer_start`` = char offset), else after
collapsing whitespace (``answer_start`` = -1, ``located`` = "normalised"), else "missing"; the
counts go into the report. Missing clauses stay gold answers (scoring is against the annotation),
but they cannot anchor a training window.
"""

from __future__ import annotations

import ast
import csv
import io
import re
import tarfile
import unicodedata
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.data.errors import DataError, where
from baseweight_assets.data.sources.common import read_csv, read_text, require
from baseweight_assets.data.sources.loaded import Loaded

class Options(BaseModel):
    """Where the release's files are, inside the task's folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    master_clauses: str = "CUAD_v1/master_clauses.csv.gz"
    contracts: str = "CUAD_v1/full_contract_txt.tar.gz"
    categories: str = "category_descriptions.csv"


QUESTION = 'Highlight the parts (if any) of this contract related to "{clause}" that should be reviewed by a lawyer. Details: {details}'


def name_key(name: str) -> str:
    """Filenames in master_clauses.csv and the TXT stems differ only in punctuation and spaces
    (``&``/``'`` -> ``_``, a trailing space, ``-``), so compare letters and digits only."""
    folded = unicodedata.normalize("NFKD", name).lower()  # the csv spells É decomposed
    return re.sub(r"[^a-z0-9]", "", re.sub(r"\.pdf\W*$", "", folded))


def _categories(path: Path) -> list[tuple[str, str]]:
    text = read_text(path).lstrip("\ufeff")
    out = []
    for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if n == 1 or not row:
            continue
        if len(row) < 2 or not row[0].startswith("Category: "):
            raise DataError(f"{where(path, n, 'Category')}: expected 'Category: <name>' and a description")
        out.append((row[0].removeprefix("Category: ").strip(), row[1].removeprefix("Description: ").strip()))
    return out


def _contracts(path: Path) -> dict[str, str]:
    require(path)
    texts = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".txt"):
                    raw = tar.extractfile(member).read()
                    texts[Path(member.name).stem] = raw.decode("utf-8", errors="strict")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read the tar archive ({exc}); the file may be truncated") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: member {member.name!r}: not valid UTF-8 ({exc.reason})") from None
    return texts


def _locate(span: str, text: str, collapsed: str) -> tuple[int, str]:
    start = text.find(span)
    if start >= 0:
        return start, "verbatim"
    if " ".join(span.split()) in collapsed:
        return -1, "normalised"
    return -1, "missing"


def _question(qid: str, title: str, clause: str, question: str, spans: list[str], starts: list[int],
              located: list[str]) -> dict:
    return {"id": qid, "title": title, "question": question, "group": clause, "fields": {"clause_type": clause},
            "answers": {"text": spans, "answer_start": starts, "located": located}}


def load(task: TaskConfig, root: Path, options: Options) -> Loaded:
    paths = {
        "master_clauses": root / options.master_clauses,
        "contracts": root / options.contracts,
        "categories": root / options.categories,
    }
    categories = _categories(paths["categories"])
    texts = _contracts(paths["contracts"])
    by_key = {name_key(stem): stem for stem in texts}
    if len(by_key) != len(texts):
        raise DataError(f"{paths['contracts']}: two contract names differ only in punctuation")
    master = paths["master_clauses"]
    rows = read_csv(master, ["Filename"])
    header = {c.lower(): c for c in rows[0][1]} if rows else {}
    for clause, _ in categories:  # the csv title-cases category names ("Ip Ownership Assignment")
        if clause.lower() not in header:
            raise DataError(f"{where(master, 1, clause)}: missing column")
    contracts, questions = [], []
    counts = {"verbatim": 0, "normalised": 0, "missing": 0}
    renamed = []
    for line, row in rows:
        filename = row["Filename"]
        stem = by_key.get(name_key(filename))
        if stem is None:
            raise DataError(f"{where(master, line, 'Filename')}: no contract TXT matches {filename!r}")
        if stem != filename[:-4]:
            renamed.append(filename)
        text = texts[stem]
        collapsed = " ".join(text.split())
        contracts.append({"title": stem, "text": text})
        for clause, details in categories:
            column = header[clause.lower()]
            try:
                spans = ast.literal_eval(row[column]) if row[column].strip() else []
            except (ValueError, SyntaxError):
                raise DataError(f"{where(master, line, column)}: expected a Python list of clause strings") from None
            if not isinstance(spans, list) or not all(isinstance(s, str) for s in spans):
                raise DataError(f"{where(master, line, column)}: expected a list of strings")
            spans = [s.strip() for s in spans if s.strip()]
            located = [_locate(s, text, collapsed) for s in spans]
            for _, how in located:
                counts[how] += 1
            questions.append(_question(f"{stem}__{clause}", stem, clause, QUESTION.format(clause=clause, details=details),
                                       spans, [s for s, _ in located], [h for _, h in located]))
    if len(contracts) != len(texts):
        orphans = sorted(set(texts) - {c["title"] for c in contracts})
        raise DataError(f"{paths['contracts']}: {len(orphans)} TXT file(s) have no master_clauses row, e.g. {orphans[:3]}")
    report = {"clauses_located": counts, "filenames_matched_loosely": len(renamed), "n_categories": len(categories)}
    return Loaded({"documents": contracts, "questions": questions}, paths, None, report)


def from_hub(splits: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """cuad-qa rows carry the context per question; keep it once per contract as the offline release does."""
    contracts, questions = {}, []
    for rows in splits.values():
        for r in rows:
            contracts.setdefault(r["title"], r["context"])
            clause = r["id"].split("__", 1)[-1] if "__" in r["id"] else r["question"]
            text = list(r["answers"]["text"])
            questions.append(_question(r["id"], r["title"], clause, r["question"], text,
                                       list(r["answers"]["answer_start"]), ["verbatim"] * len(text)))
    return {"documents": [{"title": t, "text": c} for t, c in contracts.items()], "questions": questions}
