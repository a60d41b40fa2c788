"""Includes, compartments, paging, totals and custom SearchParameters, on all three engines
where the behaviour is shared, on the databases where it is about storage."""

from __future__ import annotations

from datetime import datetime

import pytest
from search_dataset import DATASET_TAG, delete, items_of, run_search, write

from fhir_server.core.errors import Gone
from fhir_server.search import MemorySearch, current_registry, execute_search, parse_search, reindex
from fhir_server.search.page import binding

INCLUDE_CASES = [
    ("Observation", "code=85354-9&_include=Observation:subject", {"bp1", "bp2"}, {"zhangsan", "lisi"}),
    ("Observation", "code=85354-9&_include=Observation:subject&_include:iterate=Patient:general-practitioner",
     {"bp1", "bp2"}, {"zhangsan", "lisi", "doc1", "doc2"}),
    ("Patient", "_id=s-zhangsan&_revinclude=Observation:subject", {"zhangsan"}, {"bp1", "glu1"}),
    ("Patient", "_id=s-zhangsan&_revinclude=Observation:subject&_revinclude:iterate=Provenance:target",
     {"zhangsan"}, {"bp1", "glu1", "prov1"}),
    ("Observation", "_id=s-bp1&_include=*", {"bp1"}, {"zhangsan", "doc1"}),
    ("Observation", "_id=s-bp1&_include=Observation:performer:Practitioner", {"bp1"}, {"doc1"}),
    ("Observation", "_id=s-bp1&_include=Observation:performer:Organization", {"bp1"}, set()),
]


def _ids(rows) -> set[str]:
    return {r.res_id.removeprefix("s-") for r in rows}


@pytest.mark.parametrize(("res_type", "query", "matches", "included"), INCLUDE_CASES)
def test_includes_memory(memory_store, res_type, query, matches, included):
    page = run_search(memory_store, res_type, query)
    assert (_ids(page.matches), _ids(page.included)) == (matches, included)


@pytest.mark.parametrize(("res_type", "query", "matches", "included"), INCLUDE_CASES)
def test_includes_database(search_db, res_type, query, matches, included):
    page = run_search(search_db, res_type, query)
    assert (_ids(page.matches), _ids(page.included)) == (matches, included)


COMPARTMENT_CASES = [
    ("Observation", ("Patient", "s-zhangsan"), {"bp1", "glu1"}),
    ("Encounter", ("Patient", "s-zhangsan"), {"enc1"}),
    ("Patient", ("Patient", "s-zhangsan"), {"zhangsan", "xiaoming"}),
    ("Observation", ("Patient", "s-nobody"), set()),
]


@pytest.mark.parametrize(("res_type", "compartment", "expected"), COMPARTMENT_CASES)
def test_compartment(memory_store, search_db, res_type, compartment, expected):
    for engine in (memory_store, search_db):
        assert _ids(run_search(engine, res_type, "", compartment=compartment).matches) == expected


def test_summary_count_and_total_none(memory_store, search_db):
    for engine in (memory_store, search_db):
        counted = run_search(engine, "Patient", "gender=male&_summary=count")
        assert counted.total == 4 and counted.matches == []
        assert run_search(engine, "Patient", "gender=male&_total=none&_count=2").total is None


def _paging_patient(tag: str, pid: str, birth: str, minute: int) -> dict:
    return {"resourceType": "Patient", "id": pid, "birthDate": birth,
            "meta": {"versionId": "1", "lastUpdated": f"2024-02-01T00:{minute:02d}:00Z",
                     "tag": [{"system": "http://jiayi.test/paging", "code": tag}]}}


def _page(db, query: str, token: str | None):
    with db.session(write=True) as session:
        result = execute_search(session, parse_search("Patient", items_of(query, tagged=False)), token)
        session.expunge_all()
        return result


def test_paging_is_stable_while_data_changes(search_db):
    tag = f"stable-{search_db.dialect}"
    with search_db.session(write=True) as session:
        for n in range(5):
            write(session, _paging_patient(tag, f"pg-{tag}-{n}", f"19{60 + n}-01-01", n))
    query = f"_tag=http://jiayi.test/paging|{tag}&_sort=birthdate&_count=2"
    first = _page(search_db, query, None)
    assert first.total == 5 and first.next_page and first.previous_page is None
    with search_db.session(write=True) as session:  # would sort first, and shift every later page
        write(session, _paging_patient(tag, f"pg-{tag}-new", "1900-01-01", 9))
        delete(session, "Patient", f"pg-{tag}-4")
    second = _page(search_db, query, first.next_page)
    third = _page(search_db, query, second.next_page)
    seen = [m.res_id[-1] for p in (first, second, third) for m in p.matches]
    assert seen == ["0", "1", "2", "3"]  # no duplicate, no miss; the deleted one dropped out
    assert third.next_page is None and third.previous_page == first.next_page
    assert _page(search_db, query, second.previous_page).matches[0].res_id == f"pg-{tag}-0"


def test_paging_in_memory_follows_tokens(memory_store):
    first = run_search(memory_store, "Patient", "_sort=birthdate&_count=4")
    second = run_search(memory_store, "Patient", "_sort=birthdate&_count=4", page=first.next_page)
    assert [m.res_id for m in second.matches] == ["s-jose", "s-xiaoming"] and second.next_page is None


