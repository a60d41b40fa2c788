"""The HTML report as a vendor sees it, in real headless Chromium: it renders (title, verdict,
summary per capability, in Chinese and English), a failed test is folded and expands on a click
to its failed assert with the request and response, and no credential is shown."""

from __future__ import annotations

import pytest
from conformance_browser import headless_chromium

from fhir_server.conformance_kit.html_report import html_report
from fhir_server.conformance_kit.results import ActionResult, Exchange, ScriptResult, TestResult, masked

SECRET = "eyJhbGciOiJSUzI1NiJ9.secret-token.signature"


def sample_results() -> list[ScriptResult]:
    exchange = Exchange("POST", "https://vendor.example/fhir/Contract",
                        masked({"Authorization": f"Bearer {SECRET}", "Content-Type": "application/fhir+json"}),
                        '{"resourceType":"Contract","status":"executed"}', 201,
                        {"Content-Type": "application/fhir+json"}, '{"resourceType":"Contract","id":"c2"}')
    passed = TestResult("SRV-CON-01", "SRV-CON-01",
                        {"en": "A valid contract is accepted.", "zh": "有效的签约协议被接受。"}, "SPEC §4 Contracts",
                        [ActionResult("assert", "signed", "pass", "HTTP 201")])
    failed = TestResult("SRV-CON-02", "SRV-CON-02",
                        {"en": "A second contract in force is refused.", "zh": "同期第二份有效协议被拒绝。"},
                        "SPEC §4: One contract in force per resident",
                        [ActionResult("operation", "create", "pass", "POST Contract → 201", exchange),
                         ActionResult("assert", "refused", "fail", "expected HTTP status in 409,422, got 201",
                                      exchange)])
    contracts = ScriptResult("server-contract-signing", "https://jiayi.dev/fhir/TestScript/server-contract-signing",
                             {"en": "Contracts", "zh": "签约"}, "server", "contracts", True, tests=[passed, failed])
    metadata = ScriptResult("server-metadata", "https://jiayi.dev/fhir/TestScript/server-metadata",
                            {"en": "CapabilityStatement", "zh": "能力声明"}, "server", "metadata", True,
                            tests=[TestResult("SRV-META-01", "SRV-META-01", {"en": "fhirVersion", "zh": "版本"},
                                              "SPEC §2", [ActionResult("assert", "fhir-version", "pass", "ok")])])
    return [metadata, contracts]


@pytest.mark.parametrize(("lang", "title", "verdict"), [("en", "Jiayi IG conformance report", "NOT CONFORMANT"),
                                                        ("zh", "家医实施指南一致性测试报告", "不符合")])
def test_the_report_renders_and_failed_items_expand(tmp_path, lang, title, verdict):
    page = tmp_path / "report.html"
    page.write_text(html_report(sample_results(), lang=lang, target="https://vendor.example/fhir", run_id="abcd1234",
                                date="2026-12-07T00:00:00Z", version="0.1.0", fingerprint="0123456789abcdef",
                                conformant=False), encoding="utf-8")
    assert SECRET not in page.read_text(encoding="utf-8")
    with headless_chromium() as browser:
        from selenium.webdriver.common.by import By

        browser.get(page.as_uri())
        assert browser.title == title
        assert verdict in browser.find_element(By.ID, "verdict").text
        rows = browser.find_elements(By.CSS_SELECTOR, "table.summary tr")
        assert len(rows) == 3  # a header and one row per capability
        assert "0123456789abcdef" in browser.find_element(By.CSS_SELECTOR, "table.meta").text
        failed = browser.find_element(By.ID, "test-SRV-CON-02")
        response = failed.find_element(By.CSS_SELECTOR, "pre.response")
        assert failed.get_attribute("open") is None and not response.is_displayed()
        failed.find_element(By.TAG_NAME, "summary").click()
        assert failed.get_attribute("open") is not None and response.is_displayed()
        assert "HTTP 201" in response.text and '"id": "c2"' in response.text
        request = failed.find_element(By.CSS_SELECTOR, "pre.request").text
        assert "Bearer ********" in request and SECRET not in request
        assert "got 201" in failed.find_element(By.CSS_SELECTOR, ".failure").text
        passed = browser.find_element(By.ID, "test-SRV-CON-01")
        assert passed.get_attribute("data-result") == "pass"
