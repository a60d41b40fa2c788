"""Screenshots of the web console's main screens → docs/screenshots/ (README shows them).

Starts ``jiayi serve --demo`` on a free loopback port with a fresh demo district, signs in as
the demo's people in a headless Chromium (Debian's chromium + chromium-driver) at 1366×768,
and saves one PNG per screen.  Run: ``.venv/bin/python scripts/console_screenshots.py``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import requests  # noqa: E402
from browser.support import demo_server, make_driver, open_picker, sign_in  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

from fhir_server.auth import dev_issuer  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def shoot(driver, name: str, full_height: bool = True) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 300).until(  # the dashboard's cards are filled in one request each
        lambda d: not d.find_elements(By.CSS_SELECTOR, "section[data-src]:not([data-loaded])"))
    time.sleep(0.5)  # the charts draw once the scripts ran
    if full_height:
        height = driver.execute_script("return Math.min(document.body.scrollHeight, 2400)")
        driver.set_window_size(1366, max(768, height))
    driver.save_screenshot(str(OUT / f"{name}.png"))
    driver.set_window_size(1366, 768)
    print(f"docs/screenshots/{name}.png")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work, demo_server(Path(work), residents=500) as (root, database):
        driver = make_driver()
        try:
            driver.get(f"{root}/console/login")
            driver.find_element(By.ID, "sign-in").click()
            shoot(driver, "console-sign-in", full_height=False)
            doctor = sign_in(driver, root, role="family-doctor")
            shoot(driver, "console-worklist")
            driver.get(f"{root}/console/residents/{_resident_with_readings(root, database, doctor)}")
            shoot(driver, "console-resident")
            hospital = _hospital_person(driver, root)
            sign_in(driver, root, person=hospital)
            driver.get(f"{root}/console/desk")
            shoot(driver, "console-referral-desk")
            sign_in(driver, root, role="officer")
            shoot(driver, "console-dashboard")
            driver.get(f"{root}/console/dashboard?lang=en")
            shoot(driver, "console-dashboard-en", full_height=False)
            driver.get(f"{root}/console/dashboard?lang=zh")
            sign_in(driver, root, role="engineer")
            shoot(driver, "console-monitor", full_height=False)
            driver.set_window_size(1024, 1366)  # a tablet, portrait
            sign_in(driver, root, role="family-doctor")
            driver.save_screenshot(str(OUT / "console-worklist-tablet.png"))
            print("docs/screenshots/console-worklist-tablet.png")
        finally:
            driver.quit()


def _resident_with_readings(root: str, database: str, doctor: str) -> str:
    """A resident of the doctor with blood pressure readings (the doctor's own token finds them)."""
    token = dev_issuer.issue(database, {"sub": doctor, "fhirUser": doctor, "scope": "user/*.rs",
                                        "aud": f"{root}/fhir"})
    bundle = requests.get(f"{root}/fhir/Observation?code=http://loinc.org|1558-6&_count=1",
                          headers={"Authorization": f"Bearer {token}"}, timeout=60).json()
    if not bundle.get("entry"):
        bundle = requests.get(f"{root}/fhir/Observation?code=http://loinc.org|85354-9&_count=1",
                              headers={"Authorization": f"Bearer {token}"}, timeout=60).json()
    return bundle["entry"][0]["resource"]["subject"]["reference"].split("/")[1]


def _hospital_person(driver, root: str) -> str:
    """The hospital doctor whose desk has the most referrals waiting (from the picker's list)."""
    options = [o.get_attribute("value") for o in open_picker(driver, root).options
               if o.get_attribute("data-role") == "hospital"]
    best, most = options[0], -1
    for person in options[:12]:
        sign_in(driver, root, person=person)
        driver.get(f"{root}/console/desk")
        waiting = sum(int(e.text) for e in driver.find_elements(By.CSS_SELECTOR, "[data-count]"))
        if waiting > most:
            best, most = person, waiting
    return best


if __name__ == "__main__":
    main()
