"""Access by relationship (SPEC §6), filtered in SQL: over 25 residents each principal sees its
own few, and totals, pages, _include/_revinclude and _summary=count agree with that."""

from __future__ import annotations

import pytest
from access_world import OBSERVATIONS_EACH
from auth_support import SECURED_BASE, principal_headers

BASE = SECURED_BASE


@pytest.fixture()
def as_(app, issuer, world):
    client = app.test_client()

    def get(who: str, url: str):
        scope, claims = world.principals()[who]
        response = client.get(f"/fhir/{url}", headers=issuer.headers(scope, **claims))
        return response.status_code, response.get_json()

    return get


def _ids(bundle: dict, res_type: str = "Patient", mode: str = "match") -> set[str]:
    return {e["resource"]["id"] for e in bundle.get("entry", [])
            if e["resource"]["resourceType"] == res_type and e["search"]["mode"] == mode}


@pytest.mark.parametrize("who", ["doctor A", "doctor B", "hospital doctor", "resident", "guardian",
                                 "public health"])
def test_each_principal_searches_only_its_residents(as_, world, who):
    wanted = world.sees()[who]
    ids = "".join(f",{p}" for p in world.residents)[1:]
    status, bundle = as_(who, f"Patient?_id={ids}&_count=50")
    assert status == 200 and _ids(bundle) == wanted and bundle["total"] == len(wanted)
    status, count = as_(who, f"Patient?_id={ids}&_summary=count")
    assert count["total"] == len(wanted)


def test_pages_of_ten_count_only_the_visible(as_, world):
    subjects = ",".join(f"Patient/{p}" for p in world.residents)
    status, first = as_("doctor A", f"Observation?subject={subjects}&_count=10&_include=Observation:subject")
    visible = 3 * OBSERVATIONS_EACH
    assert status == 200 and first["total"] == visible and len(_ids(first, "Observation")) == 10
    assert _ids(first, "Patient", "include") <= world.sees()["doctor A"]
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    status, second = as_("doctor A", following.removeprefix(BASE + "/"))
    assert second["total"] == visible and len(_ids(second, "Observation")) == visible - 10
    status, bundle = as_("system", f"Observation?subject={subjects}&_summary=count")
    assert bundle["total"] == len(world.residents) * OBSERVATIONS_EACH


def test_includes_never_leak_a_resident_out_of_reach(as_, world):
    status, bundle = as_("doctor A", f"Observation?subject=Patient/{world.head}&_include=Observation:performer")
    assert status == 200 and bundle["total"] == OBSERVATIONS_EACH
    assert world.stranger not in _ids(bundle, "Patient", "include")
    status, bundle = as_("doctor B", f"Patient?_id={world.head},{world.b1}&_revinclude=Observation:subject")
    assert _ids(bundle) == {world.b1} and len(_ids(bundle, "Observation", "include")) == OBSERVATIONS_EACH
    status, bundle = as_("doctor A", f"Patient/{world.head}/Observation?_summary=count")
    assert bundle["total"] == OBSERVATIONS_EACH
    status, bundle = as_("doctor B", f"Patient/{world.head}/Observation?_summary=count")
    assert bundle["total"] == 0


def test_reads_out_of_reach_are_refused(as_, world):
    assert as_("doctor A", f"Patient/{world.spouse}")[0] == 200
    assert as_("doctor A", f"Patient/{world.lapsed}")[0] == 403  # the contract has ended
    assert as_("doctor B", f"Patient/{world.head}")[0] == 403
    assert as_("guardian", f"Patient/{world.child}")[0] == 200
    assert as_("guardian", f"Patient/{world.head}")[0] == 403
    assert as_("resident", f"Patient/{world.head}/_history")[0] == 200
    assert as_("resident", f"Patient/{world.spouse}/_history/1")[0] == 403
    assert as_("resident", f"Patient/{world.head}/$everything")[0] == 200
    assert as_("resident", f"Patient/{world.spouse}/$everything")[0] == 403
    assert as_("public health", f"Patient/{world.outside}")[0] == 403
    assert as_("resident", "Observation/_history")[0] == 403


