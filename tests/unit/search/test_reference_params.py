"""reference search (R4 §3.1.1.4.12): the values it parses, the rows it indexes, and every form
and modifier (``Type/id``, bare id, ``:Type``, absolute and canonical URLs, ``:identifier`` with and
without a system), SQL and in-memory halves side by side, matches and non-matches.  Written from
the mutation run of search/params/reference.py (docs/testing.md)."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, MetaData, String, Table, create_engine, insert, select

from fhir_server.search.params import reference
from fhir_server.search.params.reference import ReferenceValue
from fhir_server.search.values import ValueError_
from fhir_server.storage.index_tables import SHORT


@pytest.mark.parametrize(("raw", "modifier", "expected"), [
    ("Patient/1", None, ReferenceValue("Patient", "1")),
    ("Patient/a-b.c", None, ReferenceValue("Patient", "a-b.c")),
    ("Patient/1/_history/2", None, ReferenceValue("Patient", "1")),  # the version says nothing here
    ("1", None, ReferenceValue(None, "1")),
    ("1", "Patient", ReferenceValue("Patient", "1")),
    ("Patient/1", "Patient", ReferenceValue("Patient", "1")),
    ("http://x.org/fhir/Patient/1", None, ReferenceValue(url="http://x.org/fhir/Patient/1")),
    ("http://x.org/fhir/Patient/1", "Patient", ReferenceValue(url="http://x.org/fhir/Patient/1")),
    ("http://x.org/ValueSet/a|1.0", None, ReferenceValue(url="http://x.org/ValueSet/a")),  # canonical|version
    ("http://x.org/ValueSet/a\\|1.0", None, ReferenceValue(url="http://x.org/ValueSet/a")),
    ("http://x.org/ValueSet/a|1.0|x", None, ReferenceValue(url="http://x.org/ValueSet/a")),  # the first | cuts
    ("urn:uuid:5b1e6d5a-1c5f-4b6e-9d4e-0f0a1b2c3d4e", None,
     ReferenceValue(url="urn:uuid:5b1e6d5a-1c5f-4b6e-9d4e-0f0a1b2c3d4e")),
    ("urn:oid:1.2.3|x", None, ReferenceValue(url="urn:oid:1.2.3")),
    ("urn:id|42", "identifier", ReferenceValue(ident_system="urn:id", ident_value="42")),
    ("42", "identifier", ReferenceValue(ident_system=None, ident_value="42")),
    ("|42", "identifier", ReferenceValue(ident_system="", ident_value="42")),
    ("urn:id|a\\|b", "identifier", ReferenceValue(ident_system="urn:id", ident_value="a|b")),
    ("urn:id\\|x|42", "identifier", ReferenceValue(ident_system="urn:id|x", ident_value="42")),
    ("a\\,b", None, ReferenceValue(None, "a,b")),
])
def test_parse(raw, modifier, expected):
    assert reference.parse(raw, modifier) == expected


@pytest.mark.parametrize(("raw", "modifier", "message"), [
    ("Practitioner/1", "Patient", "'Practitioner/1' is not a Patient"),
    ("", None, "'' is not a reference"),
    ("Patient/", None, "'Patient/' is not a reference"),
    ("patient/1", None, "'patient/1' is not a reference"),  # a type starts upper-case
    ("Patient/1/2", None, "'Patient/1/2' is not a reference"),
    ("Patient/" + "1" * 65, None, "is not a reference"),  # an id is at most 64 characters
])
def test_parse_refuses(raw, modifier, message):
    with pytest.raises(ValueError_) as caught:
        reference.parse(raw, modifier)
    assert message in str(caught.value)


def test_parse_takes_an_id_of_64_characters():
    assert reference.parse("Patient/" + "1" * 64, None) == ReferenceValue("Patient", "1" * 64)


def _row(target_type=None, target_id=None, url=None, ident_system=None, ident_value=None) -> dict:
    return {"target_type": target_type, "target_id": target_id, "url": url, "ident_system": ident_system,
            "ident_value": ident_value}


@pytest.mark.parametrize(("value", "rows"), [
    ({"reference": "Patient/1"}, [_row("Patient", "1")]),
    ({"reference": "Patient/1/_history/3"}, [_row("Patient", "1")]),
    ({"reference": "http://x.org/fhir/Patient/1"}, [_row(url="http://x.org/fhir/Patient/1")]),
    ({"reference": "urn:uuid:1"}, [_row(url="urn:uuid:1")]),
    ({"reference": "#contained"}, []),
    ({"reference": ""}, []),
    ({"reference": 7}, []),
    ({"display": "张三"}, []),
    ({"identifier": {"system": "urn:id", "value": "42"}}, [_row(ident_system="urn:id", ident_value="42")]),
    ({"identifier": {"value": "42"}}, [_row(ident_value="42")]),
    ({"identifier": {"system": "urn:id"}}, []),  # an identifier without a value names nothing
    ({"identifier": {"system": "urn:id", "value": ""}}, []),
    ({"identifier": "urn:id|42"}, []),
    ({"reference": "Patient/1", "identifier": {"system": "urn:id", "value": "42"}},
     [_row("Patient", "1", ident_system="urn:id", ident_value="42")]),
    ("http://x.org/ValueSet/a|1.0", [_row(url="http://x.org/ValueSet/a")]),  # canonical, version dropped
    ("http://x.org/ValueSet/a", [_row(url="http://x.org/ValueSet/a")]),
    (42, []),
    (None, []),
])
def test_index_rows(value, rows):
    assert reference.index_rows((value, None)) == rows


def test_index_rows_cut_long_values():
    long = "http://x.org/" + "a" * 300
    (row,) = reference.index_rows((long, None))
    assert row["url"] == long[:SHORT]
    (row,) = reference.index_rows(({"identifier": {"system": long, "value": 12345}}, None))
    assert row["ident_system"] == long[:SHORT] and row["ident_value"] == "12345"


ROWS = [
    _row("Patient", "1"),
    _row("Group", "1"),
    _row("Patient", "2"),
    _row(url="http://x.org/fhir/Patient/1"),
    _row(url="http://x.org/ValueSet/a"),
    _row(ident_system="urn:id", ident_value="42"),
    _row(ident_system="urn:other", ident_value="42"),
    _row(ident_value="42"),
    _row("Patient", "3", ident_system="urn:id", ident_value="43"),
]


@pytest.fixture(scope="module")
def db():
    engine = create_engine("sqlite://")
    meta = MetaData()
    table = Table("r", meta, *(Column(name, String) for name in ROWS[0]))
    meta.create_all(engine)
    with engine.connect() as conn:
        conn.execute(insert(table), ROWS)
        yield conn, table


@pytest.mark.parametrize(("raw", "modifier", "expected"), [
    ("Patient/1", None, [0]),
    ("1", None, [0, 1]),  # a bare id: any target type
    ("1", "Patient", [0]),
    ("1", "Group", [1]),
    ("Patient/2", None, [2]),
    ("Patient/9", None, []),
    ("Patient/3", None, [8]),
    ("http://x.org/fhir/Patient/1", None, [3]),  # an absolute reference is not Patient/1
    ("http://x.org/ValueSet/a|2.0", None, [4]),
    ("http://x.org/ValueSet", None, []),
    ("urn:id|42", "identifier", [5]),
    ("urn:other|42", "identifier", [6]),
    ("42", "identifier", [5, 6, 7]),  # any system
    ("|42", "identifier", [7]),  # no system
    ("urn:id|43", "identifier", [8]),
    ("urn:id|4", "identifier", []),
    ("urn:nope|42", "identifier", []),
])
def test_condition_and_matches_agree(db, raw, modifier, expected):
    conn, table = db
    value = reference.parse(raw, modifier)
    found = conn.execute(select(table).where(reference.condition(table, value, modifier))).mappings().all()
    assert sorted(ROWS.index(dict(r)) for r in found) == expected
    assert [i for i, r in enumerate(ROWS) if reference.matches(r, value, modifier)] == expected
