"""Token :in / :not-in / :above / :below parse into code sets from the terminology (no store)."""

from __future__ import annotations

import pytest

from fhir_server.core.errors import BadRequest
from fhir_server.search import parse_search
from fhir_server.search.params.token import TokenValue

CS = "https://jiayi.dev/fhir/CodeSystem/"


def test_in_expands_the_value_set_to_codes():
    [test] = parse_search("Patient", [("key-population:in", "https://jiayi.dev/fhir/ValueSet/chronic-key-population")]
                          ).where
    assert test.values == (TokenValue(system=CS + "key-population", codes=(
        "diabetes-t2", "hypertension", "severe-mental-disorder", "tuberculosis")),)
    assert not test.negated


def test_not_in_is_negated():
    [test] = parse_search("RelatedPerson", [("relationship:not-in", "https://jiayi.dev/fhir/ValueSet/gb4761")]).where
    assert test.negated and len(test.values[0].codes) == 84


def test_below_and_above_walk_the_hierarchy():
    [below] = parse_search("RelatedPerson", [("relationship:below", f"{CS}gb4761|5")]).where
    assert below.values[0].codes == ("5", "51", "52", "53", "54", "55", "56", "57", "58", "59")
    [above] = parse_search("RelatedPerson", [("relationship:above", f"{CS}gb4761|57")]).where
    assert above.values[0].codes == ("5", "57")


@pytest.mark.parametrize("name, value", [("relationship:in", "http://example.org/unknown"),
                                         ("relationship:below", "5"),
                                         ("relationship:above", "http://example.org/cs|1")])
def test_unknown_value_sets_and_hierarchies_are_400(name, value):
    with pytest.raises(BadRequest):
        parse_search("RelatedPerson", [(name, value)])


def test_identifier_systems_match_their_aliases():
    [test] = parse_search("Patient", [("identifier", "urn:oid:2.16.156.10011.1.3|11010519491231002X")]).where
    assert {v.system for v in test.values} == {"urn:oid:2.16.156.10011.1.3", "urn:oid:2.16.840.1.113883.2.23.1.19.1"}
