"""The README's screenshot of the conformance kit's HTML report (docs/screenshots/), taken in
headless Chromium (Debian packages ``chromium`` and ``chromium-driver``; ``pip install selenium``).

    python scripts/conformance_screenshot.py [--lang en|zh]

Starts a Jiayi with one deliberate defect (the one-contract-in-force rule switched off:
tests/e2e/broken_jiayi.py) on a free loopback port, runs ``jiayi conformance run`` against it,
opens the report with the failed test expanded and saves a PNG.  Nothing stays running."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.servers import free_port, stop  # noqa: E402


def _wait(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{base}/metadata", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the server at {base} did not start")


def screenshot(report: Path, target: Path, expand: str) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,1600",
                 "--force-device-scale-factor=1"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"), options=options)
    try:
        driver.get(report.as_uri())
        failed = driver.find_element(By.ID, f"test-{expand}")
        failed.find_element(By.TAG_NAME, "summary").click()
        driver.execute_script("document.querySelectorAll('pre').forEach(p => p.style.maxHeight = '14rem')")
        top = driver.execute_script("return arguments[0].getBoundingClientRect().bottom + window.scrollY", failed)
        driver.set_window_size(1200, int(min(top + 40, 2600)))
        driver.save_screenshot(str(target))
    finally:
        driver.quit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", default="en", choices=["en", "zh"])
    args = parser.parse_args()
    out = ROOT / "docs" / "screenshots" / f"conformance-report-{args.lang}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        port = free_port()
        base = f"http://127.0.0.1:{port}/fhir"
        env = {k: v for k, v in os.environ.items() if not k.startswith("JIAYI_")} | {"XDG_RUNTIME_DIR": work}
        process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "e2e" / "broken_jiayi.py"),
                                    "one-contract-rule", "serve", "--port", str(port),
                                    "--database", f"sqlite:///{work}/jiayi.sqlite3"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work, env=env,
                                   start_new_session=True)
        try:
            _wait(base, process)
            subprocess.run([sys.executable, "-m", "fhir_server.cli", "conformance", "run", "--target", base,
                            "--lang", args.lang, "--output", f"{work}/report", "--only", "metadata",
                            "--only", "contracts", "--only", "two-card"], cwd=ROOT, check=False, env=env)
        finally:
            stop(process)
        screenshot(Path(work) / "report" / "report.html", out, "SRV-CON-02")
    print(out.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
