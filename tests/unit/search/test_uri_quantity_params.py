"""uri (:above/:below) and quantity (system/code/unit) search, SQL and in-memory halves side by
side: written from the mutation run of search/params/uri.py and quantity.py (docs/testing.md)."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Float, MetaData, String, Table, create_engine, insert, select

from fhir_server.search.params import quantity, uri

UCUM = "http://unitsofmeasure.org"


@pytest.fixture(scope="module")
def db():
    engine = create_engine("sqlite://")
    meta = MetaData()
    tables = {
        "uri": Table("u", meta, Column("value", String)),
        "quantity": Table("q", meta, Column("system", String), Column("code", String), Column("unit", String),
                          Column("low", Float), Column("high", Float)),
    }
    meta.create_all(engine)
    with engine.connect() as conn:
        yield conn, tables


def _sql(db, kind: str, module, rows: list[dict], value, modifier: str | None) -> list[dict]:
    conn, tables = db
    table = tables[kind]
    conn.execute(table.delete())
    conn.execute(insert(table), rows)
    found = conn.execute(select(table).where(module.condition(table, value, modifier))).mappings().all()
    return [dict(r) for r in found]


def test_parents_drop_trailing_segments_down_to_the_authority():
    assert uri.parents("http://x.org/fhir/ValueSet/a/") == [
        "http://x.org/fhir/ValueSet/a/", "http://x.org/fhir/ValueSet", "http://x.org/fhir", "http://x.org"]
    assert uri.parents("http://x.org/fhir/ValueSet/a") == [
        "http://x.org/fhir/ValueSet/a", "http://x.org/fhir/ValueSet", "http://x.org/fhir", "http://x.org"]
    assert uri.parents("urn:oid:1.2.3") == ["urn:oid:1.2.3"]
    assert uri.parents("http://x.org") == ["http://x.org"]
    assert uri.parents("ValueSet/a") == ["ValueSet/a", "ValueSet"]


URIS = ["http://x.org/fhir/ValueSet/a", "http://x.org/fhir/ValueSet/a/b", "http://x.org/fhir/ValueSet/ab",
        "http://x.org/fhir", "http://x_org/fhir/ValueSet/a/c", "http:"]


@pytest.mark.parametrize(("value", "modifier", "expected"), [
    ("http://x.org/fhir/ValueSet/a", None, ["http://x.org/fhir/ValueSet/a"]),
    ("http://x.org/fhir/ValueSet/a", "below", ["http://x.org/fhir/ValueSet/a", "http://x.org/fhir/ValueSet/a/b"]),
    ("http://x.org/fhir/ValueSet/a/", "below", ["http://x.org/fhir/ValueSet/a/b"]),
    ("http://x_org/fhir/ValueSet/a", "below", ["http://x_org/fhir/ValueSet/a/c"]),  # _ is no wildcard
    ("http://x.org/fhir/ValueSet/a/b", "above", ["http://x.org/fhir/ValueSet/a",
                                                 "http://x.org/fhir/ValueSet/a/b", "http://x.org/fhir"]),
])
def test_uri_modifiers_sql_and_memory(db, value, modifier, expected):
    parsed = uri.parse(value, modifier)
    rows = [{"value": u} for u in URIS]
    assert sorted(r["value"] for r in _sql(db, "uri", uri, rows, parsed, modifier)) == sorted(expected)
    assert sorted(r["value"] for r in rows if uri.matches(r, parsed, modifier)) == sorted(expected)


QUANTITIES = [
    {"system": UCUM, "code": "mg", "unit": "milligram", "low": 5.0, "high": 5.0},
    {"system": UCUM, "code": "kg", "unit": "mg", "low": 5.0, "high": 5.0},  # a unit text that reads like a code
    {"system": "http://x.cn/units", "code": "mg", "unit": "毫克", "low": 5.0, "high": 5.0},
    {"system": None, "code": None, "unit": "mg", "low": 5.0, "high": 5.0},
    {"system": UCUM, "code": "mg", "unit": "mg", "low": 7.0, "high": 7.0},
]


@pytest.mark.parametrize(("raw", "expected"), [
    # system and code: the code alone decides, never the unit text
    (f"5|{UCUM}|mg", [0]),
    # no system: the code or the unit text
    ("5||mg", [0, 1, 2, 3]),
    # a system alone
    (f"5|{UCUM}|", [0, 1]),
    ("5|http://x.cn/units|mg", [2]),
    ("5", [0, 1, 2, 3]),
])
def test_quantity_system_code_and_unit_sql_and_memory(db, raw, expected):
    parsed = quantity.parse(raw, None)
    rows = [dict(r, n=i) for i, r in enumerate(QUANTITIES)]
    sql = _sql(db, "quantity", quantity, [{k: v for k, v in r.items() if k != "n"} for r in rows], parsed, None)
    keys = ("system", "code", "unit", "low", "high")
    assert sorted(QUANTITIES.index({k: r[k] for k in keys}) for r in sql) == expected
    assert [r["n"] for r in rows if quantity.matches(r, parsed, None)] == expected


def test_dates_in_composites_are_epoch_seconds():
    from datetime import datetime

    from fhir_server.search.params import date

    assert date.epoch(datetime(1970, 1, 1)) == 0.0
    assert date.epoch(datetime(1970, 1, 2, 0, 0, 1)) == 86401.0
    value = date.parse("ge2024-03-01", None)
    converted = date.to_epoch(value)
    assert converted.prefix == "ge"
    assert (converted.low, converted.high) == (date.epoch(value.low), date.epoch(value.high))
    assert converted.approx == (date.epoch(value.approx[0]), date.epoch(value.approx[1]))
    assert converted.low == 1709251200.0 and converted.high == 1709337600.0  # the day, half-open


def test_number_index_rows_are_the_value_itself():
    from fhir_server.search.params import number

    rows = number.index_rows((1.5, None))
    assert len(rows) == 1 and set(rows[0]) == {"low", "high"}
    assert rows[0]["low"] == rows[0]["high"] == 1.5  # a closed range: the search side widens, not the index
    assert number.index_rows(("not a number", None)) == []