def test_a_guardian_sees_a_minor_not_an_adult(app, issuer, world):
    client = app.test_client()
    headers = issuer.headers("patient/*.rs", fhirUser=f"RelatedPerson/{world.guardian}-adult")
    assert client.get(f"/fhir/Patient/{world.spouse}", headers=headers).status_code == 403


def test_writes_stay_within_reach(app, issuer, world):
    client = app.test_client()
    scope, claims = world.principals()["doctor A"]
    headers = issuer.headers(scope, **claims)

    def observation(pid):
        return {"resourceType": "Observation", "status": "final", "code": {"text": "血压"},
                "subject": {"reference": f"Patient/{pid}"}}

    assert client.post("/fhir/Observation", json=observation(world.head), headers=headers).status_code == 201
    assert client.post("/fhir/Observation", json=observation(world.b1), headers=headers).status_code == 403
    moved = client.get(f"/fhir/Observation?subject=Patient/{world.head}&_count=1", headers=headers).get_json()
    resource = moved["entry"][0]["resource"]
    resource["subject"] = {"reference": f"Patient/{world.b1}"}
    assert client.put(f"/fhir/Observation/{resource['id']}", json=resource, headers=headers).status_code == 403
    scope, claims = world.principals()["resident"]
    resident = issuer.headers(scope, **claims)
    assert client.post("/fhir/Observation", json=observation(world.head), headers=resident).status_code == 403


def test_v2_restrictions_narrow_a_search(app, issuer, world):
    client = app.test_client()
    headers = issuer.headers("patient/Observation.rs?code=http://loinc.org|1234-5", fhirUser=f"Patient/{world.head}")
    bundle = client.get(f"/fhir/Observation?subject=Patient/{world.head}", headers=headers).get_json()
    assert bundle["total"] == 0
    headers = issuer.headers("patient/Observation.rs?code=http://loinc.org|8867-4", fhirUser=f"Patient/{world.head}")
    bundle = client.get(f"/fhir/Observation?subject=Patient/{world.head}", headers=headers).get_json()
    assert bundle["total"] == OBSERVATIONS_EACH


def test_a_contract_ended_or_signed_changes_what_the_same_token_reads_at_once(app, issuer, world):
    """The relationship is read in SQL on every request: a doctor's token used again right after
    a contract is terminated (or signed with another team) sees the change, nothing is remembered
    per token but the statement."""
    from datetime import date, timedelta

    from contract_data import patient

    client = app.test_client()
    admin = issuer.headers("system/*.cruds")
    mover = f"mover-{world.unique}"
    assert client.put(f"/fhir/Patient/{mover}", json={**patient(mover, world.card(mover)), "id": mover},
                      headers=admin).status_code in (200, 201)
    doctor_a, doctor_b = (principal_headers(issuer, world, who) for who in ("doctor A", "doctor B"))
    assert client.get(f"/fhir/Patient/{mover}", headers=doctor_a).status_code == 403
    today = date.today()
    def a_year_from(first: date) -> tuple[str, str]:  # a term of one year (1 to 3 years are allowed)
        last = first.replace(year=first.year + 1, day=1) + timedelta(days=first.day - 2)
        return first.isoformat(), last.isoformat()

    start, end = a_year_from((today - timedelta(days=1)).replace(day=1))
    signed = client.post("/fhir/Contract", json=world.contract(subjects=[mover], start=start, end=end), headers=admin)
    assert signed.status_code == 201, signed.get_json()
    assert client.get(f"/fhir/Patient/{mover}", headers=doctor_a).status_code == 200
    assert client.get(f"/fhir/Patient/{mover}", headers=doctor_b).status_code == 403
    ended_on = (today - timedelta(days=1)).isoformat()
    ended = client.post(f"/fhir/Contract/{signed.get_json()['id']}/$terminate", headers=admin, json={
        "resourceType": "Parameters", "parameter": [{"name": "reason", "valueCode": "relocation"},
                                                    {"name": "date", "valueDate": ended_on}]})
    assert ended.status_code == 200, ended.get_json()
    assert client.get(f"/fhir/Patient/{mover}", headers=doctor_a).status_code == 403
    start, end = a_year_from(today)
    moved = client.post("/fhir/Contract", headers=admin, json=world.contract(
        subjects=[mover], start=start, end=end, team=world.other_team))
    assert moved.status_code == 201, moved.get_json()
    assert client.get(f"/fhir/Patient/{mover}", headers=doctor_b).status_code == 200
    assert client.get(f"/fhir/Patient/{mover}", headers=doctor_a).status_code == 403


