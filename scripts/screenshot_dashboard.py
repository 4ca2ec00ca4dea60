"""Screenshot a built dashboard in headless Chromium: python scripts/screenshot_dashboard.py SITE_DIR OUT.png"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def main(site_dir: str, out: str, width: int = 1400, height: int = 2200) -> None:
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
        time.sleep(2)  # let Chart.js finish its animations
        driver.save_screenshot(out)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    print(out)


if __name__ == "__main__":
    main(*sys.argv[1:3])
