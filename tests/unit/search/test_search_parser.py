"""parse_search: every parameter type, modifiers, prefixes, escapes; malformed values are a
400 naming the parameter; unknown parameters warn (lenient) or fail (strict)."""

from __future__ import annotations

from datetime import datetime

import pytest

from fhir_server.core.errors import BadRequest, TooCostly
from fhir_server.search import Limits, parse_search
from fhir_server.search.params.composite import CompositeValue
from fhir_server.search.params.date import DateValue
from fhir_server.search.params.quantity import QuantityValue
from fhir_server.search.params.reference import ReferenceValue
from fhir_server.search.params.string import StringValue
from fhir_server.search.params.token import TokenValue
from fhir_server.search.params.uri import UriValue
from fhir_server.search.request import AnyTest, ChainTest, HasTest, MissingTest, ValueTest


def one(res_type: str, name: str, value: str, **kw):
    request = parse_search(res_type, [(name, value)], **kw)
    assert len(request.where) == 1
    return request.where[0]


@pytest.mark.parametrize(("value", "expected"), [
    ("http://loinc.org|8480-6", TokenValue("http://loinc.org", "8480-6")),
    ("|8480-6", TokenValue("", "8480-6")),
    ("http://loinc.org|", TokenValue("http://loinc.org", None)),
    ("8480-6", TokenValue(None, "8480-6")),
    ("a\\|b", TokenValue(None, "a|b")),
])
def test_token_forms(value, expected):
    assert one("Observation", "code", value).values == (expected,)


def test_token_modifiers():
    assert one("Patient", "gender:not", "male").negated
    assert one("Observation", "code:text", "Blood Préssure").values == (TokenValue(text="blood pressure"),)
    test = one("Patient", "identifier:of-type", "http://terminology.hl7.org/CodeSystem/v2-0203|MR|123")
    assert test.values == (TokenValue(code="123", type_system="http://terminology.hl7.org/CodeSystem/v2-0203",
                                      type_code="MR"),)


def test_or_by_commas_and_by_repetition_and_escaped_comma():
    request = parse_search("Patient", [("name", "张,李"), ("name", "a\\,b")])
    assert [t.values for t in request.where] == [(StringValue("张"), StringValue("李")), (StringValue("a,b"),)]


def test_string_modifiers_and_normalisation():
    assert one("Patient", "name", "JOSÉ").values == (StringValue("jose"),)
    assert one("Patient", "name:exact", "José").values == (StringValue("José"),)
    assert one("Patient", "name:contains", "小明").modifier == "contains"


@pytest.mark.parametrize(("value", "prefix", "low", "high"), [
    ("1950", "eq", datetime(1950, 1, 1), datetime(1951, 1, 1)),
    ("ge1950-02", "ge", datetime(1950, 2, 1), datetime(1950, 3, 1)),
    ("lt2020-12-31", "lt", datetime(2020, 12, 31), datetime(2021, 1, 1)),
    ("sa2020-01-01T10:00:00+08:00", "sa", datetime(2020, 1, 1, 2), datetime(2020, 1, 1, 2, 0, 1)),
    ("eb2020-01-01T10:00Z", "eb", datetime(2020, 1, 1, 10), datetime(2020, 1, 1, 10, 1)),
])
def test_date_precision_and_prefixes(value, prefix, low, high):
    parsed = one("Patient", "birthdate", value).values[0]
    assert isinstance(parsed, DateValue) and (parsed.prefix, parsed.low, parsed.high) == (prefix, low, high)


def test_number_and_quantity():
    value = one("Observation", "value-quantity", "ap5.40|http://unitsofmeasure.org|mg").values[0]
    assert isinstance(value, QuantityValue) and value.number.prefix == "ap"
    assert (value.number.low, value.number.high) == pytest.approx((5.395, 5.405))
    assert (value.system, value.code) == ("http://unitsofmeasure.org", "mg")
    assert one("Observation", "value-quantity", "5||mg").values[0].code == "mg"
    assert one("RiskAssessment", "probability", "gt0.5").values[0].prefix == "gt"


def test_reference_forms():
    assert one("Observation", "subject", "Patient/1").values == (ReferenceValue("Patient", "1"),)
    assert one("Observation", "subject", "1").values == (ReferenceValue(None, "1"),)
    assert one("Observation", "subject:Patient", "1").values == (ReferenceValue("Patient", "1"),)
    assert one("Observation", "subject", "http://x.org/fhir/Patient/1").values == (
        ReferenceValue(url="http://x.org/fhir/Patient/1"),)
    assert one("Observation", "subject:identifier", "urn:id|42").values == (
        ReferenceValue(ident_system="urn:id", ident_value="42"),)


def test_uri_and_composite():
    assert one("ValueSet", "url:below", "http://a.cn/fhir").values == (UriValue("http://a.cn/fhir"),)
    value = one("Observation", "code-value-quantity", "http://loinc.org|8480-6$gt140").values[0]
    assert isinstance(value, CompositeValue) and [k for k, _ in value.parts] == ["token", "quantity"]


