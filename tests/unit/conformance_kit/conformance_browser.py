"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) through Selenium, for the
tests that look at the conformance kit's HTML report as a browser renders it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def headless_chromium(width: int = 1280, height: int = 900) -> Iterator[object]:
    required = os.environ.get("JIAYI_REQUIRE_BROWSER") == "1"  # CI: a missing browser is a failure
    try:
        from selenium import webdriver
    except ImportError:
        (pytest.fail if required else pytest.skip)("selenium is not installed (the test extra)")
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        (pytest.fail if required else pytest.skip)(
            "headless Chromium is not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--window-size={width},{height}", "--lang=zh-CN"):
        options.add_argument(flag)
    from selenium.webdriver.chrome.service import Service

    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