def test_the_check_of_one_record_agrees_with_the_search_condition(app, world):
    """A read checks one record with its own condition (each resident it names on its own), a
    search with the reachable set; over every record of the world and every kind of reach, the
    two agree on what is visible."""
    from sqlalchemy import select

    from fhir_server.auth.access import Reach
    from fhir_server.search.sql.reach import reach_condition, visible_instance
    from fhir_server.storage.models import ResourceRow

    reaches = {"doctor A": Reach(practitioner=world.doctor), "doctor B": Reach(practitioner=world.other_doctor),
               "hospital doctor": Reach(practitioner=world.hospital_doctor), "resident": Reach(patients=(world.head,)),
               "guardian": Reach(related_person=world.guardian), "public health": Reach(region=world.district),
               "nobody": Reach()}
    rows = ResourceRow.__table__
    with app.extensions["jiayi.database"].engine.connect() as conn:
        records = conn.execute(select(rows.c.res_type, rows.c.res_id).where(rows.c.deleted.is_(False))).all()
        types = sorted({t for t, _ in records})
        assert {"Patient", "Contract", "Observation", "CareTeam"} <= set(types)
        for name, reach in reaches.items():
            for res_type in types:
                visible = reach_condition(reach, res_type)
                searched = set(conn.execute(select(rows.c.res_id).where(
                    rows.c.res_type == res_type, rows.c.deleted.is_(False), visible)).scalars())
                for record_type, res_id in records:
                    if record_type != res_type:
                        continue
                    read = conn.execute(visible_instance(reach, res_type), {"i": res_id}).first() is not None
                    assert read == (res_id in searched), (name, res_type, res_id)


@pytest.mark.parametrize("who", ["doctor A", "hospital doctor", "guardian", "public health"])
def test_a_search_of_one_residents_records_sees_what_the_reachable_set_would(as_, world, who, monkeypatch):
    """A search naming one resident (``patient=``, ``subject=Patient/…``, the compartment) or a
    page of records by ``_id`` asks the rows' residents one by one instead of building the
    caller's reachable set (``search/sql/execute.py`` ``access_filter``): the same records come
    back, totals included, for residents the caller may and may not see."""
    from fhir_server.search import parse_search
    from fhir_server.search.sql import execute

    assert execute._names_few_rows(parse_search("Observation", [("patient", "p1")]).where)
    assert execute._names_few_rows(parse_search("Observation", [("subject", "Patient/p1"), ("code", "x")]).where)
    assert not execute._names_few_rows(parse_search("Contract", [("care-team", "CareTeam/t1")]).where)
    assert not execute._names_few_rows(parse_search("Observation", [("subject:not", "Patient/p1")]).where)
    assert execute._names_few_rows(parse_search("Patient", [("_id", "p1,p2,p3")]).where)
    searches = [f"{query}&_count=100" for p in world.residents
                for query in (f"Observation?patient={p}", f"Observation?subject=Patient/{p}",
                              f"Patient/{p}/Observation?_elements=id", f"Contract?patient={p}")]
    searches.append(f"Patient?_id={','.join(world.residents)}&_count=100")  # a page of named records
    per_row = [as_(who, url) for url in searches]
    monkeypatch.setattr(execute, "_names_few_rows", lambda tests: False)  # the reachable set
    by_set = [as_(who, url) for url in searches]
    def seen(answers):
        return [(s, b.get("total"), _ids(b, "Observation") | _ids(b, "Contract") | _ids(b)) for s, b in answers]
    assert seen(per_row) == seen(by_set)
    assert any(b.get("total") for _, b in per_row) and any(b.get("total") == 0 for _, b in per_row)
