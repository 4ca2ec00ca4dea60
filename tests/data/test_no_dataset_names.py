"""No dataset name is code outside its loader: a dataset's particulars live in data/sources/<loader>.py and in
configs/tasks/*.yaml. Prose (docstrings, comments, messages, field descriptions) may name datasets as examples;
identifiers, imports and word-like string constants (keys, loader names, file names) may not."""

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "baseweight_assets"
LOADERS = PACKAGE / "data" / "sources"
DATASETS = re.compile(r"banking77|cuad|fpb|phrasebank|ledgar|lex_?glue|mbpp|medmcqa", re.IGNORECASE)


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def dataset_names_in_code(source: str) -> list[tuple[int, str]]:
    """(line, token) for every identifier, import or space-free string constant that names a dataset."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        tokens: list[str] = []
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            tokens = [] if any(c.isspace() for c in node.value) else [node.value]
        elif isinstance(node, ast.Name):
            tokens = [node.id]
        elif isinstance(node, ast.Attribute):
            tokens = [node.attr]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            tokens = [node.name]
        elif isinstance(node, ast.arg):
            tokens = [node.arg]
        elif isinstance(node, ast.alias):
            tokens = [node.name, node.asname or ""]
        elif isinstance(node, ast.ImportFrom):
            tokens = [node.module or ""]
        found += [(getattr(node, "lineno", 0), t) for t in tokens if DATASETS.search(t)]
    return found


def test_no_dataset_name_outside_its_loader():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if LOADERS in path.parents:
            continue
        hits = dataset_names_in_code(path.read_text())
        if hits:
            offenders[str(path.relative_to(PACKAGE))] = hits
    assert offenders == {}


def test_the_scan_finds_names_in_code_but_not_in_prose():
    code = ('"""CUAD windows."""\n'
            'from baseweight_assets.data import cuad_rows\n'
            'def build(loader):\n'
            '    """For FPB."""\n'
            '    if loader == "fpb":  # FPB has no test split\n'
            '        return examples.medmcqa(row, "Explained as in MedMCQA rows")\n')
    assert [t for _, t in dataset_names_in_code(code)] and \
        {t for _, t in dataset_names_in_code(code)} == {"cuad_rows", "fpb", "medmcqa"}
