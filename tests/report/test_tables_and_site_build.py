"""CSV/Markdown export, the Markdown preview and the static site build (no browser)."""

import csv
import json
import shutil

import pytest

from report_fixtures import HOSTILE, REPO
from baseweight_assets.report import site_build
from baseweight_assets.report.dashboard import DashboardSchemaError
from baseweight_assets.report.site_build import SiteBuildError, build_site
from baseweight_assets.report.tables import export_tables, markdown_preview, _md_cell


def test_export_tables(dashboard, tmp_path):
    paths = export_tables(dashboard, tmp_path / "tables")
    assert set(paths) == {"results.csv", "break_even.csv", "comparisons.csv", "curves.csv", "verdicts.csv",
                          "surface.csv", "results.md"}
    rows = list(csv.DictReader(paths["results.csv"].open()))
    n_cells = sum(len(t["cells"]) for t in dashboard["tasks"].values())
    assert len(rows) == n_cells
    row = next(r for r in rows if r["task"] == "banking77" and r["variant"] == "smollm2-135m__lora-full")
    cell = dashboard["tasks"]["banking77"]["cells"]["smollm2-135m__lora-full"]
    assert float(row["cost_per_query"]) == pytest.approx(cell["cost"]["by_scenario"]["mid"]["per_query"])
    assert float(row["tco_12mo"]) == pytest.approx(438.01)
    skipped = next(r for r in rows if r["variant"] == "gpt-5.4-mini__5-shot")
    assert skipped["status"] == "skipped" and skipped["metric"] == "" and "context" in skipped["reason"]
    revoked = next(r for r in rows if r["task"] == "banking77" and r["variant"] == "gpt-5.4-nano__5-shot")
    assert revoked["status"] == "incomplete" and revoked["metric"] == "" and revoked["missing_share"] == "1.0"
    assert "HTTP 401" in revoked["reason"]
    seeded = next(r for r in rows if r["task"] == "banking77" and r["variant"] == "smollm2-135m__lora-full")
    assert seeded["n_seeds"] == "3" and seeded["saturated_qps"] == "3.0"
    assert next(r for r in rows if r["task"] == "mbpp")["sandbox"] == "bubblewrap+cgroup-v1"
    comps = list(csv.DictReader(paths["comparisons.csv"].open()))
    assert {"p_holm", "p_selection", "ci_method", "mde"} <= set(comps[0])
    breaks = list(csv.DictReader(paths["break_even.csv"].open()))
    assert {r["scenario"] for r in breaks} == {"low", "mid", "high"}
    assert "| variant |" in paths["results.md"].read_text()
    assert not [p for p in (tmp_path / "tables").iterdir() if p.name.startswith(".")]  # no temp files left


def test_markdown_preview_flags_and_cut(dashboard):
    text = markdown_preview(dashboard, max_rows=5)
    assert "Smoke profile" in text and "partial offline data" in text
    assert "Preview cut at 5 rows" in text
    assert text.count("\n| ") - text.count("\n| variant") - text.count("\n|---") <= 5


def test_markdown_cells_cannot_break_the_table_or_inject_html():
    assert _md_cell(HOSTILE + " | x\ny") == "&lt;img src=x onerror=alert(1)&gt; \\| x y"


def test_build_site_bundles_chart_js_and_embeds_data(dashboard, tmp_path):
    index = build_site(dashboard, tmp_path / "dist")
    out = index.parent
    assert (out / "vendor" / "CHARTJS_VERSION").read_text().strip() == "4.4.7"
    assert (out / "vendor" / "chart.umd.js").stat().st_size > 100_000
    data = (out / "data.js").read_text()
    prefix = "window.BASEWEIGHT_DATA = "
    assert data.startswith(prefix)
    assert json.loads(data[len(prefix):].rstrip().rstrip(";")) == dashboard
    assert "<img" not in data and "\\u003cimg" in data  # inert even if someone inlines data.js into HTML
    html = index.read_text()
    assert "http://" not in html and "https://" not in html  # no CDN
    pinned = json.loads((REPO / "site" / "package.json").read_text())["dependencies"]["chart.js"]
    assert pinned == "4.4.7"


def test_failed_build_keeps_previous_site(dashboard, tmp_path):
    out = tmp_path / "dist"
    build_site(dashboard, out)
    before = (out / "data.js").read_text()
    bad = dict(dashboard, schema_version="9.0.0")
    with pytest.raises(DashboardSchemaError):
        build_site(bad, out)
    assert (out / "data.js").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]


def test_missing_npm_is_a_clear_error(dashboard, tmp_path, monkeypatch):
    src = tmp_path / "site"
    src.mkdir()
    for name in ("index.html", "app.js", "style.css", "package.json", "package-lock.json"):
        shutil.copy2(REPO / "site" / name, src / name)
    monkeypatch.setattr(site_build.shutil, "which", lambda name: None)
    with pytest.raises(SiteBuildError, match="npm is not installed"):
        build_site(dashboard, tmp_path / "dist", site_src=src)
    assert not (tmp_path / "dist").exists()
    (src / "app.js").unlink()
    with pytest.raises(SiteBuildError, match=r"app\.js"):
        build_site(dashboard, tmp_path / "dist", site_src=src)
