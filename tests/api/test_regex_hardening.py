"""User-supplied regular expressions cannot freeze the server (issue 18): a SearchParameter
whose expression the engine cannot run is refused with an OperationOutcome; one with a regex
that backtracks under ``re`` is accepted and runs in linear time on every write."""

from __future__ import annotations

from tests.api.conftest import patient
from tests.unit.core.test_linear_regex import EVIL, EVIL_TEXT, deadline

JSON = {"Content-Type": "application/fhir+json"}


def _search_parameter(unique: str, expression: str) -> dict:
    return {"resourceType": "SearchParameter", "url": f"http://example.org/fhir/SearchParameter/{unique}",
            "name": f"p{unique}", "status": "active", "description": "a test parameter", "code": f"p{unique}",
            "base": ["Patient"], "type": "string", "expression": expression}


def test_search_parameter_with_a_regex_no_linear_engine_runs_is_refused(client, unique):
    response = client.post("/fhir/SearchParameter", json=_search_parameter(
        unique, "Patient.name.where(family.matches('(a)\\\\1')).family"), headers=JSON)
    assert response.status_code == 400
    outcome = response.json
    assert outcome["resourceType"] == "OperationOutcome"
    assert any("SearchParameter.expression" in i.get("expression", []) for i in outcome["issue"])


def test_search_parameter_that_does_not_parse_is_refused(client, unique):
    response = client.post("/fhir/SearchParameter", json=_search_parameter(unique, "Patient.name.where("),
                           headers=JSON)
    assert response.status_code == 400


def test_stored_search_parameter_with_a_backtracking_regex_runs_in_linear_time(client, unique):
    expression = f"Patient.name.where(family.matches('{EVIL}')).family"
    assert client.post("/fhir/SearchParameter", json=_search_parameter(unique, expression),
                       headers=JSON).status_code == 201
    with deadline():
        written = client.post("/fhir/Patient", json=patient(unique, name=[{"family": EVIL_TEXT}]), headers=JSON)
        assert written.status_code == 201
        plain = client.post("/fhir/Patient", json=patient(unique + "b", name=[{"family": "a" * 30}]), headers=JSON)
        assert plain.status_code == 201
    found = client.get(f"/fhir/Patient?p{unique}={'a' * 30}").json
    assert [e["resource"]["id"] for e in found.get("entry", [])] == [plain.json["id"]]


def test_binary_of_spaces_is_refused_at_once(client):
    with deadline():
        response = client.post("/fhir/Binary", json={"resourceType": "Binary", "contentType": "text/plain",
                                                      "data": " " * 5000 + "!"}, headers=JSON)
    assert response.status_code == 400
