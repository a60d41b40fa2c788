"""Driving the console in a real headless Chromium (Debian's ``chromium`` and ``chromium-driver``)
against a started ``jiayi serve --demo``: used by the browser tests and by
``scripts/console_screenshots.py``."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from benchmarks.servers import die_with_parent, free_port, stop

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
START_TIMEOUT = 300.0  # the demo district is generated and loaded first


@contextlib.contextmanager
def demo_server(workdir: Path, residents: int = 300) -> Iterator[tuple[str, str]]:
    """``jiayi serve --demo`` on a free loopback port with a token needed by the API too
    (``JIAYI_AUTH_OPTIONAL=0``); yields (the server's root URL, its database URL)."""
    port = free_port()
    database = f"sqlite:///{workdir / 'demo.sqlite3'}"
    command = [sys.executable, "-m", "fhir_server.cli", "serve", "--demo", "--residents", str(residents),
               "--host", "127.0.0.1", "--port", str(port), "--database", database]
    env = {**os.environ, "XDG_RUNTIME_DIR": str(workdir), "JIAYI_AUTH_OPTIONAL": "0"}
    for name in ("JIAYI_BASE_URL", "JIAYI_AUTH_JWKS", "JIAYI_AUTH_ISSUER", "JIAYI_AUTH_AUDIENCE", "JIAYI_TOKEN"):
        env.pop(name, None)
    stderr = workdir / "stderr.log"
    with (workdir / "stdout.log").open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=workdir,
                                   start_new_session=True,
                                   preexec_fn=die_with_parent if sys.platform == "linux" else None)  # noqa: PLW1509
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"jiayi serve --demo did not start:\n{stderr.read_text(errors='replace')[-3000:]}")
            with contextlib.suppress(requests.ConnectionError, requests.Timeout):
                if requests.get(f"{root}/fhir/metadata", timeout=5).status_code == 200:
                    break
            time.sleep(0.3)
        yield root, database
    finally:
        stop(process)


def make_driver(width: int = 1366, height: int = 768, downloads: Path | None = None):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or "chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--lang=zh-CN", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    if downloads is not None:
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads)})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER or "chromedriver"))
    driver.set_page_load_timeout(120)
    return driver


def open_picker(driver, root: str):
    """Signed out, at the development issuer's page (the identity provider's, in a deployment):
    its people picker as a Select."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver.delete_all_cookies()
    driver.get(f"{root}/console/login")
    driver.find_element(By.ID, "sign-in").click()
    try:
        WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.ID, "person"))
    except TimeoutException:
        raise AssertionError(f"no sign-in page at {driver.current_url}: "
                             f"{driver.find_element(By.TAG_NAME, 'body').text[:800]}") from None
    return Select(driver.find_element(By.ID, "person"))


def sign_in(driver, root: str, person: str | None = None, role: str | None = None) -> str:
    """Sign in through the console's OpenID Connect flow, picking ``person`` (an option value)
    or the first person of ``role`` on the development issuer's page; returns who."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    select = open_picker(driver, root)
    if person is None:
        person = next(o.get_attribute("value") for o in select.options if o.get_attribute("data-role") == role)
    select.select_by_value(person)
    driver.find_element(By.ID, "continue").click()
    try:  # signed in: the header names the user
        WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.ID, "user-name"))
    except TimeoutException:
        raise AssertionError(f"sign-in as {person} failed at {driver.current_url}: "
                             f"{driver.find_element(By.TAG_NAME, 'body').text[:800]}") from None
    return person


def canvas_pixels(driver, element_id: str) -> int:
    """How many pixels of the chart's canvas are drawn (not transparent)."""
    return driver.execute_script("""
        const canvas = document.querySelector('#' + arguments[0] + ' canvas');
        if (!canvas) { return 0; }
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let drawn = 0;
        for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) { drawn++; } }
        return drawn;""", element_id)


def press_and_read_flash(driver, button):
    """Press a form's button and wait for the page the POST lands on (the button's page gone,
    the next one's flash message shown); returns the flash element."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    button.click()
    try:
        WebDriverWait(driver, 60).until(ec.staleness_of(button))
        return WebDriverWait(driver, 60).until(lambda d: d.find_element(By.CSS_SELECTOR, ".flash"))
    except TimeoutException:
        raise AssertionError(f"no flash message at {driver.current_url}: "
                             f"{driver.find_element(By.TAG_NAME, 'body').text[:800]}") from None
