"""The built dashboard driven in headless Chromium, as a user sees it."""

import functools
import http.server
import math
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

from report_fixtures import HOSTILE, REPO

pytestmark = pytest.mark.browser

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CANVASES = ["chart-cross", "chart-scatter", "chart-tco", "chart-errors", "chart-latency", "chart-loss", "chart-curve"]


@pytest.fixture(scope="module")
def served_site(dashboard, tmp_path_factory):
    from baseweight_assets.report.site_build import build_site
    index = build_site(dashboard, tmp_path_factory.mktemp("site") / "dist")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(index.parent))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html", index
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def driver():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail(f"browser test needs {CHROMIUM} and {CHROMEDRIVER} (Debian: chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    profile = tempfile.mkdtemp(prefix="bw-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,3200", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()
    shutil.rmtree(profile, ignore_errors=True)


CHART_STATE = """
return arguments[0].map(function (id) {
  var c = Chart.getChart(id);
  if (!c) return {id: id, points: 0};
  var canvas = document.getElementById(id);
  var px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data, ink = 0;
  for (var i = 3; i < px.length; i += 4 * 13) if (px[i] > 0) ink++;
  return {id: id, points: c.data.datasets.reduce(function (n, d) { return n + d.data.length; }, 0), ink: ink,
          data: JSON.stringify(c.data.datasets.map(function (d) { return d.data; }))};
});"""


def _charts(driver):
    return {c["id"]: c for c in driver.execute_script(CHART_STATE, CANVASES)}


def _select(driver, element_id, value):
    from selenium.webdriver.support.ui import Select
    Select(driver.find_element("id", element_id)).select_by_value(value)


def test_dashboard_in_headless_chromium(served_site, driver, dashboard):
    driver.get(served_site[0])
    assert driver.execute_script("return typeof Chart") == "function", "Chart.js was not bundled"
    assert driver.execute_script("return Chart.version") == "4.4.7"

    charts = _charts(driver)
    for cid, c in charts.items():
        assert c["points"] > 0, f"{cid}: no data"
        assert c["ink"] > 0, f"{cid}: canvas is blank"

    # flags are visible at the top and on cells
    flags = driver.find_element("id", "flags")
    assert flags.is_displayed() and "Smoke profile" in flags.text and "stand-in" in flags.text
    lb = driver.find_element("id", "leaderboard").text
    assert "API stand-in" in lb and "skipped" in lb

    # the hostile model output is text, not an element
    outputs = [e.text for e in driver.find_elements("css selector", "pre.model-output")]
    assert HOSTILE in outputs
    assert driver.execute_script("return document.querySelectorAll('img').length") == 0

    # switching the GPU price scenario changes the TCO and scatter charts
    before = _charts(driver)
    _select(driver, "scenario-select", "high")
    after = _charts(driver)
    assert after["chart-tco"]["data"] != before["chart-tco"]["data"]
    assert after["chart-scatter"]["data"] != before["chart-scatter"]["data"]
    assert after["chart-errors"]["data"] == before["chart-errors"]["data"]  # quality does not depend on price

    # switching the task changes every per-task chart and the leaderboard
    first_rows = driver.find_element("id", "leaderboard").text
    other = dashboard["task_order"][1]
    _select(driver, "task-select", other)
    switched = _charts(driver)
    for cid in ("chart-scatter", "chart-tco", "chart-errors", "chart-latency"):
        assert switched[cid]["data"] != after[cid]["data"], f"{cid} did not change with the task"
        assert switched[cid]["points"] > 0 and switched[cid]["ink"] > 0
    assert driver.find_element("id", "task-title").text == dashboard["tasks"][other]["name"]
    assert driver.find_element("id", "leaderboard").text != first_rows
    assert "Partial data" in driver.find_element("id", "task-flags").text

    # sorting: clicking the $/query header orders rows by cost
    driver.find_element("css selector", "#leaderboard th[data-key='cpq']").click()
    order = driver.execute_script(
        "return [...document.querySelectorAll('#leaderboard tbody tr')].map(r => r.dataset.variant)")
    cells = dashboard["tasks"][other]["cells"]
    costs = [cells[k]["cost"]["by_scenario"]["high"]["per_query"] for k in order if cells[k]["status"] == "ok"]
    assert costs == sorted(costs, reverse=True)

    out = REPO / "test-artifacts"
    out.mkdir(exist_ok=True)
    _select(driver, "task-select", dashboard["task_order"][0])
    _select(driver, "scenario-select", "mid")
    driver.save_screenshot(str(out / "dashboard.png"))

    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def test_dashboard_works_from_file_url(served_site, driver):
    driver.get(served_site[1].as_uri())
    charts = _charts(driver)
    assert all(c["points"] > 0 and c["ink"] > 0 for c in charts.values()), charts
    assert HOSTILE in [e.text for e in driver.find_elements("css selector", "pre.model-output")]
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _texts(driver, selector):
    return [e.text for e in driver.find_elements("css selector", selector)]


def _surface_states(driver):
    return driver.execute_script(
        "return [...document.querySelectorAll('#surface tbody td')].map(td => td.className)")


def test_incomplete_cells_statistics_and_curves_in_headless_chromium(served_site, driver, dashboard):
    driver.get(served_site[0])
    _select(driver, "task-select", "banking77")
    _select(driver, "scenario-select", "mid")
    task = dashboard["tasks"]["banking77"]

    # the revoked-key cell: shown as incomplete with its missing share and reason, in no chart or comparison
    revoked = "gpt-5.4-nano__5-shot"
    row = driver.find_element("css selector", f"#leaderboard tr[data-variant='{revoked}']")
    assert row.get_attribute("class") == "incomplete"
    assert "incomplete · 100% missing" in row.text and "nothing scored" in row.text and "HTTP 401" in row.text
    label = "GPT-5.4 Nano · 5-shot"
    assert label not in driver.find_element("id", "comparisons").text
    scatter = driver.execute_script("return Chart.getChart('chart-scatter').data.datasets.flatMap(d => d.data)"
                                    ".map(p => p.name)")
    assert label not in scatter and len(scatter) > 0
    assert "GPT-5.4 Nano · 5-shot" in driver.find_element("id", "cross-table").text  # listed as not compared
    assert "incomplete" in driver.find_element("id", "flags").text

    # the statistics are stated next to their tables
    rules = driver.find_element("id", "comparisons-rule").text
    assert "Holm (1979) across the 5 comparisons" in rules and "picked on the test set" in rules
    assert "seed 0" in rules and "2/201" in rules
    assert "not corrected across tasks" in driver.find_element("id", "cross-rule").text
    header = _texts(driver, "#comparisons th")
    assert {"p (Holm)", "p (selection, pairs)", "MDE"} <= set(header)
    # 20 LoRA x API pairs at 200 permutations cannot adjust below 40/201: said, not read as "no effect"
    api_rows = [r for r in _texts(driver, "#comparisons tbody tr") if r.startswith("lora vs api")]
    assert api_rows and all("0.199 (20, at the floor)" in r for r in api_rows)
    assert "0.199 (20 pairs, at the floor)" in driver.find_element("id", "cross-table").text

    # verdicts in the cross-task summary, one per task and open model
    verdicts = _texts(driver, "#verdicts li")
    curves = dashboard["curves"]["by_task"]
    assert len(verdicts) == sum(len(by) for by in curves.values())
    assert curves["banking77"]["qwen3-8b"]["verdict"] in verdicts[0]

    # the curve: points with CIs, the fit, API bands, N*; its table and the break-even heat map
    curve = curves["banking77"]["qwen3-8b"]
    assert driver.find_element("id", "curve-verdict").text == curve["verdict"]
    legend = driver.execute_script("return Chart.getChart('chart-curve').data.datasets.map(d => d.label)")
    assert any(t.startswith("fit: m = a + b ln N") for t in legend)
    assert any(t.startswith(f"N* = {math.ceil(curve['n_star']['value']):,}") for t in legend)
    assert "GPT-5.4 Mini (zero-shot) (best API)" in legend
    rows = driver.find_elements("css selector", "#curve-table tbody tr")
    assert len(rows) == len(curve["points"]) + len(curve["skipped"]) + len(curve["not_plotted"])
    mid = _surface_states(driver)
    surface = curve["surface"]
    assert len(mid) == len(surface["n"]) * len(surface["volumes"])
    want = [f"s-{s}" for row in reversed(surface["states"]["mid"]) for s in row]
    assert mid == want
    assert "(N*)" in driver.find_element("id", "surface").text

    # the scenario switch moves the surface; the model switch changes the curve
    _select(driver, "scenario-select", "high")
    high = _surface_states(driver)
    assert high == [f"s-{s}" for row in reversed(surface["states"]["high"]) for s in row] and high != mid
    before = _charts(driver)["chart-curve"]["data"]
    _select(driver, "curve-model-select", "smollm2-135m")
    assert driver.find_element("id", "curve-verdict").text == curves["banking77"]["smollm2-135m"]["verdict"]
    after = _charts(driver)["chart-curve"]
    assert after["data"] != before and after["points"] > 0 and after["ink"] > 0
    assert "3 · sd" in driver.find_element("id", "leaderboard").text  # training seeds of the SmolLM2 LoRA cells

    # code task: the sandbox backend of each cell is shown; McNemar is the test for pass@1
    _select(driver, "task-select", "mbpp")
    assert "sandbox: bubblewrap+cgroup-v1" in driver.find_element("id", "leaderboard").text
    assert "mcnemar" in driver.find_element("id", "comparisons").text
    assert not driver.find_element("id", "curve-model-select").find_element("xpath", "..").is_displayed()
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