def test_expired_or_unknown_token_runs_the_search_again(search_db):
    query = "_sort=birthdate&_count=2"
    tag = binding(parse_search("Patient", items_of(query)))
    page = run_search(search_db, "Patient", query, page=f"0123abcd{tag}-2")
    assert [m.res_id for m in page.matches] == ["s-lisi", "s-zhaoliu"] and page.next_page


def test_a_token_serves_only_its_own_query_and_type(search_db):
    first = run_search(search_db, "Patient", "_sort=birthdate&_count=2")
    assert first.next_page
    with pytest.raises(Gone):
        run_search(search_db, "Patient", "_sort=birthdate&_count=2&gender=male", page=first.next_page)
    with pytest.raises(Gone):
        run_search(search_db, "Observation", "_count=2", page=first.next_page)
    with pytest.raises(Gone):
        run_search(search_db, "Patient", "_sort=birthdate&_count=2", page="0123abcd-2")


NATION_SP = {
    "resourceType": "SearchParameter", "id": "s-nation", "url": "http://jiayi.test/SearchParameter/nation",
    "name": "nation", "status": "active", "code": "nation", "base": ["Patient"], "type": "token",
    "expression": "Patient.extension.where(url='http://jiayi.test/nation').value",
    "meta": {"versionId": "1", "lastUpdated": "2024-03-01T00:00:00Z", "tag": [DATASET_TAG]},
}


def _nation_patient() -> dict:
    return {"resourceType": "Patient", "id": "s-nation1", "name": [{"family": "马", "given": ["六"]}],
            "extension": [{"url": "http://jiayi.test/nation", "valueCode": "hui"}],
            "meta": {"versionId": "1", "lastUpdated": "2024-03-01T00:00:00Z", "tag": [DATASET_TAG]}}


def test_custom_search_parameter_and_reindex(search_db):
    with search_db.session(write=True) as session:
        write(session, _nation_patient())  # indexed before the parameter existed
        write(session, NATION_SP)
    with search_db.session(write=True) as session:
        registry = current_registry(session)
        request = parse_search("Patient", [("nation", "hui")], strict=True, registry=registry)
        assert execute_search(session, request).matches == []
        assert reindex(session, "Patient", "s-nation1") == 1
        assert [m.res_id for m in execute_search(session, request).matches] == ["s-nation1"]
    with search_db.session(write=True) as session:
        delete(session, "SearchParameter", "s-nation")
        delete(session, "Patient", "s-nation1")


def test_custom_search_parameter_in_memory(memory_store):
    store = {**memory_store, ("SearchParameter", "s-nation"): NATION_SP, ("Patient", "s-nation1"): _nation_patient()}
    engine = MemorySearch(lambda: store)
    request = parse_search("Patient", [("nation", "hui")], strict=True, registry=engine.registry())
    assert [m.res_id for m in engine.execute(request).matches] == ["s-nation1"]


def test_deleted_resources_leave_the_index(search_db):
    with search_db.session(write=True) as session:
        write(session, {**_nation_patient(), "id": "s-gone"})
        delete(session, "Patient", "s-gone")
    assert run_search(search_db, "Patient", "_id=s-gone").matches == []
    assert run_search(search_db, "Patient", "name=马六").matches == []


def test_reindex_everything_keeps_results(search_db):
    with search_db.session(write=True) as session:
        assert reindex(session, "Observation") >= 5
    assert _ids(run_search(search_db, "Observation", "code=85354-9").matches) == {"bp1", "bp2"}


def test_match_rows_look_alike(memory_store, search_db):
    for engine in (memory_store, search_db):
        match = run_search(engine, "Patient", "_id=s-lisi").matches[0]
        assert (match.res_type, match.res_id, match.version) == ("Patient", "s-lisi", 1)
        assert match.content["birthDate"] == "1962-07" and isinstance(match.last_updated, datetime)


@pytest.mark.parametrize(("query", "expected"), [
    ("_type=Patient,Observation&_id=s-lisi,s-bp1", {"lisi", "bp1"}),
    ("_type=Patient&_lastUpdated=ge2024-01-01T00:09:00Z", {"jose", "xiaoming"}),
    ("_type=Practitioner,Organization&_lastUpdated=lt2024-01-01T00:02:00Z", {"org2", "org1"}),
])
def test_system_level_search(memory_store, search_db, query, expected):
    for engine in (memory_store, search_db):
        assert _ids(run_search(engine, None, query).matches) == expected


def test_memory_returns_stored_objects_as_given(memory_store):
    class Stored:
        def __init__(self, content):
            self.res_type, self.res_id, self.content = content["resourceType"], content["id"], content
            self.version, self.last_updated, self.deleted = 7, datetime(2024, 1, 1), False

    store = {k: Stored(v) for k, v in memory_store.items()}
    match = MemorySearch(lambda: store).execute(parse_search("Patient", [("_id", "s-lisi")])).matches[0]
    assert isinstance(match, Stored) and match.version == 7
