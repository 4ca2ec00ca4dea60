"""Screenshot a built dashboard in headless Chromium.

    python scripts/screenshot_dashboard.py SITE_DIR OUT.png                      # the top of the page
    python scripts/screenshot_dashboard.py SITE_DIR curve.png --task banking77 --model smollm2-135m \
        --scenario mid --element curve-body                                      # one section, e.g. the curve

``--element`` takes an element id of site/index.html: curve-body (learning curve, its table and the break-even
heat map), leaderboard, comparisons, cross-task, task.
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import Select


def main(site_dir: str, out: str, *, task: str | None = None, model: str | None = None,
         scenario: str | None = None, element: str | None = None, width: int = 1400, height: int = 2200) -> None:
    profile = tempfile.mkdtemp(prefix="bw-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--window-size={width},{height}", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        driver.get((Path(site_dir).resolve() / "index.html").as_uri())
        for select_id, value in (("task-select", task), ("scenario-select", scenario), ("curve-model-select", model)):
            if value:
                Select(driver.find_element("id", select_id)).select_by_value(value)
        time.sleep(1)  # let the page settle (Chart.js animations are off)
        if element:
            target = driver.find_element("id", element)
            # the sticky task/scenario bar would otherwise cover the top of the element
            driver.execute_script("document.getElementById('controls').style.position = 'static';"
                                  "arguments[0].scrollIntoView()", target)
            target.screenshot(out)
        else:
            driver.save_screenshot(out)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    print(out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("site_dir")
    parser.add_argument("out")
    parser.add_argument("--task")
    parser.add_argument("--model", help="open model whose curve to show (the curve's model selector)")
    parser.add_argument("--scenario", choices=["low", "mid", "high"])
    parser.add_argument("--element", help="id of the element to capture instead of the window")
    args = parser.parse_args()
    main(args.site_dir, args.out, task=args.task, model=args.model, scenario=args.scenario, element=args.element)
