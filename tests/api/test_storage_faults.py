"""Storage faults (issue 18): a read-only database still answers reads (paging without writing)
and refuses writes with 503 and Retry-After, never a 500.  SQLite opened read-only
(``?mode=ro``) and PostgreSQL with ``default_transaction_read_only``."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy.engine import make_url

from fhir_server.app import create_app


def _read_only_url(url: str) -> str:
    if url.startswith("sqlite"):
        return f"sqlite:///file:{make_url(url).database}?mode=ro&uri=true"
    return f"{url}?options={quote('-c default_transaction_read_only=on')}"


@pytest.fixture(scope="module")
def read_only(app, database_url):
    writer = app.test_client()
    for n in range(3):
        patient = {"resourceType": "Patient", "name": [{"family": "只读", "given": [str(n)]}]}
        assert writer.post("/fhir/Patient", json=patient).status_code == 201
    ro = create_app({"DATABASE_URL": _read_only_url(database_url), "TESTING": True, "MIGRATE_ON_START": False,
                     "LOAD_IG": False, "BASE_URL": "http://testserver/fhir"})
    yield ro.test_client()
    ro.extensions["jiayi.database"].dispose()


def test_reads_page_without_writing(read_only):
    first = read_only.get("/fhir/Patient?family=只读&_count=1")
    assert first.status_code == 200, first.get_data(as_text=True)[:300]
    bundle = first.get_json()
    assert len(bundle["entry"]) == 1
    next_url = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    second = read_only.get(next_url.replace("http://testserver", ""))
    assert second.status_code == 200 and len(second.get_json()["entry"]) == 1


def test_a_write_is_503_with_retry_after(read_only):
    response = read_only.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "写"}]})
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.headers.get("Retry-After")
    assert response.get_json()["issue"][0]["code"] == "transient"
