"""The architecture rules the tree promises (docs/ARCHITECTURE.md): Dagster is imported only by the wiring
(``defs/``, ``definitions.py``) and the command-line entry points (``cli/``); everything in ``defs/`` is wiring;
imports point one way (entry points -> wiring -> pure logic); the registry and records import nothing heavy."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "baseweight_assets"
DAGSTER_ALLOWED = ("defs", "cli")


def _imports_dagster(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        if any(n == "dagster" or n.startswith(("dagster.", "dagster_")) for n in names):
            return True
    return False


def test_pure_modules_do_not_import_dagster():
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if p.relative_to(PACKAGE).parts[0] not in DAGSTER_ALLOWED and p.name != "definitions.py"
                 and _imports_dagster(p)]
    assert offenders == []


def test_every_defs_module_is_wiring():
    """A module under defs/ that does not touch Dagster is pure logic in the wrong place."""
    pure = [str(p.relative_to(PACKAGE)) for p in (PACKAGE / "defs").rglob("*.py")
            if p.read_text().strip() and not _imports_dagster(p) and p.name != "__init__.py"]
    assert pure == []


def test_the_layering_test_catches_an_offender(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from dagster import asset\n")
    assert _imports_dagster(bad)
    assert not _imports_dagster(Path(ast.__file__))


def _imported(path: Path) -> set[str]:
    """Every module ``path`` imports, by full name (``from a import b`` counts as ``a`` and ``a.b``)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return out


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def test_pure_modules_do_not_import_the_wiring_or_the_entry_points():
    """Dependencies point one way: entry points -> wiring -> pure logic (no import cycle, no module loaded twice)."""
    wiring = ("baseweight_assets.defs", "baseweight_assets.definitions")
    entry_points = ("baseweight_assets.cli",)
    banned = {"cli": (), "definitions": entry_points, "defs": entry_points}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        bad = sorted(m for m in _imported(path) if m.startswith(banned.get(_layer(path), wiring + entry_points)))
        if bad:
            offenders.append(f"{path.relative_to(PACKAGE)}: {bad}")
    assert offenders == []


def test_the_registry_and_records_import_nothing_heavy():
    """``pipeline/`` describes the graph without Dagster or ML libraries: the CLI and the docs script read it cheaply."""
    import subprocess
    import sys

    code = ("import sys, baseweight_assets.pipeline.stages, baseweight_assets.pipeline.records; "
            "print(sorted(m for m in ('dagster', 'torch', 'transformers', 'pydantic', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent).stdout.strip()
    assert out == "[]"


def test_the_import_rule_sees_both_import_forms(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from baseweight_assets import defs\nimport baseweight_assets.cli.run\n")
    assert {"baseweight_assets.defs", "baseweight_assets.cli.run"} <= _imported(bad)
