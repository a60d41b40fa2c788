"""Decimals keep their text through JSON in and out, stored documents (both databases'
forms) and XML (FHIR R4 §2.24.0.1: the precision of a decimal is part of its value)."""

from __future__ import annotations

import copy
import pickle

import pytest

from fhir_server.core import jsonio
from fhir_server.core.decimals import FhirDecimal, exact_number
from fhir_server.formats.xml import resource_to_xml, xml_to_resource
from fhir_server.search.values import parse_decimal
from fhir_server.storage import documents

KEPT = ["1.50", "1e2", "1.0E+2", "1E-7", "3.14159265358979323846264338", "100.000", "-0.00", "0.10"]
PLAIN = ["66.89999999999999", "0.30000000000000004", "66.5", "0.1", "-0.0", "1.0"]


def _body(texts: list[str]) -> bytes:
    return ('{"resourceType":"Basic","extension":[' + ",".join(
        f'{{"url":"http://jiayi.test/{i}","valueDecimal":{t}}}' for i, t in enumerate(texts)) + "]}").encode()


def _values(resource: dict) -> list:
    return [e["valueDecimal"] for e in resource["extension"]]


def test_a_decimal_whose_float_prints_otherwise_keeps_its_text():
    values = _values(jsonio.loads(_body(KEPT + PLAIN)))
    assert [type(v) for v in values] == [FhirDecimal] * len(KEPT) + [float] * len(PLAIN)
    assert [str(v) for v in values] == KEPT + PLAIN
    assert values[0] == 1.5 and values[0] + 1 == 2.5 and isinstance(values[0], float)


@pytest.mark.parametrize("pretty", [False, True])
def test_dumps_writes_the_text_back(pretty):
    text = jsonio.dumps(jsonio.loads(_body(KEPT + PLAIN)), pretty=pretty)
    assert jsonio.dumps(jsonio.loads(text)) == _body(KEPT + PLAIN)


def test_only_numbers_outside_strings_count_and_integers_stay_integers():
    value = jsonio.loads(b'{"a":"1.50","b":[1, 2],"c":"x:1.50","d":7}')
    assert value == {"a": "1.50", "b": [1, 2], "c": "x:1.50", "d": 7} and type(value["d"]) is int


def test_a_decimal_survives_copies_and_pickling():
    number = exact_number("1.50")
    assert copy.deepcopy({"v": number})["v"].text == "1.50"
    assert pickle.loads(pickle.dumps(number)).text == "1.50"


@pytest.mark.parametrize("encode", [documents.to_sqlite, documents.to_postgres])
def test_stored_documents_read_back_exactly(encode):
    resource = jsonio.loads(_body(KEPT + PLAIN))
    assert jsonio.dumps(documents.from_database(encode(resource))) == _body(KEPT + PLAIN)


def test_postgres_documents_carry_the_texts_jsonb_would_rewrite():
    stored = jsonio.loads_exact(documents.to_postgres(jsonio.loads(_body(["1.0E+2", "1.50", "-0.00"]))))
    assert stored[documents.DECIMALS] == [[["extension", 0, "valueDecimal"], "1.0E+2"],
                                          [["extension", 2, "valueDecimal"], "-0.00"]]
    # what JSONB gives back: the exponent and the zero's sign normalised, the key order its own
    normalised = [100, exact_number("1.50"), 0.0]
    from_jsonb = stored | {"extension": [{**e, "valueDecimal": v}
                                         for e, v in zip(stored["extension"], normalised, strict=True)]}
    restored = documents.from_database(jsonio.dumps(from_jsonb))
    assert [str(v) for v in _values(restored)] == ["1.0E+2", "1.50", "-0.00"] and documents.DECIMALS not in restored
    assert jsonio.loads_exact(documents.to_postgres(jsonio.loads(_body(["1.50"]))))[documents.DECIMALS] == []
    assert documents.DECIMALS not in jsonio.loads_exact(documents.to_postgres(jsonio.loads(_body(["1.5"]))))


def test_a_foreign_decimals_key_is_left_alone():
    odd = {"resourceType": "Basic", documents.DECIMALS: "not ours"}
    assert documents.from_database(jsonio.dumps(odd)) == odd


def test_xml_keeps_the_text_both_ways():
    resource = jsonio.loads(_body(KEPT + PLAIN))
    xml = resource_to_xml(resource)
    for text in KEPT + PLAIN:
        assert f'value="{text}"'.encode() in xml
    assert jsonio.dumps(xml_to_resource(xml)) == _body(KEPT + PLAIN)


def test_search_bounds_of_precise_values_stay_around_the_value():
    value, low, high = parse_decimal("3.14159265358979323846264338")
    assert low <= value < high
    assert parse_decimal("1.50")[1:] == (1.495, 1.505) and parse_decimal("1.0E+2")[1:] == (95.0, 105.0)


@pytest.mark.parametrize(("text", "written"), [
    ("1.50", b"1.50"), ("+.5", b"0.5"), ("\uff10.\uff15\uff10", b"0.50"), ("007.50", b"7.50"), (" 1e2 ", b"1e2"),
    ("66.89999999999999", b"66.89999999999999"), ("5.", b"5")])
def test_a_decimal_read_from_a_file_or_a_message_keeps_its_precision(text, written):
    from fhir_server.core.decimals import decimal_from_text

    assert jsonio.dumps({"v": decimal_from_text(text)}) == b'{"v":' + written + b"}"


@pytest.mark.parametrize("text", ["abc", "nan", "inf", ""])
def test_a_decimal_read_from_a_file_must_be_a_finite_number(text):
    from fhir_server.core.decimals import decimal_from_text

    with pytest.raises(ValueError):
        decimal_from_text(text)
