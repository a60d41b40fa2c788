"""What each Bundle rule says, where and how strongly (severity, issue code, location and the
words a client acts on): written from the mutation run of validation/bundle.py
(docs/testing.md), whose survivors showed the tests only asked "is there an error?"."""

from __future__ import annotations

from fhir_server.validation.bundle import bundle_issues

U1 = "urn:uuid:0c3c3f6e-1f4b-4d4e-9b0a-5a1e2c3d4e01"
BASE = "http://example.org/fhir"


def _issues(bundle: dict) -> list[tuple[str, str, str, str]]:
    return [(i.severity, i.code, i.expression[0], i.diagnostics) for i in bundle_issues(bundle)]


def _bundle(kind: str, *entries: dict, **extra) -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries), **extra}


def _patient(pid: str | None = "p1", version: str | None = None) -> dict:
    resource: dict = {"resourceType": "Patient"}
    if pid:
        resource["id"] = pid
    if version:
        resource["meta"] = {"versionId": version}
    return resource


def test_the_default_location_is_bundle():
    bundle = _bundle("collection", {"fullUrl": "Patient/p1", "resource": _patient()})
    assert [i.expression for i in bundle_issues(bundle)] == [("Bundle.entry[0].fullUrl",)]


def test_ill_formed_urns_are_errors_in_a_collection_and_warnings_in_a_request():
    for bad, words in (("urn:uuid:ABC", "urn:uuid: followed by a lowercase UUID"),
                       ("urn:oid:1.x", "urn:oid: followed by an OID")):
        entry = {"fullUrl": bad, "resource": _patient()}
        (issue,) = _issues(_bundle("collection", entry))
        assert issue[:3] == ("error", "invalid", "Bundle.entry[0].fullUrl") and bad in issue[3] and words in issue[3]
        entry["request"] = {"method": "POST", "url": "Patient"}
        (issue,) = _issues(_bundle("transaction", entry))
        assert issue[:3] == ("warning", "invalid", "Bundle.entry[0].fullUrl")


def test_a_relative_full_url_is_named_in_the_error():
    (issue,) = _issues(_bundle("transaction", {"fullUrl": "Patient/p1", "resource": _patient(),
                                               "request": {"method": "PUT", "url": "Patient/p1"}}))
    assert issue[:3] == ("error", "invalid", "Bundle.entry[0].fullUrl")
    assert "'Patient/p1'" in issue[3] and "relative reference" in issue[3]


def test_a_restful_full_url_must_name_the_resource_s_type_and_id():
    (issue,) = _issues(_bundle("collection", {"fullUrl": f"{BASE}/Patient/p2", "resource": _patient("p1")}))
    assert issue[:3] == ("error", "invalid", "Bundle.entry[0].fullUrl") and "(Patient/p1)" in issue[3]
    observation = {"resourceType": "Observation", "id": "p1"}
    (issue,) = _issues(_bundle("collection", {"fullUrl": f"{BASE}/Patient/p1", "resource": observation}))
    assert "(Observation/p1)" in issue[3]
    # urn: fullUrls name no type or id
    assert _issues(_bundle("collection", {"fullUrl": U1, "resource": _patient("p9")})) == []


def test_a_restful_full_url_needs_the_id_except_on_a_post_of_a_request():
    entry = {"fullUrl": f"{BASE}/Patient/p1", "resource": _patient(None)}
    (issue,) = _issues(_bundle("collection", entry))
    assert issue[:3] == ("error", "invalid", "Bundle.entry[0].resource.id") and "has no id" in issue[3]
    put = {**entry, "request": {"method": "PUT", "url": "Patient/p1"}}
    assert [i[2] for i in _issues(_bundle("transaction", put))] == ["Bundle.entry[0].resource.id"]
    post = {**entry, "request": {"method": "POST", "url": "Patient"}}
    assert _issues(_bundle("transaction", post)) == []
    assert [i[2] for i in _issues(_bundle("collection", post))] == ["Bundle.entry[0].resource.id"]


