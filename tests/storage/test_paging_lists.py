"""A SQLite database keeps its searches' paging lists in a file of their own
(``storage/paging_lists.py``): a search with more than one page neither waits for the main file's
writer nor writes to it, and its next pages are read back from that file.  PostgreSQL and the
SQLite databases without a file beside them keep the lists in the main database."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from helpers import migrated_url
from sqlalchemy import create_engine, text

from fhir_server.app import create_app
from fhir_server.storage import paging_lists


def _next(page: dict) -> str | None:
    url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    return url.replace("http://localhost", "") if url else None


def test_a_paged_search_neither_waits_for_the_writer_nor_writes_the_main_file(request, tmp_path_factory):
    url = migrated_url("sqlite", request, tmp_path_factory)
    app = create_app({"DATABASE_URL": url, "TESTING": True})
    client = app.test_client()
    for n in range(25):
        assert client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"text": f"居民{n}"}]}
                           ).status_code == 201
    main_file = Path(url.removeprefix("sqlite:///"))
    writer = sqlite3.connect(main_file, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process's writer holds the main file's lock throughout
    pages: list[dict] = []

    def page_through() -> None:
        link: str | None = "/fhir/Patient?_count=10&_sort=_id"
        while link:
            answer = client.get(link)
            assert answer.status_code == 200, answer.get_json()
            pages.append(answer.get_json())
            link = _next(pages[-1])

    try:
        searching = threading.Thread(target=page_through, daemon=True)
        searching.start()
        searching.join(20)  # the writer's lock would hold the search for the busy timeout (30 s)
        assert not searching.is_alive(), "the paged search waited for the main file's writer"
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert [len(p["entry"]) for p in pages] == [10, 10, 5]
    assert len({e["resource"]["id"] for p in pages for e in p["entry"]}) == 25
    with create_engine(url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM search_session")).scalar() == 0
    assert Path(f"{main_file}{paging_lists.SUFFIX}").exists()
    app.extensions["jiayi.database"].dispose()


def test_the_lists_stay_in_the_main_database_where_there_is_no_file_beside_it(database_url):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True})
    engine = app.extensions["jiayi.database"].engine
    try:
        expected_apart = engine.dialect.name == "sqlite" and (engine.url.database or "").startswith("/")
        assert (paging_lists.lists_engine(engine) is not None) is expected_apart
        assert paging_lists.lists_engine(create_engine("sqlite://")) is None
        immutable = create_engine("sqlite:///file:/nowhere/x.sqlite3?immutable=1&uri=true")
        assert paging_lists.lists_engine(immutable) is None
    finally:
        app.extensions["jiayi.database"].dispose()
