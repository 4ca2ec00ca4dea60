"""CUAD v1 raw release -> the cuad-qa question grid (41 clause categories x 510 contracts).

Splits: ``contracts`` ``[{"title", "text"}]`` (the TXT files, which are the SQuAD contexts) and
``questions`` ``[{"id", "title", "clause_type", "question", "answers": {"text", "answer_start",
"located"}}]`` with the HF cuad-qa id ``<title>__<clause_type>``. Contexts are kept once per
contract, not per question (41 copies of 27 MB would not fit the memory budget).

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

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.data.errors import DataError, where
from baseweight_assets.data.sources.common import read_csv, read_text, require
from baseweight_assets.data.sources.loaded import Loaded

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


def load(task: TaskConfig, root: Path) -> Loaded:
    opts = task.source.offline.options
    paths = {
        "master_clauses": root / opts.get("master_clauses", "CUAD_v1/master_clauses.csv.gz"),
        "contracts": root / opts.get("contracts", "CUAD_v1/full_contract_txt.tar.gz"),
        "categories": root / opts.get("categories", "category_descriptions.csv"),
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
            questions.append({
                "id": f"{stem}__{clause}",
                "title": stem,
                "clause_type": clause,
                "question": QUESTION.format(clause=clause, details=details),
                "answers": {"text": spans, "answer_start": [s for s, _ in located],
                            "located": [h for _, h in located]},
            })
    if len(contracts) != len(texts):
        orphans = sorted(set(texts) - {c["title"] for c in contracts})
        raise DataError(f"{paths['contracts']}: {len(orphans)} TXT file(s) have no master_clauses row, e.g. {orphans[:3]}")
    report = {"clauses_located": counts, "filenames_matched_loosely": len(renamed), "n_categories": len(categories)}
    return Loaded({"contracts": contracts, "questions": questions}, paths, None, report)