def test_bdl_7_names_the_first_entry_with_the_same_full_url():
    entries = [{"fullUrl": f"{BASE}/Patient/p{i}", "resource": _patient(f"p{i}")} for i in range(3)]
    entries.append({"fullUrl": f"{BASE}/Patient/p1", "resource": _patient("p1")})
    issues = [i for i in _issues(_bundle("collection", *entries)) if i[1] == "invariant"]
    assert [i[:3] for i in issues] == [("error", "invariant", "Bundle.entry[3].fullUrl")]
    assert f"'{BASE}/Patient/p1'" in issues[0][3] and "entry 1 " in issues[0][3] and "bdl-7" in issues[0][3]


def test_the_same_resource_twice_names_the_first_entry_and_goes_on():
    entries = [{"resource": _patient("p1")}, {"resource": _patient("p2")}, {"resource": _patient("p1")},
               {"resource": _patient("p2")}]
    issues = _issues(_bundle("collection", *entries))
    assert [i[:3] for i in issues] == [("error", "invalid", "Bundle.entry[2].resource.id"),
                                       ("error", "invalid", "Bundle.entry[3].resource.id")]
    assert "Patient/p1 is in entry 0" in issues[0][3] and "Patient/p2 is in entry 1" in issues[1][3]
    versions = [{"resource": _patient("p1", "1")}, {"resource": _patient("p1", "2")}]
    assert _issues(_bundle("collection", *versions)) == []
    two_servers = [{"fullUrl": f"{BASE}/Patient/p1", "resource": _patient("p1")},
                   {"fullUrl": "http://other.org/fhir/Patient/p1", "resource": _patient("p1")}]
    assert _issues(_bundle("collection", *two_servers)) == []
    assert _issues(_bundle("history", *entries)) == []


def test_link_relations_once_and_paging_only_when_paged():
    links = [{"relation": "self", "url": f"{BASE}/Patient"}, {"relation": "self", "url": f"{BASE}/Patient?x"},
             {"relation": "next", "url": f"{BASE}/Patient?page=2"}]
    issues = _issues({"resourceType": "Bundle", "type": "collection", "link": links})
    assert [i[:3] for i in issues] == [("error", "invalid", "Bundle.link[1]"),
                                       ("error", "invalid", "Bundle.link[2].relation")]
    assert "'self'" in issues[0][3] and "'next'" in issues[1][3] and "collection" in issues[1][3]
    assert _issues({"resourceType": "Bundle", "type": "searchset", "link": links[:1] + links[2:]}) == []


def test_searchset_entries():
    links = [{"relation": "self", "url": f"{BASE}/Patient/?name=x"}]
    entries = [{"resource": {"resourceType": "Observation", "id": "o1"}, "search": {"mode": "match"}},
               {"resource": _patient(None), "search": {"mode": "match"}},
               {"resource": _patient("p3"), "search": {"mode": "outcome"}},
               {"resource": {"resourceType": "Observation", "id": "o2"}, "search": {"mode": "include"}}]
    issues = _issues(_bundle("searchset", *entries, link=links))
    assert [i[:3] for i in issues] == [("error", "invalid", "Bundle.entry[0].resource"),
                                       ("error", "required", "Bundle.entry[1].resource.id"),
                                       ("error", "invalid", "Bundle.entry[2].resource")]
    assert "search for Patient" in issues[0][3] and "a Observation" in issues[0][3]
    assert "not a Patient" in issues[2][3]
    # a self link that names no resource type says nothing about the matches
    other = [{"relation": "self", "url": f"{BASE}/_search"}]
    assert _issues(_bundle("searchset", entries[0], link=other)) == []


def test_reference_resolution_in_a_document():
    def composition(*refs: str) -> dict:
        return {"resourceType": "Composition", "id": "c1", "subject": {"reference": refs[0]},
                "author": [{"reference": r} for r in refs[1:]]}
    entries = [{"fullUrl": f"{BASE}/Composition/c1", "resource": composition("Patient/p1", "Practitioner/d9")},
               {"fullUrl": f"{BASE}/Patient/p1", "resource": _patient("p1")}]
    issues = _issues(_bundle("document", *entries))
    assert [i[:3] for i in issues] == [("error", "not-found", "Bundle.entry[0].resource.author[0]")]
    assert "'Practitioner/d9'" in issues[0][3] and "document" in issues[0][3]
    # the same references outside the Composition, or in a collection, need not resolve
    assert _issues(_bundle("collection", *entries)) == []
    wrong = [{"fullUrl": f"{BASE}/Composition/c1", "resource": composition(f"{BASE}/Practitioner/p1")},
             {"fullUrl": f"{BASE}/Practitioner/p1", "resource": _patient("p1")}]
    issues = [i for i in _issues(_bundle("collection", *wrong)) if i[2] != "Bundle.entry[1].fullUrl"]
    assert [i[:3] for i in issues] == [("error", "invalid", "Bundle.entry[0].resource.subject")]
    assert "entry[1], a Patient, not a Practitioner" in issues[0][3]