def test_missing_on_any_type():
    assert one("Patient", "birthdate:missing", "true") == MissingTest(one("Patient", "birthdate", "1950").param, True)
    assert one("Observation", "subject:missing", "false").missing is False


def test_chains_and_has():
    chain = one("Observation", "subject:Patient.organization.name", "朝阳")
    assert isinstance(chain, ChainTest) and chain.target_types == ("Patient",)
    assert isinstance(chain.test, ChainTest) and chain.test.test.param.code == "name"
    assert isinstance(one("Encounter", "participant.name", "王"), AnyTest)  # Practitioner or RelatedPerson
    has = one("Patient", "_has:Observation:subject:_has:Provenance:target:agent", "Practitioner/1")
    assert isinstance(has, HasTest) and isinstance(has.test, HasTest) and has.test.source_type == "Provenance"


def test_result_parameters():
    request = parse_search("Observation", [
        ("_count", "5"), ("_sort", "-date,_id"), ("_include", "Observation:subject:Patient"),
        ("_revinclude:iterate", "Provenance:target"), ("_total", "estimate"), ("_summary", "count"),
        ("_elements", "id,code"), ("_page", "abc-10")])
    assert (request.count, request.total, request.summary, request.elements) == (5, "estimate", "count",
                                                                                   ("id", "code"))
    assert [(k.param.code, k.descending) for k in request.sort] == [("date", True), ("_id", False)]
    assert [(i.target_type, i.iterate, i.reverse) for i in request.includes] == [("Patient", False, False),
                                                                                 (None, True, True)]
    assert request.page == "abc-10" and request.count_only


def test_defaults_and_count_cap():
    request = parse_search("Patient", [])
    assert (request.count, request.total, request.summary, request.elements, request.warnings) == (
        20, "accurate", None, (), ())
    assert parse_search("Patient", [("_count", "5000")]).count == 1000
    assert parse_search("Patient", [("_count", "50")], limits=Limits(max_count=10)).count == 10


@pytest.mark.parametrize(("name", "value"), [
    ("birthdate", "2023-13-45"), ("birthdate", "yesterday"), ("name", "ge1950"), ("_count", "-1"),
    ("_count", "ten"), ("value-quantity", "abc"), ("value-quantity", "5|x"), ("gender:missing", "maybe"),
    ("_total", "some"), ("_summary", "short"), ("_sort", "code-value-quantity"), ("_include", "Patient"),
    ("_include", "Patient:name"), ("subject", "Patient/"), ("identifier:of-type", "a|b"),
    ("_has:Observation:code", "x"), ("component-code-value-quantity", "http://loinc.org|8480-6"),
])
def test_malformed_values_name_the_parameter(name, value):
    res_type = "Observation" if name in ("subject", "component-code-value-quantity", "value-quantity",
                                         "_sort") else "Patient"
    with pytest.raises(BadRequest) as caught:
        parse_search(res_type, [(name, value)])
    assert name.split(":")[0] in str(caught.value) or name in caught.value.issues[0].expression


def test_unknown_parameters_warn_or_fail():
    lenient = parse_search("Patient", [("colour", "red"), ("name:sounds-like", "x"), ("gender:zz", "male")])
    assert lenient.where == () and len(lenient.warnings) == 3
    assert all(w.severity == "warning" and w.code == "not-supported" for w in lenient.warnings)
    assert lenient.warnings[0].expression == ("colour",)
    for item in [("colour", "red"), ("name:sounds-like", "x"), ("gender:zz", "male"), ("_text", "x")]:
        with pytest.raises(BadRequest, match=item[0].split(":")[0]):
            parse_search("Patient", [item], strict=True)


def test_cost_guard():
    many = ",".join(str(n) for n in range(101))
    with pytest.raises(TooCostly):
        parse_search("Patient", [("_id", many)])
    with pytest.raises(TooCostly) as caught:
        parse_search("Patient", [("name", "a")] * 40, limits=Limits(max_cost=50))
    assert caught.value.issues[0].code == "too-costly"
    deep = "_has:Observation:subject:" * 6 + "status"
    with pytest.raises(TooCostly):
        parse_search("Patient", [(deep, "final")])


def test_compartment_and_system_level():
    test = parse_search("Observation", [], compartment=("Patient", "1")).where[0]
    assert isinstance(test, AnyTest) and {t.param.code for t in test.tests} >= {"subject", "performer"}
    system = parse_search(None, [("_type", "Patient,Observation"), ("_lastUpdated", "ge2024")])
    assert system.types == ("Patient", "Observation") and isinstance(system.where[0], ValueTest)
    with pytest.raises(BadRequest):
        parse_search("ValueSet", [], compartment=("Patient", "1"))
