"""Contracts and measures within reach (SPEC §6): a Contract is outside the R4 Patient
compartment but is a resident's record, so it is limited by its subject like a compartment
type (read, search with its total, _revinclude, history and the contract operations), and
``$evaluate-measure`` counts and lists only the residents the caller may see."""

from __future__ import annotations

import datetime as dt

import pytest
from auth_support import SECURED_BASE
from contract_data import parameters

from fhir_server.familydoctor.measures import all_measures

BASE = SECURED_BASE


@pytest.fixture(scope="module")
def world(world, app, issuer):
    """The shared world, and the IG's Measures."""
    client, admin = app.test_client(), issuer.headers("system/*.cruds")
    for measure in all_measures():
        assert client.put(f"/fhir/Measure/{measure['id']}", json=measure, headers=admin).status_code in (200, 201)
    return world


@pytest.fixture()
def call(app, issuer, world):
    client = app.test_client()

    def send(who: str, url: str, body: dict | None = None):
        scope, claims = world.principals()[who]
        headers = issuer.headers(scope, **claims)
        response = client.post(f"/fhir/{url}", json=body, headers=headers) if body is not None else \
            client.get(f"/fhir/{url}", headers=headers)
        return response.status_code, response.get_json()

    return send


@pytest.fixture()
def contracts(call, world) -> dict[str, str]:
    """The id of the contract of team A's household, of the lapsed one, of team B's."""
    found = {}
    for name, pid in (("A", world.head), ("lapsed", world.lapsed), ("B", world.b1)):
        status, bundle = call("system", f"Contract?patient=Patient/{pid}")
        assert status == 200 and bundle["total"] == 1, bundle
        found[name] = bundle["entry"][0]["resource"]["id"]
    return found


def _ids(bundle: dict, res_type: str = "Contract", mode: str = "match") -> set[str]:
    return {e["resource"]["id"] for e in bundle.get("entry", [])
            if e["resource"]["resourceType"] == res_type and e["search"]["mode"] == mode}


@pytest.mark.parametrize(("who", "sees"), [("doctor A", {"A"}), ("doctor B", {"B"}), ("resident", {"A"}),
                                           ("guardian", {"A"}), ("public health", set()), ("hospital doctor", set()),
                                           ("system", {"A", "lapsed", "B"})])
def test_contracts_are_limited_by_their_subject(call, contracts, who, sees):
    ids = ",".join(contracts.values())
    wanted = {contracts[name] for name in sees}
    status, bundle = call(who, f"Contract?_id={ids}&_count=1")
    assert status == 200 and bundle["total"] == len(wanted) and _ids(bundle) <= wanted
    status, bundle = call(who, f"Contract?_id={ids}&_summary=count")
    assert bundle["total"] == len(wanted)
    for name, cid in contracts.items():
        assert call(who, f"Contract/{cid}")[0] == (200 if name in sees else 403), (who, name)


def test_includes_and_history_of_contracts_stay_within_reach(call, world, contracts):
    status, bundle = call("doctor B", f"Patient?_id={world.head},{world.b1}&_revinclude=Contract:patient")
    assert status == 200 and _ids(bundle, "Contract", "include") == {contracts["B"]}
    status, bundle = call("doctor A", f"Patient?_id={world.head},{world.b1}&_revinclude=Contract:patient")
    assert _ids(bundle, "Contract", "include") == {contracts["A"]}
    assert call("doctor B", f"Contract/{contracts['A']}/_history")[0] == 403
    assert call("doctor B", f"Contract/{contracts['A']}/_history/1")[0] == 403
    assert call("doctor A", f"Contract/{contracts['A']}/_history")[0] == 200
    assert call("doctor A", "Contract/_history")[0] == 403


def test_contract_operations_need_the_relationship(call, contracts):
    assert call("doctor B", f"Contract/{contracts['A']}/$fulfilment")[0] == 403
    assert call("doctor A", f"Contract/{contracts['A']}/$fulfilment")[0] == 200
    terminate = parameters(reason=("valueCode", "death"))
    assert call("doctor B", f"Contract/{contracts['A']}/$terminate", terminate)[0] == 403
    assert call("doctor B", f"Contract/{contracts['A']}/$renew", parameters())[0] == 403
    assert call("doctor A", "Contract/$renew-due", parameters())[0] == 403
    status, renewed = call("doctor A", f"Contract/{contracts['A']}/$renew", parameters())
    assert status == 201, renewed
    assert call("doctor B", f"Contract/{renewed['id']}")[0] == 403


