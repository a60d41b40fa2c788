"""Search parameters as a query string: names, modifiers, prefixes, chains and values generated."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from fuzz.conftest import FUZZ, assert_handled
from fuzz.shapes import text_or_worst

NAMES = ["_id", "_count", "_offset", "_page", "_sort", "_include", "_revinclude", "_total", "_summary",
         "_elements", "_has:Observation:subject:code", "_text", "_content", "_lastUpdated", "_type",
         "identifier", "name", "name:pinyin", "family:exact", "given:contains", "birthdate", "gender:not",
         "general-practitioner.name", "organization.partOf.name", "address", "telecom", "date", "code",
         "value-quantity", "subject:Patient", "subject.identifier", "code:in", "code:below", "_tag",
         "identifier:of-type", "value-string", "_security", "_profile", "_source", "link:missing"]
PREFIXES = ["", "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"]
VALUES = ["2020", "2020-02-30", "1e999999999", "-0", "9" * 400, "urn:oid:2.16.156.10011.1.3|110101199003077777",
          "|", "||", "a|b|c|d", "http://loinc.org|8480-6", "Patient/1", "*", "Patient:general-practitioner",
          "x,y,z", "\\,", "\\", "²", "T", "2020-01-01T25:00", "9999-12-31T23:59:59-14:00"]

names = st.sampled_from(NAMES) | st.builds(lambda a, b: f"{a}:{b}", st.sampled_from(NAMES), st.text(max_size=6)) \
    | text_or_worst(max_size=20, max_repeat=200)
values = st.builds(lambda p, v: p + v, st.sampled_from(PREFIXES), st.sampled_from(VALUES) | text_or_worst())


@FUZZ
@given(st.sampled_from(["Patient", "Observation", "CareTeam", "Contract"]),
       st.lists(st.tuples(names, values), min_size=1, max_size=5))
def test_query_strings(fuzz_client, res_type, items):
    assert_handled(fuzz_client.get(f"/fhir/{res_type}?{urlencode(items)}"))


@FUZZ
@given(st.lists(st.tuples(names, values), min_size=1, max_size=5))
def test_post_search_forms(fuzz_client, items):
    assert_handled(fuzz_client.post("/fhir/Patient/_search", data=urlencode(items),
                                    content_type="application/x-www-form-urlencoded"))


@FUZZ
@given(st.text(max_size=200) | text_or_worst(max_repeat=2000))
def test_raw_query_strings(fuzz_client, query):
    assert_handled(fuzz_client.get("/fhir/Patient?" + query))
