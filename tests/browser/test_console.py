"""The console in a real browser (issue 22): sign in through OpenID Connect + PKCE, the
worklist and a renewal from it, the resident's BP chart drawn, a referral accepted at the
desk, the dashboard's numbers following the period, and accessibility basics."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from fhir_server.auth import dev_issuer

from .support import canvas_pixels, press_and_read_flash, sign_in

pytestmark = pytest.mark.browser


def api(console_server, path: str, scope: str = "system/*.rs", **claims) -> dict:
    """A FHIR search of the test itself (not the console's), with a development token."""
    root, database = console_server
    token = dev_issuer.issue(database, {"sub": "browser-test", "scope": scope, "aud": f"{root}/fhir", **claims})
    response = requests.get(f"{root}/fhir/{path}", headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def count(browser, name: str) -> int:
    return int(browser.find_element(By.CSS_SELECTOR, f'[data-count="{name}"]').text)


def test_sign_in_opens_the_worklist(browser, console_server):
    root, _ = console_server
    browser.get(f"{root}/console/worklist")
    assert "/console/login" in browser.current_url  # not signed in: to the sign-in page
    sign_in(browser, root, role="family-doctor")
    assert browser.current_url.endswith("/console/worklist")
    for name in ("overdue", "upcoming", "renewals", "proposals", "returns", "two_card"):
        assert browser.find_element(By.ID, f"h-{name}")
    assert count(browser, "renewals") > 0
    assert count(browser, "overdue") > 0  # the demo's health-management plans with a window past
    names = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#t-overdue tbody a")]
    assert names and not any(n.startswith("Patient/") for n in names)  # residents by name
    soon = [d for table in browser.find_elements(By.ID, "t-upcoming")  # no table when nothing is due soon
            for d in re.findall(r"\d{4}-\d{2}-\d{2}", table.text)]
    today = dt.date.today()
    assert all(today <= dt.date.fromisoformat(d) <= today + dt.timedelta(days=14) for d in soon)


def test_the_api_without_a_token_is_refused(console_server):
    root, _ = console_server
    assert requests.get(f"{root}/fhir/Patient", timeout=30).status_code == 401  # the console got no back door


def test_renew_a_contract_from_the_worklist(browser, console_server):
    root, _ = console_server
    sign_in(browser, root, role="family-doctor")
    assert count(browser, "renewals") > 0
    row = browser.find_element(By.CSS_SELECTOR, "#t-renewals tbody tr")
    resident = row.find_element(By.TAG_NAME, "a").text
    action = row.find_element(By.TAG_NAME, "form").get_attribute("action")
    old_id = re.search(r"/contracts/([\w-]+)/renew", action).group(1)
    flash = press_and_read_flash(browser, row.find_element(By.CSS_SELECTOR, "button.renew"))
    assert "ok" in flash.get_attribute("class"), flash.text
    new_id = re.search(r"Contract/([\w-]+)", flash.text).group(1)
    assert not browser.find_elements(By.CSS_SELECTOR, f'form[action$="/contracts/{old_id}/renew"]')  # renewed
    renewal = api(console_server, f"Contract/{new_id}")
    assert renewal["subject"][0].get("display", resident) == resident
    assert any(e["valueReference"]["reference"] == f"Contract/{old_id}" for e in renewal["extension"]
               if e["url"].endswith("jiayi-renews"))


def test_the_resident_view_draws_the_blood_pressure_chart(browser, console_server):
    root, _ = console_server
    practitioner = sign_in(browser, root, role="family-doctor")
    # a resident of this doctor with blood pressure readings, as the doctor's own token finds them
    found = api(console_server, "Observation?code=http://loinc.org|85354-9&_count=1", scope="user/*.rs",
                fhirUser=practitioner)
    patient_id = found["entry"][0]["resource"]["subject"]["reference"].split("/")[1]
    browser.get(f"{root}/console/residents/{patient_id}")
    WebDriverWait(browser, 20).until(lambda d: canvas_pixels(d, "bp-chart") > 500)
    assert "*" in browser.find_element(By.CSS_SELECTOR, ".idnum").text  # the national identifier is masked
    assert browser.find_element(By.ID, "h-contract")


def test_accept_a_referral_at_the_desk(browser, console_server):
    root, _ = console_server
    tasks = api(console_server, "Task?status=requested&intent=order&_count=50")["entry"]
    task = next(e["resource"] for e in tasks if e["resource"].get("owner", {}).get("reference", "")
                .startswith("Organization/org-hosp"))
    roles = api(console_server, f"PractitionerRole?organization={task['owner']['reference']}")["entry"]
    sign_in(browser, root, person=roles[0]["resource"]["practitioner"]["reference"])
    browser.get(f"{root}/console/desk")
    row = browser.find_element(By.CSS_SELECTOR, f'#t-requested tr[data-task="{task["id"]}"]')
    flash = press_and_read_flash(browser, row.find_element(By.CSS_SELECTOR, "button.accept"))
    assert "ok" in flash.get_attribute("class"), flash.text
    assert browser.find_element(By.CSS_SELECTOR, f'#t-accepted tr[data-task="{task["id"]}"]')
    assert api(console_server, f"Task/{task['id']}")["status"] == "accepted"


def test_the_dashboard_follows_the_period(browser, console_server):
    root, _ = console_server
    sign_in(browser, root, role="officer")
    assert "/console/dashboard" in browser.current_url
    this_year = _scores(browser)
    assert len(this_year) >= 10
    Select(browser.find_element(By.ID, "preset")).select_by_value("last-year")
    browser.find_element(By.ID, "apply").click()
    WebDriverWait(browser, 60).until(ec.text_to_be_present_in_element_value((By.ID, "start"), "-01-01"))
    last_year = _scores(browser)
    assert last_year != this_year
    assert canvas_pixels(browser, "chart-jiayi-coverage") > 100
    csv = requests.get(browser.find_element(By.LINK_TEXT, "导出 CSV").get_attribute("href"), timeout=60,
                       cookies={c["name"]: c["value"] for c in browser.get_cookies()})
    assert csv.status_code == 200 and csv.text.lstrip("\ufeff").startswith("measure,title,stratum")
    WebDriverWait(browser, 240).until(lambda d: "%" in d.find_element(
        By.CSS_SELECTOR, '[data-previous="jiayi-coverage"]').text)  # 上期 xx.x%, asked after the cards
    browser.get(browser.find_element(By.CSS_SELECTOR, "#h-jiayi-coverage ~ .links a").get_attribute("href"))
    names = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "ul.subjects a")]
    assert 0 < len(names) <= 100 and not any(n.startswith("Patient/") for n in names)  # the drill-down, by name


