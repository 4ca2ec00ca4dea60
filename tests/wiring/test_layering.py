"""The architecture rules the tree promises (docs/ARCHITECTURE.md): Dagster is imported only by the wiring
(``defs/``, ``definitions.py``) and the command-line entry points (``cli/``); everything in ``defs/`` is wiring."""

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
