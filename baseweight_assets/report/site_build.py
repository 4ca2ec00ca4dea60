"""Build the static dashboard: site/ sources + Chart.js (from npm, pinned) + the data as ``data.js``.

The data is a script assigning ``window.BASEWEIGHT_DATA`` so the page works from file:// (no fetch).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from baseweight_assets.paths import REPO_ROOT
from baseweight_assets.report.dashboard import validate_dashboard
from baseweight_assets.storage.atomic import replace_dir, staging_dir

SITE_FILES = ("index.html", "app.js", "style.css")
CHART_JS = Path("node_modules/chart.js/dist/chart.umd.js")


class SiteBuildError(RuntimeError):
    pass


def _chart_js(site_src: Path) -> Path:
    path = site_src / CHART_JS
    if path.is_file():
        return path
    if shutil.which("npm") is None:
        raise SiteBuildError(f"{path} is missing and npm is not installed: install Node.js/npm, then run "
                             f"'npm ci' in {site_src}")
    proc = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=site_src, capture_output=True, text=True,
                          timeout=600)
    if proc.returncode != 0 or not path.is_file():
        raise SiteBuildError(f"'npm ci' in {site_src} failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return path


def build_site(dashboard: dict, out_dir: Path, *, site_src: Path = REPO_ROOT / "site") -> Path:
    """Write the site to ``out_dir`` (replaced whole, never half-written); returns ``out_dir/index.html``."""
    validate_dashboard(dashboard)
    site_src, out_dir = Path(site_src), Path(out_dir)
    missing = [name for name in SITE_FILES if not (site_src / name).is_file()]
    if missing:
        raise SiteBuildError(f"{site_src}: missing site source file(s) {missing}")
    chart = _chart_js(site_src)
    tmp = staging_dir(out_dir)
    try:
        for name in SITE_FILES:
            shutil.copy2(site_src / name, tmp / name)
        (tmp / "vendor").mkdir()
        shutil.copy2(chart, tmp / "vendor" / "chart.umd.js")
        version = json.loads((chart.parents[1] / "package.json").read_text())["version"]
        (tmp / "vendor" / "CHARTJS_VERSION").write_text(version + "\n")
        # ensure_ascii keeps U+2028/2029 and any odd bytes escaped inside the JS string literals
        payload = json.dumps(dashboard, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
        # < > & occur only inside JSON strings; escaping them keeps the payload inert even if inlined in HTML
        payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        (tmp / "data.js").write_text(f"window.BASEWEIGHT_DATA = {payload};\n", encoding="utf-8")
        tmp.chmod(0o755)
        replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / "index.html"
