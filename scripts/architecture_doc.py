"""Regenerate the generated parts of docs/ARCHITECTURE.md from the code, so the document cannot drift.

Each generated part sits between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->``; everything outside the
markers is hand-written and kept as it is. The parts:

- ``tree``: the directories and modules of ``baseweight_assets/``, each with the first line of its docstring;
- ``stages``: the stage registry (``pipeline.stages.STAGES``) as a table;
- ``records``: the records passed between assets (``pipeline.records``) with their fields, types and comments.

    python scripts/architecture_doc.py           # rewrite docs/ARCHITECTURE.md
    python scripts/architecture_doc.py --check   # exit 1 (and say which part) when it is out of date

``tests/wiring/test_architecture_doc.py`` fails when the committed document is not what this script writes.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
import tokenize
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the package is importable from the checkout
    sys.path.insert(0, str(REPO))

from baseweight_assets.pipeline import records as records_module  # noqa: E402
from baseweight_assets.pipeline.stages import STAGES, Stage  # noqa: E402

DOC = REPO / "docs" / "ARCHITECTURE.md"
PACKAGE = REPO / "baseweight_assets"
_BLOCK = re.compile(r"(<!-- generated:(?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- /generated:(?P=name) -->)", re.S)


# ------------------------------------------------------------------------------------------------ tree


def docstring_line(path: Path) -> str | None:
    """The first line of a module's docstring (a package's: its ``__init__.py``'s), with `` …`` when its sentence
    goes on to the next line; None when the module has no docstring."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    if not doc or not doc.strip():
        return None
    lines = doc.strip().splitlines()
    continues = len(lines) > 1 and lines[1].strip() != ""
    return lines[0].strip() + (" …" if continues else "")


def missing_docstrings(package: Path = PACKAGE) -> list[str]:
    return sorted(str(p.relative_to(package.parent)) for p in package.rglob("*.py")
                  if "__pycache__" not in p.parts and docstring_line(p) is None)


