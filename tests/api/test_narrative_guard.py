"""A narrative is checked on write: active content and XHTML that is not well-formed get a 400
OperationOutcome naming Patient.text.div, so nothing is stored that breaks later XML reads or
runs in a client's browser; ``$validate`` reports the same (issue 18)."""

from __future__ import annotations

from tests.api.conftest import patient

JSON = {"Content-Type": "application/fhir+json"}
NS = 'xmlns="http://www.w3.org/1999/xhtml"'


def _with_div(unique: str, div: str) -> dict:
    return patient(unique, text={"status": "generated", "div": div})


def _locations(outcome: dict) -> list[str]:
    return [e for i in outcome["issue"] if i["severity"] == "error" for e in i.get("expression", [])]


def test_script_in_a_narrative_is_refused(client, unique):
    response = client.post("/fhir/Patient", json=_with_div(unique, f"<div {NS}><script>alert(1)</script></div>"),
                           headers=JSON)
    assert response.status_code == 400
    assert response.json["resourceType"] == "OperationOutcome"
    assert "Patient.text.div" in _locations(response.json)
    assert any(i["code"] == "security" for i in response.json["issue"])
    assert client.get(f"/fhir/Patient?identifier=urn:oid:2.16.156.10011.1.2|{unique}").json["total"] == 0


def test_event_handler_is_refused_on_update_too(client, unique):
    created = client.post("/fhir/Patient", json=_with_div(unique, f"<div {NS}><p>ok</p></div>"), headers=JSON)
    assert created.status_code == 201
    body = {**created.json,
            "text": {"status": "generated", "div": f'<div {NS}><img src="x" onerror="alert(1)"/></div>'}}
    response = client.put(f"/fhir/Patient/{created.json['id']}", json=body, headers=JSON)
    assert response.status_code == 400
    assert "Patient.text.div" in _locations(response.json)


def test_malformed_narrative_is_refused_and_accepted_ones_read_as_xml(client, unique):
    bad = client.post("/fhir/Patient", json=_with_div(unique, f"<div {NS}><p>unclosed</div>"), headers=JSON)
    assert bad.status_code == 400
    assert "Patient.text.div" in _locations(bad.json)
    good = client.post("/fhir/Patient", json=_with_div(unique, f"<div {NS}><p>张三</p></div>"), headers=JSON)
    assert good.status_code == 201
    xml = client.get(f"/fhir/Patient/{good.json['id']}?_format=xml")
    assert xml.status_code == 200 and b"<p>" in xml.data


def test_validate_reports_narrative_issues(client, unique):
    response = client.post("/fhir/Patient/$validate", json=_with_div(
        unique, f'<div {NS}><a href="javascript:alert(1)">x</a></div>'), headers=JSON)
    assert response.status_code == 200
    assert "Patient.text.div" in _locations(response.json)