def _period() -> str:
    today = dt.date.today()
    return f"periodStart={today.replace(month=1, day=1).isoformat()}&periodEnd={today.isoformat()}"


def _listed(report: dict, code: str) -> set[str]:
    lists = {c["id"]: c for c in report.get("contained", [])}
    return {e["item"]["reference"].removeprefix("Patient/") for e in lists[code].get("entry", [])}


@pytest.mark.parametrize("who", ["doctor A", "doctor B", "public health", "resident"])
def test_measure_subject_lists_stay_within_reach(call, world, who):
    url = f"Measure/jiayi-coverage/$evaluate-measure?{_period()}&reportType=subject-list"
    status, report = call(who, url)
    assert status == 200, report
    wanted = world.sees()[who]
    assert _listed(report, "initial-population") == wanted
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][0]["population"]}
    assert counts["initial-population"] == len(wanted)
    status, whole = call("system", url)
    assert _listed(whole, "initial-population") >= set(world.residents)


def test_an_individual_measure_out_of_reach_is_refused(call, world):
    url = f"Measure/jiayi-coverage/$evaluate-measure?{_period()}&reportType=individual&subject=Patient/"
    assert call("doctor B", url + world.head)[0] == 403
    status, report = call("doctor A", url + world.head)
    assert status == 200 and report["group"][0]["population"][0]["count"] == 1


def test_a_plan_is_applied_only_for_a_resident_in_reach(call, world):
    url = f"PlanDefinition/{world.package}/$apply?subject=Patient/"
    assert call("doctor B", url + world.head)[0] == 403
    status, plan = call("doctor A", url + world.head)
    assert status == 200 and plan["resourceType"] == "CarePlan", plan
    persist = {"resourceType": "Parameters", "parameter": [
        {"name": "subject", "valueString": f"Patient/{world.head}"}, {"name": "persist", "valueBoolean": True}]}
    assert call("doctor B", f"PlanDefinition/{world.package}/$apply", persist)[0] == 403


def test_measures_back_to_back_keep_each_principal_to_their_reach(call, world):
    """The district snapshot is shared between evaluations (familydoctor/measures/shared.py):
    principals of different reach asking in turn, over the same period, each get their own."""
    url = f"Measure/jiayi-coverage/$evaluate-measure?{_period()}&reportType=subject-list"
    wanted = world.sees()
    for who in ("doctor A", "doctor B", "public health", "doctor A", "resident", "doctor B"):
        status, report = call(who, url)
        assert status == 200, report
        assert _listed(report, "initial-population") == wanted[who], who
    assert _listed(call("system", url)[1], "initial-population") >= set(world.residents)
    assert _listed(call("doctor A", url)[1], "initial-population") == wanted["doctor A"]


def test_a_write_between_two_evaluations_is_counted_by_the_second(app, issuer, call, world):
    url = f"Measure/jiayi-coverage/$evaluate-measure?{_period()}&reportType=subject-list"
    before = _listed(call("system", url)[1], "initial-population")
    client, admin = app.test_client(), issuer.headers("system/*.cruds")
    created = client.post("/fhir/Patient", json={"resourceType": "Patient", "active": True,
                                                 "name": [{"text": "新居民"}]}, headers=admin)
    assert created.status_code == 201, created.get_json()
    new = created.get_json()["id"]
    assert _listed(call("system", url)[1], "initial-population") == before | {new}
    assert _listed(call("doctor A", url)[1], "initial-population") == world.sees()["doctor A"]
    updated = client.put(f"/fhir/Patient/{new}", json={"resourceType": "Patient", "id": new, "active": False,
                                                       "name": [{"text": "新居民"}]}, headers=admin)
    assert updated.status_code == 200, updated.get_json()
    assert _listed(call("system", url)[1], "initial-population") == before
    assert client.delete(f"/fhir/Patient/{new}", headers=admin).status_code in (200, 204)
    assert _listed(call("system", url)[1], "initial-population") == before
