"""The contract operations of Appendix A on SQLite and PostgreSQL: $terminate, $renew,
$renew-due (and the nightly CLI job), $fulfilment and Patient/$family-doctor."""

from __future__ import annotations

from click.testing import CliRunner
from contract_data import JSON, n, parameters, post, rules, world

from fhir_server.cli import main


def _contract(client, w, **kw) -> dict:
    response = post(client, "Contract", w.contract(**kw))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _ext(resource, url):
    return next((e for e in resource.get("extension", []) if e["url"] == url), None)


# --- $terminate ------------------------------------------------------------------------------

def test_terminate_records_reason_date_and_requester(client, unique):
    w = world(client, unique)
    contract = _contract(client, w)
    body = parameters(reason=("valueCode", "relocation"), date=("valueDate", "2026-05-31"),
                      requestedBy=("valueReference", {"reference": f"Patient/{w.head}"}))
    response = post(client, f"Contract/{contract['id']}/$terminate", body)
    assert response.status_code == 200, response.get_json()
    ended = response.get_json()
    assert ended["status"] == "terminated" and ended["applies"]["end"] == "2026-05-31"
    assert ended["expirationType"]["coding"][0] == {"system": n.CS + "termination-reason", "code": "relocation"}
    assert _ext(ended, n.SD + "jiayi-termination-requested-by")["valueReference"]["reference"] == f"Patient/{w.head}"
    assert ended["meta"]["versionId"] == "2"
    # the resident may sign with another team from the next day
    assert post(client, "Contract", w.contract(start="2026-06-01", end="2027-05-31",
                                               team=w.other_team)).status_code == 201


def test_terminate_refusals(client, unique):
    w = world(client, unique)
    cid = _contract(client, w)["id"]
    url = f"Contract/{cid}/$terminate"
    assert post(client, url, parameters(date=("valueDate", "2026-05-31"))).status_code == 400  # no reason
    bad = post(client, url, parameters(reason=("valueCode", "bored")))
    assert bad.status_code == 422 and rules(bad.get_json()) == ["jiayi-termination-reason"]
    outside = post(client, url, parameters(reason=("valueCode", "death"), date=("valueDate", "2027-02-01")))
    assert outside.status_code == 422 and rules(outside.get_json()) == ["jiayi-contract-terminate"]
    inside = post(client, url, parameters(reason=("valueCode", "death"), date=("valueDate", "2026-03-01")))
    assert inside.status_code == 200
    again = post(client, url, parameters(reason=("valueCode", "death"), date=("valueDate", "2026-03-02")))
    assert again.status_code == 409 and rules(again.get_json()) == ["jiayi-contract-terminate"]
    missing = post(client, f"Contract/nope-{unique}/$terminate", parameters(reason=("valueCode", "death")))
    assert missing.status_code == 404
    assert client.get(f"/fhir/{url}?reason=death").status_code == 405


# --- $renew ----------------------------------------------------------------------------------

def test_renew_makes_the_successor_for_the_next_term(client, unique):
    w = world(client, unique)
    old = _contract(client, w, start="2025-03-01", end="2027-02-28")
    response = post(client, f"Contract/{old['id']}/$renew", parameters())
    assert response.status_code == 201, response.get_json()
    assert response.headers["Location"].startswith("http://testserver/fhir/Contract/")
    new = response.get_json()
    assert new["status"] == "executed" and new["applies"] == {"start": "2027-03-01", "end": "2029-02-28"}
    assert _ext(new, n.RENEWS)["valueReference"]["reference"] == f"Contract/{old['id']}"
    assert [s["reference"] for s in new["subject"]] == [f"Patient/{w.head}"]
    assert client.get(f"/fhir/Contract/{old['id']}").get_json()["meta"]["versionId"] == "1"  # ends at its term
    again = post(client, f"Contract/{old['id']}/$renew", parameters())
    assert again.status_code == 409 and new["id"] in again.get_json()["issue"][0]["diagnostics"]


def test_renew_with_years_packages_and_team(client, unique):
    w = world(client, unique)
    old = _contract(client, w)
    body = parameters(years=("valueInteger", 1),
                      package=[("valueReference", {"reference": f"PlanDefinition/{w.package}"}),
                               ("valueReference", {"reference": f"PlanDefinition/{w.extra_package}"})],
                      careTeam=("valueReference", {"reference": f"CareTeam/{w.other_team}"}))
    response = post(client, f"Contract/{old['id']}/$renew", body)
    assert response.status_code == 201, response.get_json()
    new = response.get_json()
    assert new["applies"] == {"start": "2027-01-01", "end": "2027-12-31"}
    assert [t["topicReference"]["reference"] for t in new["term"]] == [
        f"PlanDefinition/{w.package}", f"PlanDefinition/{w.extra_package}"]
    assert new["term"][1]["asset"][0]["valuedItem"][0]["net"]["value"] == 150
    assert _ext(new, n.CONTRACT_CARE_TEAM)["valueReference"]["reference"] == f"CareTeam/{w.other_team}"


