"""composite search (R4 §3.1.1.4.14): the rows indexed for each combination of component values,
and ``a$b`` (``a$b$c``) matched against them in SQL and in memory side by side, for every
component type a standard R4 composite has (token, quantity, date, string, reference, number),
with matches and non-matches.  Written from the mutation run of search/params/composite.py
(docs/testing.md)."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, create_engine, insert, select

from fhir_server.search.params import composite
from fhir_server.search.registry import Component, ParamRegistry, SearchParam, base_registry
from fhir_server.search.values import ValueError_

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def _obs(oid: str, code: str, **value) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]}, **value}


RESOURCES = [
    _obs("glu", "2339-0", valueQuantity={"value": 6.1, "system": UCUM, "code": "mmol/L", "unit": "mmol/L"}),
    _obs("glu-unit-only", "2339-0", valueQuantity={"value": 7, "unit": "mmol/L"}),
    _obs("glu-no-value", "2339-0", valueQuantity={"unit": "mmol/L"}),
    _obs("bp", "85354-9", component=[
        {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
         "valueQuantity": {"value": 150, "system": UCUM, "code": "mm[Hg]"}},
        {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
         "valueQuantity": {"value": 85, "system": UCUM, "code": "mm[Hg]"}}]),
    _obs("dated", "21112-8", valueDateTime="2023-05-01"),
    _obs("text", "8661-1", valueString="高血压复诊"),
    _obs("smoker", "72166-2", valueCodeableConcept={"coding": [{"system": "http://snomed.info/sct",
                                                                "code": "266919005"}]}),
    {"resourceType": "DocumentReference", "id": "doc", "status": "current", "content": [],
     "relatesTo": [{"code": "replaces", "target": {"reference": "DocumentReference/old"}}]},
    {"resourceType": "MolecularSequence", "id": "seq", "coordinateSystem": 0,
     "referenceSeq": {"chromosome": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/chromosome-human",
                                                 "code": "1"}]}, "windowStart": 10, "windowEnd": 20}},
]


def _rows(registry: ParamRegistry, res_type: str, code: str) -> list[tuple[str, dict]]:
    param = registry.get(res_type, code)
    assert param is not None and param.type == "composite", code
    return [(r["id"], row) for r in RESOURCES if r["resourceType"] == res_type
            for row in composite.index_rows_for(param, res_type, r, registry)]


COLUMNS = [f"{stem}{n}" for n in (1, 2, 3) for stem in ("a", "b", "low", "high")]


@pytest.fixture(scope="module")
def db():
    engine = create_engine("sqlite://")
    meta = MetaData()
    table = Table("c", meta, Column("rid", String), Column("n", Integer),
                  *(Column(c, Float if c.startswith(("low", "high")) else String) for c in COLUMNS))
    meta.create_all(engine)
    with engine.connect() as conn:
        yield conn, table


def _search(db, res_type: str, code: str, raw: str) -> set[str]:
    """The ids ``code=raw`` finds, in SQL and in memory (asserted to agree)."""
    registry = base_registry()
    param = registry.get(res_type, code)
    value = composite.parse(raw, param, registry)
    rows = _rows(registry, res_type, code)
    conn, table = db
    conn.execute(table.delete())
    if rows:
        conn.execute(insert(table), [{"rid": rid, "n": n, **dict.fromkeys(COLUMNS), **row}
                                     for n, (rid, row) in enumerate(rows)])
    sql = {r.rid for r in conn.execute(select(table).where(composite.condition(table, value, None)))}
    memory = {rid for rid, row in rows if composite.matches({**dict.fromkeys(COLUMNS), **row}, value, None)}
    assert sql == memory, (raw, sql, memory)
    return sql


@pytest.mark.parametrize(("res_type", "code", "raw", "expected"), [
    # token $ quantity
    ("Observation", "code-value-quantity", f"{LOINC}|2339-0$6.1", {"glu"}),
    ("Observation", "code-value-quantity", "2339-0$6.1", {"glu"}),
    ("Observation", "code-value-quantity", "2339-0$6.2", set()),
    ("Observation", "code-value-quantity", "2339-0$gt6", {"glu", "glu-unit-only"}),
    ("Observation", "code-value-quantity", "2339-0$le6.1", {"glu"}),
    ("Observation", "code-value-quantity", "2339-0$lt6.1", set()),
    ("Observation", "code-value-quantity", f"2339-0$6.1|{UCUM}|mmol/L", {"glu"}),
    ("Observation", "code-value-quantity", f"2339-0$6.1|{UCUM}|mg/dL", set()),
    ("Observation", "code-value-quantity", "2339-0$7||mmol/L", {"glu-unit-only"}),  # the unit text, no code
    ("Observation", "code-value-quantity", f"{LOINC}|8480-6$6.1", set()),
    ("Observation", "code-value-quantity", "http://other|2339-0$6.1", set()),
    # the component's code with the component's value, never another component's
    ("Observation", "component-code-value-quantity", f"{LOINC}|8480-6$gt140", {"bp"}),
    ("Observation", "component-code-value-quantity", f"{LOINC}|8462-4$gt140", set()),
    ("Observation", "component-code-value-quantity", f"{LOINC}|8462-4$85", {"bp"}),
    ("Observation", "combo-code-value-quantity", "8480-6$150", {"bp"}),
    ("Observation", "combo-code-value-quantity", "2339-0$6.1", {"glu"}),
    # token $ date
    ("Observation", "code-value-date", "21112-8$2023-05", {"dated"}),
    ("Observation", "code-value-date", "21112-8$2023-05-01", {"dated"}),
    ("Observation", "code-value-date", "21112-8$ge2023-06", set()),
    ("Observation", "code-value-date", "21112-8$lt2023-05-02", {"dated"}),
    ("Observation", "code-value-date", "21112-8$lt2023-05-01", set()),
    ("Observation", "code-value-date", "2339-0$2023-05", set()),
    # token $ string (starts with)
    ("Observation", "code-value-string", "8661-1$高血压", {"text"}),
    ("Observation", "code-value-string", "8661-1$复诊", set()),
    # token $ token
    ("Observation", "code-value-concept", "72166-2$http://snomed.info/sct|266919005", {"smoker"}),
    ("Observation", "code-value-concept", "72166-2$266919005", {"smoker"}),
    ("Observation", "code-value-concept", "72166-2$8517006", set()),
    # reference $ token
    ("DocumentReference", "relationship", "DocumentReference/old$replaces", {"doc"}),
    ("DocumentReference", "relationship", "old$replaces", {"doc"}),
    ("DocumentReference", "relationship", "DocumentReference/old$transforms", set()),
    ("DocumentReference", "relationship", "DocumentReference/new$replaces", set()),
    # token $ number $ number (the variant coordinates start at %resource: not indexed)
    ("MolecularSequence", "chromosome-window-coordinate", "1$ge10$le20", {"seq"}),
    ("MolecularSequence", "chromosome-window-coordinate", "1$gt10$le20", set()),
    ("MolecularSequence", "chromosome-window-coordinate", "1$ge10$lt20", set()),
    ("MolecularSequence", "chromosome-window-coordinate", "2$10$20", set()),
])
def test_composite_values_sql_and_memory(db, res_type, code, raw, expected):
    assert _search(db, res_type, code, raw) == expected


def test_one_row_per_combination_of_component_values():
    registry = base_registry()
    param = registry.get("Observation", "code-value-quantity")
    two_codes = _obs("x", "2339-0", valueQuantity={"value": 5, "system": UCUM, "code": "mmol/L"})
    two_codes["code"]["coding"].append({"system": "http://jiayi.example.cn/codes", "code": "GLU"})
    rows = composite.index_rows_for(param, "Observation", two_codes, registry)
    assert sorted((r["a1"], r["b1"], r["a2"], r["b2"], r["low2"], r["high2"]) for r in rows) == [
        ("http://jiayi.example.cn/codes", "GLU", UCUM, "mmol/L", 5.0, 5.0),
        (LOINC, "2339-0", UCUM, "mmol/L", 5.0, 5.0)]
    # a component without values: no row at all
    assert composite.index_rows_for(param, "Observation", _obs("y", "2339-0"), registry) == []


def test_a_date_component_is_stored_as_epoch_seconds():
    registry = base_registry()
    param = registry.get("Observation", "code-value-date")
    (row,) = composite.index_rows_for(param, "Observation", _obs("d", "x", valueDateTime="1970-01-02"), registry)
    assert (row["low2"], row["high2"]) == (86400.0, 2 * 86400.0)
    assert row["a2"] is None and row["b2"] is None


def test_the_combinations_of_one_element_are_capped():
    registry = base_registry()
    param = registry.get("Observation", "code-value-quantity")
    many = _obs("m", "0", valueQuantity={"value": 1})
    many["code"]["coding"] = [{"system": LOINC, "code": str(i)} for i in range(composite.MAX_ROWS + 6)]
    rows = composite.index_rows_for(param, "Observation", many, registry)
    assert len(rows) == composite.MAX_ROWS
    assert rows[0]["b1"] == "0"


def test_parse_needs_one_value_per_component():
    registry = base_registry()
    param = registry.get("Observation", "code-value-quantity")
    for raw in ("2339-0", "2339-0$6.1$7", "2339-0\\$6.1"):
        with pytest.raises(ValueError_) as caught:
            composite.parse(raw, param, registry)
        assert f"'{raw}' needs 2 components separated by '$'" == str(caught.value)
    three = registry.get("MolecularSequence", "chromosome-window-coordinate")
    assert [k for k, _ in composite.parse("1$2$3", three, registry).parts] == ["token", "number", "number"]


def test_a_composite_whose_components_are_unknown_is_not_searchable():
    registry = base_registry()
    known = registry.get("Observation", "code-value-quantity").components[0]
    custom = SearchParam("http://x/sp", "odd", "composite", ("Observation",), "Observation",
                         components=(known, Component("http://x/unknown", "value")))
    local = ParamRegistry([*registry.by_url.values(), custom])
    with pytest.raises(ValueError_) as caught:
        composite.parse("a$b", custom, local)
    assert str(caught.value) == "composite parameter 'odd' has components this server cannot search"
    assert composite.index_rows_for(custom, "Observation", RESOURCES[0], local) == []
    empty = SearchParam("http://x/none", "none", "composite", ("Observation",), "Observation")
    with pytest.raises(ValueError_):
        composite.component_types(empty, local)
