"""Bundle rules (R4 bundle.html, documents.html, messaging.html; issue 16 §4): fullUrl, duplicate
resources, links, searchset entries, references inside documents and messages.  Request Bundles
(batch, transaction) keep their legitimate shapes."""

from __future__ import annotations

import pytest

from fhir_server.validation import validate_resource

U1 = "urn:uuid:0c3c3f6e-1f4b-4d4e-9b0a-5a1e2c3d4e01"
U2 = "urn:uuid:0c3c3f6e-1f4b-4d4e-9b0a-5a1e2c3d4e02"
BASE = "http://example.org/fhir"


def _patient(pid: str | None = "p1") -> dict:
    resource = {"resourceType": "Patient", "active": True}
    if pid:
        resource["id"] = pid
    return resource


def _errors(resource: dict) -> list[tuple[str, str]]:
    return [(i.expression[0] if i.expression else "", i.diagnostics) for i in validate_resource(resource)
            if i.is_error]


def _collection(*entries: dict, kind: str = "collection", **extra) -> dict:
    bundle = {"resourceType": "Bundle", "type": kind, **extra}
    return {**bundle, "entry": list(entries)} if entries else bundle


def _document(composition_refs: dict, *entries: dict) -> dict:
    composition = {"resourceType": "Composition", "id": "c1", "status": "final", "type": {"text": "summary"},
                   "date": "2024-05-01", "author": [{"display": "王医生"}], "title": "Summary", **composition_refs}
    return _collection({"fullUrl": f"{BASE}/Composition/c1", "resource": composition}, *entries, kind="document",
                       identifier={"system": "urn:ietf:rfc:3986", "value": U1}, timestamp="2024-05-01T10:00:00+08:00")


@pytest.mark.parametrize("full_url", [f"{BASE}/Patient/p1", U1, "urn:oid:1.2.156.1", "https://x.cn/records/123"])
def test_absolute_full_urls_are_accepted(full_url):
    assert _errors(_collection({"fullUrl": full_url, "resource": _patient()})) == []


@pytest.mark.parametrize("full_url", ["Patient/p1", "p1", "urn:uuid:not-a-uuid", "urn:oid:abc"])
def test_relative_or_ill_formed_full_urls_are_refused(full_url):
    errors = _errors(_collection({"fullUrl": full_url, "resource": _patient()}))
    assert [e for e in errors if e[0] == "Bundle.entry[0].fullUrl"], errors


def test_restful_full_url_must_name_the_resource_type_and_id():
    assert _errors(_collection({"fullUrl": f"{BASE}/Patient/p2", "resource": _patient("p1")}))
    assert _errors(_collection({"fullUrl": f"{BASE}/Practitioner/p1", "resource": _patient("p1")}))
    no_id = _errors(_collection({"fullUrl": f"{BASE}/Patient/p1", "resource": _patient(None)}))
    assert [e for e in no_id if "has no id" in e[1]]


def test_duplicate_resources_and_full_urls():
    same = _collection({"resource": _patient()}, {"resource": _patient()})
    assert [e for e in _errors(same) if e[0] == "Bundle.entry[1].resource.id"]
    urls = _collection({"fullUrl": U1, "resource": _patient()}, {"fullUrl": U1, "resource": _patient("p2")})
    assert [e for e in _errors(urls) if "bdl-7" in e[1]]
    two_servers = _collection({"fullUrl": "http://a.cn/fhir/Patient/p1", "resource": _patient()},
                              {"fullUrl": "http://b.cn/fhir/Patient/p1", "resource": _patient()})
    assert _errors(two_servers) == []
    versions = [{**_patient(), "meta": {"versionId": v}} for v in ("1", "2")]
    history = _collection(*({"fullUrl": f"{BASE}/Patient/p1", "resource": r,
                             "request": {"method": "PUT", "url": "Patient/p1"}, "response": {"status": "200"}}
                            for r in versions), kind="history")
    assert _errors(history) == []


def test_link_relations_once_and_paging_only_in_searches():
    links = [{"relation": "self", "url": f"{BASE}/Patient"}, {"relation": "self", "url": f"{BASE}/Patient?x=1"}]
    assert [e for e in _errors(_collection(kind="searchset", link=links)) if e[0] == "Bundle.link[1]"]
    paging = [{"relation": "next", "url": f"{BASE}/Patient?page=2"}]
    assert _errors(_collection(kind="searchset", link=paging)) == []
    assert [e for e in _errors(_collection(link=paging)) if e[0] == "Bundle.link[0].relation"]


