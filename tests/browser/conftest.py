"""Browser fixtures: one demo server and one headless Chromium for the module's tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .support import CHROMEDRIVER, CHROMIUM, demo_server, make_driver

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def console_server(tmp_path_factory) -> Iterator[tuple[str, str]]:
    if not (CHROMIUM and CHROMEDRIVER):
        message = "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("JIAYI_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with demo_server(tmp_path_factory.mktemp("console")) as started:
        yield started


@pytest.fixture(scope="session")
def browser(console_server, tmp_path_factory):
    driver = make_driver(downloads=tmp_path_factory.mktemp("downloads"))
    try:
        yield driver
    finally:
        driver.quit()