def test_renew_refusals(client, unique):
    w = world(client, unique)
    old = _contract(client, w)
    assert post(client, f"Contract/{old['id']}/$renew", parameters(years=("valueInteger", 4))).status_code == 400
    unknown = post(client, f"Contract/{old['id']}/$renew",
                   parameters(package=("valueReference", {"reference": f"PlanDefinition/nope-{unique}"})))
    assert unknown.status_code == 422 and rules(unknown.get_json()) == ["jiayi-contract-package"]
    offered = _contract(client, world(client, unique + "o"), status="offered")
    refused = post(client, f"Contract/{offered['id']}/$renew", parameters())
    assert refused.status_code == 409 and rules(refused.get_json()) == ["jiayi-contract-renew"]


# --- $renew-due and the nightly job -------------------------------------------------------------

def _due_world(client, unique):
    """Four residents whose contracts end 2041-03-10: auto-renew, opted out, terminated, renewed."""
    worlds = [world(client, f"{unique}{k}") for k in range(4)]
    auto = _contract(client, worlds[0], start="2040-03-11", end="2041-03-10")
    _contract(client, worlds[1], start="2040-03-11", end="2041-03-10", auto_renew=False)
    gone = _contract(client, worlds[2], start="2040-03-11", end="2041-03-10")
    post(client, f"Contract/{gone['id']}/$terminate", parameters(reason=("valueCode", "death"),
                                                                   date=("valueDate", "2040-12-01")))
    done = _contract(client, worlds[3], start="2040-03-11", end="2041-03-10")
    assert post(client, f"Contract/{done['id']}/$renew", parameters()).status_code == 201
    return auto


def _renewed(body) -> list[str]:
    return [p["valueReference"]["reference"] for p in body["parameter"] if p["name"] == "renewed"]


def test_renew_due_renews_auto_renew_contracts_in_the_window_once(client, unique):
    auto = _due_world(client, unique)
    too_early = post(client, "Contract/$renew-due", parameters(asOf=("valueDate", "2041-01-01"),
                                                               windowDays=("valueInteger", 30)))
    assert too_early.status_code == 200 and _renewed(too_early.get_json()) == []
    response = post(client, "Contract/$renew-due", parameters(asOf=("valueDate", "2041-03-01")))
    body = response.get_json()
    renewed = _renewed(body)
    assert response.status_code == 200 and len(renewed) == 1
    assert next(p["valueInteger"] for p in body["parameter"] if p["name"] == "count") == 1
    successor = client.get(f"/fhir/{renewed[0]}").get_json()
    assert _ext(successor, n.RENEWS)["valueReference"]["reference"] == f"Contract/{auto['id']}"
    assert successor["applies"] == {"start": "2041-03-11", "end": "2042-03-10"}
    again = post(client, "Contract/$renew-due", parameters(asOf=("valueDate", "2041-03-01"))).get_json()
    assert _renewed(again) == [] and again["parameter"][-1] == {"name": "count", "valueInteger": 0}


def test_renew_due_parameters(client):
    assert post(client, "Contract/$renew-due", parameters(asOf=("valueDate", "tomorrow"))).status_code == 400
    assert post(client, "Contract/$renew-due", parameters(windowDays=("valueInteger", -1))).status_code == 400


def test_nightly_cli_job_is_idempotent(client, database_url, unique):
    w = world(client, unique)
    old = _contract(client, w, start="2043-05-01", end="2044-04-30")
    args = ["contracts", "renew-due", "--as-of", "2044-04-20", "--window-days", "15", "--database", database_url]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "1 contract(s) renewed" in first.output
    renewed = client.get(f"/fhir/Contract?renews=Contract/{old['id']}&_total=accurate").get_json()
    assert renewed["total"] == 1
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0 and "0 contract(s) renewed" in second.output
    assert client.get(f"/fhir/Contract?renews=Contract/{old['id']}&_total=accurate").get_json()["total"] == 1


# --- $fulfilment -----------------------------------------------------------------------------