def tree(package: Path = PACKAGE) -> str:
    """``baseweight_assets/`` indented: modules, then subpackages, each with its docstring's first line."""
    entries: list[tuple[str, str]] = []

    def walk(folder: Path, depth: int) -> None:
        modules = sorted(p for p in folder.glob("*.py") if p.name != "__init__.py")
        packages = sorted(p for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").is_file())
        for module in modules:
            entries.append(("  " * depth + module.name, docstring_line(module) or "(no docstring)"))
        for sub in packages:
            entries.append(("  " * depth + sub.name + "/", docstring_line(sub / "__init__.py") or "(no docstring)"))
            walk(sub, depth + 1)

    entries.append((package.name + "/", docstring_line(package / "__init__.py") or "(no docstring)"))
    walk(package, 1)
    width = max(len(name) for name, _ in entries) + 2
    lines = [f"{name:<{width}}{line.replace('``', '')}".rstrip() for name, line in entries]  # a code block: no markup
    return "```\n" + "\n".join(lines) + "\n```\n"


# ------------------------------------------------------------------------------------------------ stages


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|")


def stages_table(stages: tuple[Stage, ...] = STAGES) -> str:
    """The registry in its order; an observed stage (an input file) has no record: nothing is written for it."""
    head = ("| key | partitions | pool | gpu | sandbox | hub_sync | job | record |\n"
            "|---|---|---|---|---|---|---|---|\n")
    rows = []
    for s in stages:
        record = f"[`{s.record}`](#{s.record.lower()})" if s.record else \
            ("observed input file" if s.observed else "—")
        flags = ["yes" if flag else "" for flag in (s.gpu, s.sandbox, s.hub_sync)]
        rows.append(f"| `{s.key}` | {s.partitions or 'unpartitioned'} | {s.pool or ''} | {' | '.join(flags)} | "
                    f"`{s.job}` | {record} |")
    return head + "\n".join(rows) + "\n"


# ------------------------------------------------------------------------------------------------ records


def _comments(source: str) -> dict[int, str]:
    """Line number -> the text of the comment that ends it."""
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string.lstrip("#").strip()
    return out


def _type_text(annotation: ast.expr) -> str:
    """The annotation as written, without the NotRequired/Required wrapper (the table has a column for it)."""
    if isinstance(annotation, ast.Subscript) and isinstance(annotation.value, ast.Name) \
            and annotation.value.id in ("NotRequired", "Required"):
        annotation = annotation.slice
    return ast.unparse(annotation)


def _class_doc(node: ast.ClassDef) -> str:
    return " ".join((ast.get_docstring(node) or "").split())


def records_section(module=records_module) -> str:
    """Every record in source order: its docstring, then one row per own field (type as written, required or not,
    the field's comment); a cell union is listed as its members."""
    source = Path(module.__file__).read_text(encoding="utf-8")
    tree_ = ast.parse(source)
    comments = _comments(source)
    names = module.records()
    classes = {n.name: n for n in tree_.body if isinstance(n, ast.ClassDef)}
    union_docs: dict[str, str] = {}
    for i, node in enumerate(tree_.body):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            after = tree_.body[i + 1] if i + 1 < len(tree_.body) else None
            if isinstance(after, ast.Expr) and isinstance(getattr(after.value, "value", None), str):
                union_docs[node.targets[0].id] = " ".join(after.value.value.split())
    parts = []
    for name, record in names.items():
        if name not in classes:  # a union of cell records
            members = " or ".join(f"[`{m.__name__}`](#{m.__name__.lower()})" for m in module.union_members(record))
            parts.append(f"#### {name}\n\n{union_docs.get(name, '')} One of {members}, chosen by `status`.\n")
            continue
        node = classes[name]
        bases = [ast.unparse(b) for b in node.bases if ast.unparse(b) != "TypedDict"]
        extends = f" Extends [`{bases[0]}`](#{bases[0].lower()})." if bases else ""
        rows = []
        for item in node.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                field = item.target.id
                required = "yes" if field in record.__required_keys__ else "no"
                rows.append(f"| `{field}` | `{_cell(_type_text(item.annotation))}` | {required} | "
                            f"{_cell(comments.get(item.end_lineno, ''))} |")
        table = "| field | type | required | meaning |\n|---|---|---|---|\n" + "\n".join(rows)
        parts.append(f"#### {name}\n\n{_class_doc(node)}{extends}\n\n{table}\n")
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------------ document

SECTIONS: dict[str, Callable[[], str]] = {"tree": tree, "stages": stages_table, "records": records_section}


def render(text: str, sections: dict[str, Callable[[], str]] = SECTIONS) -> str:
    """``text`` with every generated part replaced by what the code says now. Raises ValueError naming a part
    whose markers are missing or unknown."""
    found = [m.group("name") for m in _BLOCK.finditer(text)]
    unknown = sorted(set(found) - set(sections))
    missing = sorted(set(sections) - set(found))
    if unknown or missing:
        raise ValueError(f"{DOC.name}: generated parts unknown {unknown}, missing {missing} "
                         "(each needs <!-- generated:NAME --> ... <!-- /generated:NAME -->)")
    return _BLOCK.sub(lambda m: m.group(1) + sections[m.group("name")]() + m.group(4), text)


def stale_parts(text: str) -> list[str]:
    """The generated parts of ``text`` that differ from what the code says now."""
    fresh = {m.group("name"): m.group("body") for m in _BLOCK.finditer(render(text))}
    return [m.group("name") for m in _BLOCK.finditer(text) if fresh[m.group("name")] != m.group("body")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether docs/ARCHITECTURE.md is up to date")
    args = parser.parse_args(argv)
    undocumented = missing_docstrings()
    if undocumented:
        print(f"modules without a docstring (the tree needs one): {', '.join(undocumented)}", file=sys.stderr)
        return 1
    text = DOC.read_text(encoding="utf-8")
    if args.check:
        stale = stale_parts(text)
        if stale:
            print(f"{DOC.relative_to(REPO)} is out of date ({', '.join(stale)}): "
                  "run python scripts/architecture_doc.py",
                  file=sys.stderr)
            return 1
        print(f"{DOC.relative_to(REPO)} is up to date")
        return 0
    new = render(text)
    if new != text:
        DOC.write_text(new, encoding="utf-8")
        print(f"rewrote {DOC.relative_to(REPO)}")
    else:
        print(f"{DOC.relative_to(REPO)} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