def test_an_ambiguous_reference_names_the_entries():
    entries = [{"fullUrl": f"{BASE}/Composition/c1", "resource": {
                   "resourceType": "Composition", "id": "c1", "subject": {"reference": U1}}},
               {"fullUrl": U1, "resource": _patient("p1", "1")}, {"fullUrl": U1, "resource": _patient("p1", "2")}]
    issues = [i for i in _issues(_bundle("collection", *entries)) if "matches" in i[3]]
    assert [i[:3] for i in issues] == [("error", "invalid", "Bundle.entry[0].resource.subject")]
    assert "2 entries" in issues[0][3] and "entry[1], entry[2]" in issues[0][3]


def test_a_message_focus_must_travel_with_the_message():
    header = {"resourceType": "MessageHeader", "id": "h1", "focus": [{"reference": "Patient/p2"}],
              "sender": {"reference": "Organization/o1"}}
    entries = [{"fullUrl": f"{BASE}/MessageHeader/h1", "resource": header},
               {"fullUrl": f"{BASE}/Patient/p1", "resource": _patient("p1")}]
    issues = _issues(_bundle("message", *entries))
    assert [i[:3] for i in issues] == [("error", "not-found", "Bundle.entry[0].resource.focus[0]")]
    header["focus"] = [{"reference": "Patient/p1"}]
    assert _issues(_bundle("message", *entries)) == []


def test_version_specific_references_resolve_by_version():
    entries = [{"fullUrl": f"{BASE}/Composition/c1", "resource": {
                   "resourceType": "Composition", "id": "c1", "subject": {"reference": "Patient/p1/_history/2"}}},
               {"fullUrl": f"{BASE}/Patient/p1", "resource": _patient("p1", "1")}]
    assert [i[1] for i in _issues(_bundle("document", *entries))] == ["not-found"]
    entries[1]["resource"]["meta"]["versionId"] = "2"
    assert _issues(_bundle("document", *entries)) == []


def test_an_outcome_entry_that_is_an_operation_outcome_is_fine():
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "information", "code": "informational"}]}
    entries = [{"resource": outcome, "search": {"mode": "outcome"}},
               {"resource": _patient("p1"), "search": {"mode": "match"}}]
    links = [{"relation": "self", "url": f"{BASE}/Patient?name=x"}]
    assert _issues(_bundle("searchset", *entries, link=links)) == []


def test_messages_say_the_rule():
    entries = [{"fullUrl": U1, "resource": _patient("p1")}, {"fullUrl": U1, "resource": _patient("p2")},
               {"resource": _patient("p3")}, {"resource": _patient("p3")}]
    words = [i[3] for i in _issues(_bundle("collection", *entries))]
    assert any(w.endswith("too; a fullUrl must be unique in a Bundle (or carry different meta.versionId)")
               for w in words)
    assert any(w.endswith("a resource appears once in a Bundle (or with different meta.versionId)") for w in words)
    (issue,) = _issues(_bundle("searchset", {"resource": _patient(None), "search": {"mode": "match"}}))
    assert issue[3] == "A resource found by a search has an id"
    (issue,) = _issues(_bundle("collection", {"fullUrl": f"{BASE}/Patient/p1", "resource": _patient(None)}))
    assert issue[3].endswith("but the resource has no id")


def test_entries_after_a_skipped_one_are_still_checked():
    entries = [{"request": {"method": "DELETE", "url": "Patient/p0"}},
               {"resource": _patient("p1")}, {"resource": _patient("p1")}]
    assert [i[2] for i in _issues(_bundle("transaction", *entries))] == ["Bundle.entry[2].resource.id"]
    links = [{"relation": "self", "url": f"{BASE}/Patient?name=x"}]
    found = [{"search": {"mode": "match"}}, {"resource": _patient(None), "search": {"mode": "match"}}]
    assert [i[2] for i in _issues(_bundle("searchset", *found, link=links))] == ["Bundle.entry[1].resource.id"]