def _service(client, w, when: str, item: str, contract_id: str, status: str = "finished"):
    encounter = {"resourceType": "Encounter", "status": status,
                 "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                 "extension": [{"url": n.CONTRACT_EXT, "valueReference": {"reference": f"Contract/{contract_id}"}},
                               {"url": n.SERVICE_ITEM_EXT, "valueCodeableConcept": {
                                   "coding": [{"system": n.SERVICE_ITEM, "code": item}]}}],
                 "subject": {"reference": f"Patient/{w.head}"}, "period": {"start": when, "end": when}}
    assert post(client, "Encounter", encounter).status_code == 201


def _items(body) -> dict:
    out = {}
    for p in body["parameter"]:
        if p["name"] == "item":
            parts = {q["name"]: q for q in p["part"]}
            out[parts["code"]["valueCoding"]["code"]] = (parts["due"]["valueInteger"],
                                                         parts["delivered"]["valueInteger"])
    return out


def test_fulfilment_counts_due_and_delivered_in_the_current_contract_year(client, unique):
    w = world(client, unique)
    contract = _contract(client, w, start="2025-07-01", end="2027-06-30")
    _service(client, w, "2025-09-01T10:00:00+08:00", "health-education", contract["id"])  # first year
    _service(client, w, "2026-08-01T10:00:00+08:00", "health-education", contract["id"])
    _service(client, w, "2026-09-01T10:00:00+08:00", "health-consultation", contract["id"])
    _service(client, w, "2026-09-02T10:00:00+08:00", "health-consultation", contract["id"], status="cancelled")
    _service(client, w, "2027-01-05T10:00:00+08:00", "health-consultation", contract["id"])  # after asOf
    response = client.get(f"/fhir/Contract/{contract['id']}/$fulfilment?asOf=2026-12-01")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["parameter"][0] == {"name": "period", "valuePeriod": {"start": "2026-07-01", "end": "2027-06-30"}}
    assert _items(body) == {"health-education": (2, 1), "health-consultation": (4, 1)}
    first_year = client.get(f"/fhir/Contract/{contract['id']}/$fulfilment?asOf=2026-01-01").get_json()
    assert _items(first_year) == {"health-education": (2, 1), "health-consultation": (4, 0)}


def test_fulfilment_of_a_household_counts_each_covered_person(client, unique):
    w = world(client, unique)
    contract = _contract(client, w, subjects=[w.head, w.spouse, w.child], household=True, fees=[360])
    body = post(client, f"Contract/{contract['id']}/$fulfilment",
                parameters(asOf=("valueDate", "2026-06-01"))).get_json()
    assert _items(body) == {"health-education": (6, 0), "health-consultation": (12, 0)}


def test_fulfilment_refusals(client, unique):
    assert client.get(f"/fhir/Contract/nope-{unique}/$fulfilment").status_code == 404
    w = world(client, unique)
    cid = _contract(client, w)["id"]
    assert client.get(f"/fhir/Contract/{cid}/$fulfilment?asOf=June").status_code == 400


# --- Patient/$family-doctor --------------------------------------------------------------------

def test_family_doctor_answers_contract_team_doctor_and_hospitals(client, unique):
    w = world(client, unique)
    contract = _contract(client, w, start="2026-01-01", end="2028-12-31")
    response = client.get(f"/fhir/Patient/{w.head}/$family-doctor?asOf=2026-12-01")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    refs = [(p["name"], p["valueReference"]["reference"]) for p in body["parameter"] if "valueReference" in p]
    assert refs == [("contract", f"Contract/{contract['id']}"), ("careTeam", f"CareTeam/{w.team}"),
                    ("doctor", f"Practitioner/{w.doctor}"), ("hospital", f"Organization/{w.org}")]
    included = sorted(p["resource"]["resourceType"] for p in body["parameter"] if p["name"] == "resource")
    assert included == ["CareTeam", "Contract", "Organization", "Practitioner"]


def test_family_doctor_404_without_a_contract_in_force(client, unique):
    w = world(client, unique)
    _contract(client, w, start="2026-01-01", end="2026-12-31")
    response = client.get(f"/fhir/Patient/{w.spouse}/$family-doctor?asOf=2026-06-01")
    assert response.status_code == 404 and response.get_json()["resourceType"] == "OperationOutcome"
    assert client.get(f"/fhir/Patient/{w.head}/$family-doctor?asOf=2027-01-01").status_code == 404  # expired
    assert client.get(f"/fhir/Patient/nope-{unique}/$family-doctor").status_code == 404
    assert client.put(f"/fhir/Patient/{w.head}", json={"resourceType": "Patient", "id": w.head},
                      headers=JSON).status_code == 200
