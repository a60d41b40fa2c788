"""Terminology over data: expansion, hierarchy, lookup, translate (no store)."""

from __future__ import annotations

import pytest

from fhir_server.core.errors import NotFound, Unprocessable
from fhir_server.terminology.service import Terminology

CS = "https://jiayi.dev/fhir/CodeSystem/"
VS = "https://jiayi.dev/fhir/ValueSet/"


@pytest.fixture(scope="module")
def terminology() -> Terminology:
    return Terminology()


def codes(terminology: Terminology, value_set: dict) -> list[str]:
    return [c.code for c in terminology.expand(value_set)]


def test_whole_system_include(terminology):
    assert codes(terminology, terminology.value_set(VS + "gb2261-1")) == ["0", "1", "2", "9"]
    assert len(codes(terminology, terminology.value_set(VS + "gb3304"))) == 59


def test_is_a_filter_uses_the_hierarchy(terminology):
    assert codes(terminology, terminology.value_set(VS + "married")) == ["20", "21", "22", "23"]


def test_exclude_and_import(terminology):
    assert "basic" not in codes(terminology, terminology.value_set(VS + "paid-package-tier"))
    assert codes(terminology, terminology.value_set(VS + "key-population-and-chronic")) == [
        "hypertension", "diabetes-t2", "tuberculosis", "severe-mental-disorder", "elderly-65"]


def test_descendent_of_and_inline_value_sets(terminology):
    vs = {"resourceType": "ValueSet", "compose": {"include": [
        {"system": CS + "gb4761", "filter": [{"property": "concept", "op": "descendent-of", "value": "1"}]}]}}
    assert codes(terminology, vs) == ["11", "12"]


def test_official_r4_value_sets_expand(terminology):
    assert codes(terminology, terminology.value_set("http://hl7.org/fhir/ValueSet/administrative-gender")) == [
        "male", "female", "other", "unknown"]


def test_unknown_system_or_value_set_is_a_clear_error(terminology):
    with pytest.raises(NotFound):
        terminology.value_set("http://example.org/no-such-value-set")
    with pytest.raises(Unprocessable):
        terminology.expand({"resourceType": "ValueSet", "compose": {"include": [{"system": "http://example.org/cs"}]}})


def test_display_language(terminology):
    _, concept = terminology.lookup(CS + "gb3304", "36")
    assert concept.display == "毛南族"
    assert concept.display_in("en") == "Maonan"
    assert concept.display_in("zh-CN") == "毛南族"


def test_hierarchy_above_and_below(terminology):
    gb4761 = terminology.code_system(CS + "gb4761")
    assert gb4761.descendants("5")[:3] == ["5", "51", "52"]
    assert gb4761.ancestors("52") == ["52", "5"]
    assert gb4761.subsumes("5", "52") and not gb4761.subsumes("52", "5")


def test_translate_national_codes(terminology):
    maps = terminology.concept_maps(system=CS + "gb2261-1")
    [match] = terminology.translate(maps, CS + "gb2261-1", "2")
    assert (match.system, match.code, match.equivalence) == ("http://hl7.org/fhir/administrative-gender", "female",
                                                             "equivalent")
    [wife] = terminology.translate(terminology.concept_maps(system=CS + "gb4761"), CS + "gb4761", "12")
    assert wife.code == "WIFE" and wife.display
    reverse = terminology.translate(maps, "http://hl7.org/fhir/administrative-gender", "unknown", reverse=True)
    # every loaded map takes part (the HL7 v2 sex table maps to "unknown" too); GB/T 2261.1 gives 0 and 9
    assert sorted(m.code for m in reverse if m.system == CS + "gb2261-1") == ["0", "9"]
