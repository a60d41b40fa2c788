"""The floors of SPEC §8: what the framework and the database can do with no FHIR in the way.

- read floor: a bare Flask + SQLAlchemy endpoint returning a stored JSON row by key
  (``GET /floor/<type>/<id>``), served by gunicorn with the settings of ``jiayi serve``;
- write floor: the same app inserting a posted JSON row (``POST /floor/<type>``);
- ingest floor: a raw bulk INSERT (``executemany``; ``COPY`` on PostgreSQL) of the rows the
  district load writes, in batches of the bundle size, one transaction per batch.

The rows live in ``bench_floor`` beside Jiayi's tables in the benchmark database, in the same
JSON column type (JSON text on SQLite, JSONB on PostgreSQL) and through the same engine
settings, so the ratio to the floor is the cost of Jiayi itself.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

import orjson
from sqlalchemy import Column, MetaData, String, Table, insert, select

from fhir_server.storage.db import create_db_engine
from fhir_server.storage.models import Document

metadata = MetaData()
FLOOR = Table("bench_floor", metadata,
              Column("res_type", String(64), primary_key=True),
              Column("res_id", String(64), primary_key=True),
              Column("content", Document, nullable=False))


def create_floor_table(url: str) -> None:
    engine = create_db_engine(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    engine.dispose()


def bulk_insert(url: str, batches: Iterable[list[dict]]) -> tuple[int, list[float]]:
    """Insert every batch in its own transaction; return (rows, seconds per batch)."""
    engine = create_db_engine(url)
    rows, times = 0, []
    try:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            for batch in batches:
                started = time.perf_counter()
                if engine.dialect.name == "postgresql":
                    _copy(raw, batch)
                else:
                    _executemany(raw, batch)
                times.append(time.perf_counter() - started)
                rows += len(batch)
    finally:
        engine.dispose()
    return rows, times


def _executemany(raw, batch: list[dict]) -> None:
    cursor = raw.cursor()
    cursor.execute("BEGIN")
    cursor.executemany("INSERT INTO bench_floor (res_type, res_id, content) VALUES (?, ?, ?)",
                       [(r["resourceType"], r["id"], orjson.dumps(r).decode()) for r in batch])
    cursor.execute("COMMIT")


def _copy(raw, batch: list[dict]) -> None:
    with raw.cursor() as cursor, cursor.copy("COPY bench_floor (res_type, res_id, content) FROM STDIN") as copy:
        for r in batch:
            copy.write_row((r["resourceType"], r["id"], orjson.dumps(r).decode()))
    raw.commit()


def create_floor_app(url: str):
    from flask import Flask, Response, abort, request

    app = Flask("jiayi-floor")
    engine = create_db_engine(url)
    by_key = select(FLOOR.c.content)

    @app.get("/floor/ping")
    def ping():
        return "ok"

    @app.get("/floor/<res_type>/<res_id>")
    def read(res_type: str, res_id: str):
        with engine.connect() as conn:
            content = conn.execute(by_key.where(FLOOR.c.res_type == res_type,
                                                FLOOR.c.res_id == res_id)).scalar_one_or_none()
        if content is None:
            abort(404)
        return Response(orjson.dumps(content), mimetype="application/json")

    @app.post("/floor/<res_type>")
    def create(res_type: str):
        content = orjson.loads(request.get_data())
        content["id"] = uuid.uuid4().hex
        with engine.begin() as conn:
            conn.execute(insert(FLOOR).values(res_type=res_type, res_id=content["id"], content=content))
        return Response(orjson.dumps(content), status=201, mimetype="application/json")

    return app


def main() -> None:
    import argparse

    from gunicorn.app.base import BaseApplication

    from fhir_server.serving import gunicorn_options

    parser = argparse.ArgumentParser(description="The benchmark's floor server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    class Floor(BaseApplication):
        def load_config(self) -> None:
            for key, value in gunicorn_options("127.0.0.1", args.port, args.workers, args.threads).items():
                self.cfg.set(key, value)

        def load(self):
            return create_floor_app(args.database)

    Floor().run()


if __name__ == "__main__":
    main()
