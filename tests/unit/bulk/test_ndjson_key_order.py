"""An export line has ``resourceType`` first whatever order the database printed the keys in
(PostgreSQL's jsonb: shortest key first), and SQLite's text is written as stored."""

import orjson

from fhir_server.bulk.ndjson import line


def test_jsonb_order_is_written_with_resource_type_first():
    jsonb_text = '{"id": "p1", "meta": {"versionId": "1"}, "gender": "male", "resourceType": "Patient"}'
    data = line(jsonb_text)
    assert data.startswith(b'{"resourceType":"Patient","id":"p1"')
    assert orjson.loads(data) == orjson.loads(jsonb_text)


def test_stored_text_with_resource_type_first_is_kept_as_it_is():
    stored = '{"resourceType":"Patient","id":"p1","name":[{"family":"李"}]}'
    assert line(stored) == stored.encode() + b"\n"


def test_exact_decimals_keep_their_text_and_resource_type_first():
    stored = ('{"id":"o1","valueQuantity":{"value":1.0E+2},"resourceType":"Observation",'
              '"jiayi:decimals":[[["valueQuantity","value"],"1.0E+2"]]}')
    data = line(stored)
    assert data.startswith(b'{"resourceType":"Observation"')
    assert b"1.0E+2" in data and b"jiayi:decimals" not in data