def test_accessibility_basics(browser, console_server):
    root, _ = console_server
    sign_in(browser, root, role="family-doctor")
    resident = browser.find_element(By.CSS_SELECTOR, "#t-renewals tbody a").get_attribute("href")
    for path in ("/console/worklist", "/console/desk", "/console/dashboard", "/console/search?q=w",
                 resident.removeprefix(root)):
        browser.get(root + path)
        unlabelled = browser.execute_script("""
            return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')].filter(el =>
                !(el.id && document.querySelector('label[for="' + el.id + '"]')) && !el.getAttribute('aria-label'))
                .map(el => el.outerHTML);""")
        assert unlabelled == [], path
        assert browser.find_element(By.TAG_NAME, "h1").text
        low = browser.execute_script(CONTRAST_CHECK)
        assert low == [], (path, low[:5])
    # the worklist by keyboard alone: Tab reaches a resident's link, Enter opens the resident
    browser.get(root + "/console/worklist")
    target = browser.find_element(By.CSS_SELECTOR, "#t-renewals tbody a")
    body = browser.find_element(By.TAG_NAME, "body")
    for _ in range(80):
        body.send_keys(Keys.TAB) if browser.switch_to.active_element == body else \
            browser.switch_to.active_element.send_keys(Keys.TAB)
        if browser.switch_to.active_element == target:
            break
    assert browser.switch_to.active_element == target
    outline = browser.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # a visible focus ring
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    WebDriverWait(browser, 20).until(lambda d: "/console/residents/" in d.current_url)


def _scores(browser) -> dict[str, str]:
    """Every card's score, once each card has been filled in."""
    WebDriverWait(browser, 240).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, "section[data-src]:not([data-loaded])"))
    return {e.get_attribute("data-score"): e.text for e in browser.find_elements(By.CSS_SELECTOR, "[data-score]")}


CONTRAST_CHECK = """
function rgb(value) { const m = value.match(/[\\d.]+/g).map(Number); return m.length > 3 && m[3] === 0 ? null : m; }
function lum(c) { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); }
function background(el) { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
  if (c) { return c; } } return [255, 255, 255]; }
const low = [];
for (const el of document.querySelectorAll('a, button, td, th, h1, h2, p, label, span, small, dt, dd')) {
  if (!el.offsetParent || !el.textContent.trim()) { continue; }
  const fg = rgb(getComputedStyle(el).color), bg = background(el);
  const a = lum(fg), b = lum(bg), ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  if (ratio < 4.5) { low.push(el.tagName + ' ' + el.textContent.trim().slice(0, 20) + ' ' + ratio.toFixed(2)); }
}
return low;"""


def test_the_monitor_shows_the_demo_import_and_lab_messages(browser, console_server):
    """``jiayi serve --demo`` sends a sample import (two rows wrong) and two laboratory results
    (one not a number) through the adapters: the integration engineer sees both, with the
    refused rows in words and the AE, in the integration monitor."""
    root, _ = console_server
    sign_in(browser, root, role="engineer")
    browser.get(f"{root}/console/monitor")
    imports = browser.find_element(By.CSS_SELECTOR, '[aria-labelledby="h-imports"]').text
    assert "高血压随访-2025Q1.csv" in imports and "收缩压 must be a whole number" in imports
    hl7 = browser.find_element(By.CSS_SELECTOR, '[aria-labelledby="h-hl7"]').text
    assert "LIS-DEMO-1" in hl7 and "LIS-DEMO-2" in hl7 and "AE" in hl7 and "AA" in hl7