def test_searchset_matches_have_ids_and_the_searched_type():
    link = [{"relation": "self", "url": f"{BASE}/Patient?active=true"}]
    good = _collection({"fullUrl": f"{BASE}/Patient/p1", "resource": _patient(), "search": {"mode": "match"}},
                       kind="searchset", link=link)
    assert _errors(good) == []
    no_id = _collection({"resource": _patient(None), "search": {"mode": "match"}}, kind="searchset", link=link)
    assert [e for e in _errors(no_id) if e[0] == "Bundle.entry[0].resource.id"]
    other = {"resourceType": "Organization", "id": "o1", "name": "卫生院"}
    assert _errors(_collection({"resource": other, "search": {"mode": "match"}}, kind="searchset", link=link))
    assert _errors(_collection({"resource": _patient(), "search": {"mode": "outcome"}}, kind="searchset"))


def test_document_references_resolve_inside_the_bundle():
    patient = {"fullUrl": f"{BASE}/Patient/p1", "resource": _patient()}
    assert _errors(_document({"subject": {"reference": "Patient/p1"}}, patient)) == []
    assert _errors(_document({"subject": {"reference": f"{BASE}/Patient/p1"}}, patient)) == []
    missing = _errors(_document({"subject": {"reference": "Patient/p9"}}, patient))
    assert [e for e in missing if e[0] == "Bundle.entry[0].resource.subject"]


def test_relative_reference_from_a_uuid_full_url_does_not_match_by_id():
    composition_entry = _document({"subject": {"reference": "Patient/p1"}}, {"fullUrl": U2, "resource": _patient()})
    composition_entry["entry"][0]["fullUrl"] = U1
    composition_entry["identifier"]["value"] = U2.replace("e02", "e03")
    assert [e for e in _errors(composition_entry) if e[0] == "Bundle.entry[0].resource.subject"]


def test_version_specific_and_ambiguous_references():
    v1 = {"fullUrl": f"{BASE}/Patient/p1", "resource": {**_patient(), "meta": {"versionId": "1"}}}
    v2 = {"fullUrl": f"{BASE}/Patient/p1", "resource": {**_patient(), "meta": {"versionId": "2"}}}
    assert _errors(_document({"subject": {"reference": "Patient/p1/_history/2"}}, v1, v2)) == []
    ambiguous = _errors(_document({"subject": {"reference": "Patient/p1"}}, v1, v2))
    assert [e for e in ambiguous if "matches 2 entries" in e[1]]
    assert _errors(_document({"subject": {"reference": "Patient/p1/_history/3"}}, v1, v2))


def test_message_focus_resolves_and_a_resolved_reference_has_the_stated_type():
    header = {"resourceType": "MessageHeader", "id": "m1", "eventCoding": {"system": "http://x.cn", "code": "e"},
              "source": {"endpoint": "http://x.cn/ep"}, "focus": [{"reference": U2}]}
    message = _collection({"fullUrl": U1, "resource": header}, kind="message")
    assert [e for e in _errors(message) if e[0] == "Bundle.entry[0].resource.focus[0]"]
    message["entry"].append({"fullUrl": U2, "resource": _patient()})
    assert _errors(message) == []
    organization = {"resourceType": "Organization", "id": "o1", "name": "卫生院"}
    wrong = _collection({"fullUrl": f"{BASE}/Patient/p1",
                         "resource": {**_patient(), "generalPractitioner": [{"reference": "Practitioner/o1"}]}},
                        {"resource": organization})
    assert _errors(wrong) == []  # Practitioner/o1 is not in the Bundle: nothing to compare
    wrong["entry"][1]["fullUrl"] = f"{BASE}/Practitioner/o1"
    assert [e for e in _errors(wrong) if "a Organization, not a Practitioner" in e[1]]


def test_transaction_shapes_stay_valid():
    transaction = _collection(
        {"fullUrl": U1, "resource": _patient(None), "request": {"method": "POST", "url": "Patient"}},
        {"resource": _patient(None), "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": f"{BASE}/Patient/p7", "resource": _patient(None), "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": f"{BASE}/Patient/p1", "resource": _patient(), "request": {"method": "PUT", "url": "Patient/p1"}},
        {"request": {"method": "DELETE", "url": "Patient/p3"}},
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "BP"},
                      "subject": {"reference": U1}}, "request": {"method": "POST", "url": "Observation"}},
        kind="transaction")
    assert _errors(transaction) == []
    own_keys = _collection({"fullUrl": "urn:uuid:ph-1f2e", "resource": _patient(None),
                            "request": {"method": "POST", "url": "Patient"}}, kind="batch")
    assert _errors(own_keys) == []  # a warning only: the server resolves the placeholder by string
    relative = _collection({"fullUrl": "Patient/p1", "resource": _patient(),
                            "request": {"method": "PUT", "url": "Patient/p1"}}, kind="transaction")
    assert _errors(relative)
