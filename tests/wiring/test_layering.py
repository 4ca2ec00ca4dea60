"""The architecture rule: only defs/ and definitions.py import dagster."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "baseweight_assets"


def test_pure_modules_do_not_import_dagster():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "defs" or rel.name == "definitions.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "dagster" or n.startswith(("dagster.", "dagster_")) for n in names):
                offenders.append(str(rel))
    assert offenders == []
