"""docs/ARCHITECTURE.md shows the tree, the stage registry and the records as the code has them: its generated
parts are exactly what scripts/architecture_doc.py writes now, so the document cannot drift from the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from baseweight_assets.pipeline.stages import STAGES

REPO = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("architecture_doc", REPO / "scripts" / "architecture_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


doc = _script()


def test_every_module_has_a_docstring():
    """The tree lists each module with its docstring's first line: one line, what the module is."""
    assert doc.missing_docstrings() == []


def test_the_committed_document_is_what_the_code_generates():
    text = doc.DOC.read_text(encoding="utf-8")
    assert doc.stale_parts(text) == [], "run: python scripts/architecture_doc.py"
    assert doc.render(text) == text


def test_the_generated_parts_show_every_module_stage_and_record():
    text = doc.DOC.read_text(encoding="utf-8")
    for path in (REPO / "baseweight_assets").rglob("*.py"):
        if path.name != "__init__.py":
            assert f" {path.name} " in text, path
    for stage in STAGES:
        assert f"| `{stage.key}` |" in text
        if stage.record:
            assert f"#### {stage.record}\n" in text
    assert "| `missing_share` | `float \\| None` | yes | None when nothing was sampled |" in text


def test_a_drifted_part_is_found_and_regenerated():
    text = doc.DOC.read_text(encoding="utf-8")
    drifted = text.replace("| `local_scores` |", "| `local_scorez` |")
    assert drifted != text
    assert doc.stale_parts(drifted) == ["stages"]
    assert doc.render(drifted) == text


def test_missing_markers_are_an_error():
    with pytest.raises(ValueError, match=r"missing \['records', 'stages', 'tree'\]"):
        doc.render("# no markers\n")
