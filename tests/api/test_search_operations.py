"""$reindex, Patient/$everything, $meta, $meta-add, $meta-delete, and the full-text, pinyin and
_contained parameters through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from api.conftest import FHIR_JSON, patient
from sqlalchemy import delete

from fhir_server.storage.index_tables import TEXT_TABLE

CARE_TEAM_EXT = "https://jiayi.dev/fhir/StructureDefinition/jiayi-contract-care-team"
NARRATIVE = '<div xmlns="http://www.w3.org/1999/xhtml">{}</div>'


def _post(client, path: str, body: dict | None = None, **kw):
    return client.post(f"/fhir/{path}", json=body, content_type=FHIR_JSON, **kw)


def _create(client, resource: dict) -> str:
    response = _post(client, resource["resourceType"], resource)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _ids(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def _param(parameters: dict, name: str):
    return next(p for p in parameters["parameter"] if p["name"] == name)


# --- full text and pinyin through HTTP ----------------------------------------------------------

def test_text_content_and_pinyin_search(client, unique):
    pid = _create(client, patient(unique, name=[{"family": "曾", "given": ["乐" + unique[:0]]}],
                                  text={"status": "generated", "div": NARRATIVE.format(f"高血压随访 {unique}")}))
    found = client.get(f"/fhir/Patient?_text=高血压&_text={unique}").get_json()
    assert _ids(found) == [pid]
    assert _ids(client.get(f"/fhir/Patient?_content={unique}&_text=糖尿病").get_json()) == []
    assert _ids(client.get(f"/fhir/Patient?identifier={unique}&name:pinyin=zeng yue").get_json()) == [pid]
    assert _ids(client.get(f"/fhir/Patient?identifier={unique}&name:pinyin=zl").get_json()) == [pid]
    assert _ids(client.get(f"/fhir/Patient?identifier={unique}&name:pinyin=ceng").get_json()) == []
    # an update replaces the tokens; a delete removes them
    updated = patient(unique, text={"status": "generated", "div": NARRATIVE.format(f"糖尿病 {unique}")})
    assert client.put(f"/fhir/Patient/{pid}", json={**updated, "id": pid}, content_type=FHIR_JSON).status_code == 200
    assert _ids(client.get(f"/fhir/Patient?_text=高血压&_content={unique}").get_json()) == []
    assert _ids(client.get(f"/fhir/Patient?_text=糖尿病&_content={unique}").get_json()) == [pid]
    assert client.delete(f"/fhir/Patient/{pid}").status_code in (200, 204)
    assert _ids(client.get(f"/fhir/Patient?_content={unique}").get_json()) == []


def test_contained_is_refused_clearly(client):
    lenient = client.get("/fhir/Patient?_contained=true&_count=1")
    assert lenient.status_code == 200
    outcome = [e for e in lenient.get_json().get("entry", []) if e["search"]["mode"] == "outcome"]
    assert "contained" in outcome[0]["resource"]["issue"][0]["diagnostics"]
    strict = client.get("/fhir/Patient?_contained=both", headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400
    assert client.get("/fhir/Patient?_contained=false&_count=1").status_code == 200


FUZZ = ["", "!!!", ",", "\\", "\\,", "%", "_", "'", "\"", "' OR 1=1 --", "AND", "NEAR(a b)", "a*", "*",
        ":", "高", "a" * 300, "高" * 200, "\x00", "x\u0301", "𠀀𠀁", "a:*", "&", "<b>", "zh ang", "NOT"]


@pytest.mark.parametrize("value", FUZZ)
def test_no_search_input_is_a_500(client, value):
    for name in ("_text", "_content", "name:pinyin", "_contained", "_containedType", "family:pinyin",
                 "subject:Patient._text", "_has:Observation:subject:_content"):
        res_type = "Observation" if name.startswith("subject") else "Patient"
        for prefer in ("handling=lenient", "handling=strict"):
            response = client.get(f"/fhir/{res_type}", query_string={name: value, "_count": "1"},
                                  headers={"Prefer": prefer})
            assert response.status_code in (200, 400), (name, value, response.get_json())
            assert response.get_json()["resourceType"] in ("Bundle", "OperationOutcome")
    for query in ({"_since": value}, {"_type": value}, {"_count": value}, {"_offset": value}):
        response = client.get("/fhir/Patient/nobody-here/$everything", query_string=query)
        assert response.status_code in (400, 404), (query, response.get_json())


@pytest.mark.parametrize("query", ["name=a\x00b", "identifier=a\x00", "_id=\x00", "_tag=a|\x00",
                                   "value-quantity=5||\x00", "a\x00=1", "_sort=\x00"])
def test_nul_characters_are_a_400(client, query):
    for res_type in ("Patient", "Observation"):
        assert client.get(f"/fhir/{res_type}", query_string=query).status_code == 400


# --- $reindex -------------------------------------------------------------------------------

def test_reindex_rebuilds_lost_index_rows(app, client, unique):
    pid = _create(client, patient(unique, text={"status": "generated", "div": NARRATIVE.format(f"家庭医生 {unique}")}))
    database = app.extensions["jiayi.database"]
    with database.session(write=True) as session:  # lose the full-text rows, as after an upgrade
        session.execute(delete(TEXT_TABLE).where(TEXT_TABLE.c.res_type == "Patient", TEXT_TABLE.c.res_id == pid))
    assert _ids(client.get(f"/fhir/Patient?_text={unique}").get_json()) == []
    response = _post(client, f"Patient/{pid}/$reindex")
    assert response.status_code == 200
    body = response.get_json()
    assert body["resourceType"] == "Parameters" and _param(body, "count")["valueInteger"] == 1
    assert _ids(client.get(f"/fhir/Patient?_text=家庭医生&_text={unique}").get_json()) == [pid]


def _finished(app, outcome: dict) -> None:
    job = outcome["issue"][0]["diagnostics"].split("(job ")[1].split(")")[0]
    app.extensions["jiayi.reindex"].jobs[job].join(timeout=120)


def test_reindex_levels_and_errors(app, client, unique):
    pid = _create(client, {"resourceType": "Basic", "code": {"text": unique}})
    database = app.extensions["jiayi.database"]
    with database.session(write=True) as session:  # lose the full-text rows, as after an upgrade
        session.execute(delete(TEXT_TABLE).where(TEXT_TABLE.c.res_type == "Basic", TEXT_TABLE.c.res_id == pid))
    typed = _post(client, "Basic/$reindex")  # a background job (issue 18): 202 and an OperationOutcome
    assert typed.status_code == 202 and typed.get_json()["resourceType"] == "OperationOutcome"
    _finished(app, typed.get_json())
    assert _ids(client.get(f"/fhir/Basic?_content={unique}").get_json()) == [pid]
    system = _post(client, "$reindex")
    assert system.status_code == 202
    _finished(app, system.get_json())
    assert client.get("/fhir/Basic/$reindex").status_code == 405
    assert _post(client, f"Basic/missing-{unique}/$reindex").status_code == 404
    assert _post(client, "NoSuchType/$reindex").status_code == 404


# --- $meta, $meta-add, $meta-delete ------------------------------------------------------------

def test_meta_operations(client, unique):
    tag = {"system": "http://jiayi.test/tags", "code": f"t-{unique}"}
    pid = _create(client, patient(unique, meta={"tag": [tag]}))
    got = client.get(f"/fhir/Patient/{pid}/$meta").get_json()
    assert _param(got, "return")["valueMeta"]["tag"] == [tag]

    extra = {"system": "http://jiayi.test/tags", "code": f"x-{unique}"}
    profile = "http://jiayi.test/StructureDefinition/demo"
    add = {"resourceType": "Parameters", "parameter": [{"name": "meta", "valueMeta": {"tag": [tag, extra],
                                                                                     "profile": [profile]}}]}
    assert client.get(f"/fhir/Patient/{pid}/$meta-add").status_code == 405
    added = _post(client, f"Patient/{pid}/$meta-add", add)
    assert added.status_code == 200, added.get_json()
    meta = _param(added.get_json(), "return")["valueMeta"]
    assert meta["tag"] == [tag, extra] and meta["profile"] == [profile] and meta["versionId"] == "2"
    assert _ids(client.get(f"/fhir/Patient?_tag={extra['system']}|{extra['code']}").get_json()) == [pid]

    typed = _param(client.get("/fhir/Patient/$meta").get_json(), "return")["valueMeta"]
    assert extra in typed["tag"] and profile in typed["profile"]
    system = _param(client.get("/fhir/$meta").get_json(), "return")["valueMeta"]
    assert extra in system["tag"]

    remove = {"resourceType": "Parameters", "parameter": [{"name": "meta", "valueMeta": {"tag": [extra],
                                                                                        "profile": [profile]}}]}
    deleted = _param(_post(client, f"Patient/{pid}/$meta-delete", remove).get_json(), "return")["valueMeta"]
    assert deleted["tag"] == [tag] and "profile" not in deleted
    assert _ids(client.get(f"/fhir/Patient?_tag={extra['system']}|{extra['code']}").get_json()) == []
    again = _param(_post(client, f"Patient/{pid}/$meta-delete", remove).get_json(), "return")["valueMeta"]
    assert again["versionId"] == deleted["versionId"]  # nothing to remove: no new version

    assert _post(client, f"Patient/{pid}/$meta-add", {"resourceType": "Parameters"}).status_code == 400
    bad = {"resourceType": "Parameters", "parameter": [{"name": "meta", "valueMeta": {"tag": "x"}}]}
    assert _post(client, f"Patient/{pid}/$meta-add", bad).status_code == 400
    assert _post(client, f"Patient/missing-{unique}/$meta-add", add).status_code == 404
    assert client.get(f"/fhir/Patient/missing-{unique}/$meta").status_code == 404


# --- Patient/$everything ----------------------------------------------------------------------

@pytest.fixture()
def resident(client, unique):
    """A resident with a contract, its team, a referral and its task, a plan, an encounter,
    observations and a provenance; plus another resident whose records must not come along."""
    ids: dict[str, str] = {}
    ids["org"] = _create(client, {"resourceType": "Organization", "name": f"社区卫生服务中心 {unique}"})
    ids["doc"] = _create(client, {"resourceType": "Practitioner", "name": [{"family": "王", "given": ["医生"]}]})
    ids["patient"] = _create(client, patient(unique, managingOrganization={"reference": f"Organization/{ids['org']}"}))
    ids["other"] = _create(client, patient(unique + "b"))
    subject = {"reference": f"Patient/{ids['patient']}"}
    ids["team"] = _create(client, {"resourceType": "CareTeam", "name": f"团队 {unique}",
                                   "participant": [{"member": {"reference": f"Practitioner/{ids['doc']}"}}]})
    ids["contract"] = _create(client, {"resourceType": "Contract", "status": "executed", "subject": [subject],
                                       "extension": [{"url": CARE_TEAM_EXT,
                                                      "valueReference": {"reference": f"CareTeam/{ids['team']}"}}]})
    ids["referral"] = _create(client, {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
                                       "subject": subject})
    ids["task"] = _create(client, {"resourceType": "Task", "status": "requested", "intent": "order",
                                   "focus": {"reference": f"ServiceRequest/{ids['referral']}"}})
    ids["plan"] = _create(client, {"resourceType": "CarePlan", "status": "active", "intent": "plan",
                                   "subject": subject})
    ids["encounter"] = _create(client, {"resourceType": "Encounter", "status": "finished",
                                        "class": {"code": "AMB"}, "subject": subject})
    ids["obs"] = _create(client, {"resourceType": "Observation", "status": "final", "code": {"text": "血压"},
                                  "subject": subject, "performer": [{"reference": f"Practitioner/{ids['doc']}"}]})
    ids["prov"] = _create(client, {"resourceType": "Provenance", "recorded": "2024-01-01T00:00:00Z",
                                   "target": [{"reference": f"Observation/{ids['obs']}"}],
                                   "agent": [{"who": {"reference": f"Practitioner/{ids['doc']}"}}]})
    ids["other_obs"] = _create(client, {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                                        "subject": {"reference": f"Patient/{ids['other']}"}})
    return ids


def _keys(bundle: dict) -> set[tuple[str, str]]:
    return {(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle.get("entry", [])}


def test_everything_brings_the_records_around_the_resident(client, resident):
    r = resident
    response = client.get(f"/fhir/Patient/{r['patient']}/$everything")
    assert response.status_code == 200
    body = response.get_json()
    assert body["type"] == "searchset"
    expected = {("Patient", r["patient"]), ("Organization", r["org"]), ("Practitioner", r["doc"]),
                ("CareTeam", r["team"]), ("Contract", r["contract"]), ("ServiceRequest", r["referral"]),
                ("Task", r["task"]), ("CarePlan", r["plan"]), ("Encounter", r["encounter"]),
                ("Observation", r["obs"]), ("Provenance", r["prov"])}
    assert _keys(body) == expected and body["total"] == len(expected)
    assert body["entry"][0]["resource"]["id"] == r["patient"]
    assert ("Observation", r["other_obs"]) not in _keys(body)

    only = client.get(f"/fhir/Patient/{r['patient']}/$everything?_type=Observation,Task").get_json()
    assert _keys(only) == {("Observation", r["obs"]), ("Task", r["task"])}
    later = client.get(f"/fhir/Patient/{r['patient']}/$everything?_since=2999-01-01T00:00:00Z").get_json()
    assert later["total"] == 0

    seen: list[tuple[str, str]] = []
    url = f"/fhir/Patient/{r['patient']}/$everything?_count=4"
    while url:
        page = client.get(url).get_json()
        seen += [(e["resource"]["resourceType"], e["resource"]["id"]) for e in page.get("entry", [])]
        nxt = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
        url = nxt.replace("http://testserver", "") if nxt else None
    assert len(seen) == len(expected) and set(seen) == expected

    posted = _post(client, f"Patient/{r['patient']}/$everything",
                   {"resourceType": "Parameters", "parameter": [{"name": "_type", "valueCode": "Contract"}]})
    assert _keys(posted.get_json()) == {("Contract", r["contract"])}


def test_everything_returns_an_audit_event_but_not_what_it_names(client, resident):
    """An AuditEvent about the resident is in their compartment; the other records it names (a
    search page's contracts and observations of other residents) are not the resident's."""
    r = resident
    event = _create(client, {
        "resourceType": "AuditEvent", "type": {"system": "http://dicom.nema.org/resources/ontology/DCM",
                                               "code": "110112"},
        "recorded": "2026-01-01T00:00:00Z", "agent": [{"requestor": True, "who": {"display": "bench"}}],
        "source": {"observer": {"display": "jiayi"}},
        "entity": [{"what": {"reference": f"Patient/{r['patient']}"}},
                   {"what": {"reference": f"Observation/{r['other_obs']}"}},
                   {"what": {"reference": f"Patient/{r['other']}"}}]})
    body = client.get(f"/fhir/Patient/{r['patient']}/$everything").get_json()
    keys = _keys(body)
    assert ("AuditEvent", event) in keys
    assert ("Observation", r["other_obs"]) not in keys and ("Patient", r["other"]) not in keys
    entry = next(e for e in body["entry"] if e["resource"]["resourceType"] == "AuditEvent")
    assert entry["resource"]["entity"][1]["what"]["reference"] == f"Observation/{r['other_obs']}"  # the whole document


def test_everything_errors(client, unique):
    assert client.get(f"/fhir/Patient/missing-{unique}/$everything").status_code == 404
    assert client.get("/fhir/Observation/x/$everything").status_code == 404
    pid = _create(client, patient(unique))
    assert client.get(f"/fhir/Patient/{pid}/$everything?_since=yesterday").status_code == 400
    assert client.get(f"/fhir/Patient/{pid}/$everything?_type=Nothing").status_code == 404


def test_capability_statement_documents_the_new_search_features(client):
    rest = client.get("/fhir/metadata").get_json()["rest"][0]
    by_type = {r["type"]: r for r in rest["resource"]}
    for res_type in ("Patient", "Practitioner", "RelatedPerson", "Organization"):
        name = next(p for p in by_type[res_type]["searchParam"] if p["name"] == "name")
        assert ":pinyin" in name["documentation"]
    text = next(p for p in by_type["Observation"]["searchParam"] if p["name"] == "_text")
    assert "narrative" in text["documentation"]
    assert {"reindex", "meta"} <= {o["name"] for o in rest["operation"]}
    assert {"everything", "meta-add", "meta-delete", "reindex"} <= {o["name"] for o in by_type["Patient"]["operation"]}
    assert "everything" not in {o["name"] for o in by_type["Observation"]["operation"]}
