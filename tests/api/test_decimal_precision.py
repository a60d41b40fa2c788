"""Decimals keep their precision (FHIR R4 §2.24.0.1 decimal; §3.1.1.4.1 number search):
the exact text a client wrote, in JSON or XML, comes back from every read, on SQLite and on
PostgreSQL, and a search value's precision sets its implicit range."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"
# JSON allows an exponent in a decimal (R4 decimal: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)
TEXTS = ["1.50", "66.89999999999999", "1e2", "1.0E+2", "0.30000000000000004", "3.14159265358979323846264338",
         "0.1", "100.000", "-0.00", "1.0e-7", "66.5"]
CODE = "http://jiayi.test/CodeSystem/decimals"


def _observation(unique: str, texts: list[str]) -> str:
    """JSON text (written by hand: a Python float could not carry these decimals)."""
    head, *rest = texts
    components = ",".join(
        f'{{"code":{{"coding":[{{"system":"{CODE}","code":"c{i}"}}]}},'
        f'"valueQuantity":{{"value":{t},"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}}}'
        for i, t in enumerate(rest))
    return (f'{{"resourceType":"Observation","status":"final",'
            f'"identifier":[{{"system":"{CODE}","value":"{unique}"}}],'
            f'"code":{{"coding":[{{"system":"{CODE}","code":"{unique}"}}]}},'
            f'"valueQuantity":{{"value":{head},"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}'
            + (f',"component":[{components}]' if rest else "") + "}")


def _texts(resource: dict) -> list[str]:
    values = [resource["valueQuantity"]["value"]] + [c["valueQuantity"]["value"] for c in resource.get("component", [])]
    return [str(v) for v in values]


def _exact(data: bytes) -> dict:
    """The body with every decimal as its text (json's parse_float sees the token as written)."""
    return json.loads(data, parse_float=str)


def _create(client, unique: str, texts: list[str] = TEXTS) -> dict:
    response = client.post("/fhir/Observation", data=_observation(unique, texts), content_type=FHIR_JSON)
    assert response.status_code == 201, response.data
    return _exact(response.data)


def test_create_read_vread_history_keep_the_text(client, unique):
    created = _create(client, unique)
    assert _texts(created) == TEXTS
    url = f"/fhir/Observation/{created['id']}"
    assert _texts(_exact(client.get(url).data)) == TEXTS
    assert _texts(_exact(client.get(f"{url}/_history/1").data)) == TEXTS
    history = _exact(client.get(f"{url}/_history").data)
    assert _texts(history["entry"][0]["resource"]) == TEXTS
    pretty = client.get(f"{url}?_pretty=true").data
    assert _texts(_exact(pretty)) == TEXTS and b"3.14159265358979323846264338" in pretty


def test_summary_elements_and_search_bundles_keep_the_text(client, unique):
    created = _create(client, unique)
    url = f"/fhir/Observation/{created['id']}"
    assert _texts(_exact(client.get(f"{url}?_elements=valueQuantity,component").data)) == TEXTS
    assert _texts(_exact(client.get(f"{url}?_summary=true").data)) == TEXTS
    found = _exact(client.get(f"/fhir/Observation?identifier={CODE}|{unique}").data)
    assert _texts(found["entry"][0]["resource"]) == TEXTS
    summary = _exact(client.get(f"/fhir/Observation?identifier={CODE}|{unique}&_summary=data").data)
    assert _texts(summary["entry"][0]["resource"]) == TEXTS
    only = _exact(client.get(f"/fhir/Observation?identifier={CODE}|{unique}&_elements=valueQuantity").data)
    assert only["entry"][0]["resource"]["valueQuantity"]["value"] == "1.50"


def test_update_and_patch_keep_the_text(client, unique):
    created = _create(client, unique)
    url = f"/fhir/Observation/{created['id']}"
    body = _observation(unique, ["2.250", *TEXTS[1:]]).replace('{"resourceType":"Observation",',
                                                               f'{{"resourceType":"Observation","id":"{created["id"]}",')
    updated = client.put(url, data=body, content_type=FHIR_JSON)
    assert updated.status_code == 200 and _texts(_exact(updated.data)) == ["2.250", *TEXTS[1:]]
    patch = '[{"op":"replace","path":"/valueQuantity/value","value":7.10}]'
    patched = client.patch(url, data=patch, content_type="application/json-patch+json")
    assert patched.status_code == 200, patched.data
    assert _texts(_exact(client.get(url).data)) == ["7.10", *TEXTS[1:]]
    history = _exact(client.get(f"{url}/_history").data)
    assert [_texts(e["resource"])[0] for e in history["entry"]] == ["7.10", "2.250", "1.50"]


def test_transaction_and_batch_responses_keep_the_text(client, unique):
    entries = [f'{{"resource":{_observation(unique + str(i), TEXTS)},'
               '"request":{"method":"POST","url":"Observation"}}'
               for i in range(2)]
    for kind in ("transaction", "batch"):
        body = f'{{"resourceType":"Bundle","type":"{kind}","entry":[{",".join(entries)}]}}'
        response = client.post("/fhir", data=body, content_type=FHIR_JSON)
        assert response.status_code == 200, response.data
        for entry in _exact(response.data)["entry"]:
            assert _texts(entry["resource"]) == TEXTS


def test_xml_in_and_out_keeps_the_text(client, unique):
    created = _create(client, unique)
    xml = client.get(f"/fhir/Observation/{created['id']}", headers={"Accept": FHIR_XML}).data.decode()
    assert re.findall(r'<valueQuantity>\s*<value value="([^"]+)"', xml) == TEXTS
    found = client.get(f"/fhir/Observation?identifier={CODE}|{unique}", headers={"Accept": FHIR_XML}).data.decode()
    assert re.findall(r'<valueQuantity>\s*<value value="([^"]+)"', found) == TEXTS
    sent = xml.replace('value="1.50"', 'value="2.0E+1"').replace(f'<id value="{created["id"]}"/>', "")
    sent = re.sub(r"<meta>.*?</meta>", "", sent, flags=re.DOTALL)
    posted = client.post("/fhir/Observation", data=sent, content_type=FHIR_XML, headers={"Accept": FHIR_JSON})
    assert posted.status_code == 201, posted.data
    assert _texts(_exact(client.get(f"/fhir/Observation/{_exact(posted.data)['id']}").data)) == ["2.0E+1", *TEXTS[1:]]


@pytest.mark.parametrize(("query", "expected"), [
    ("1.50", {"1.50", "1.497", "1.5"}),  # [1.495, 1.505)
    ("1.5", {"1.50", "1.497", "1.5", "1.51"}),  # [1.45, 1.55)
    ("1.500", {"1.50", "1.5"}),  # [1.4995, 1.5005)
    ("ne1.50", {"1.51", "100", "1.0E+2", "3.14159265358979323846264338"}),
    # ge: greater than the value, or in its range as for eq ("or the range of the search value fully
    # contains the range of the target value"), so 1.497 is ge1.50 but not ge1.500
    ("ge1.50", {"1.497", "1.50", "1.5", "1.51", "100", "1.0E+2", "3.14159265358979323846264338"}),
    ("ge1.500", {"1.50", "1.5", "1.51", "100", "1.0E+2", "3.14159265358979323846264338"}),
    ("gt1.50", {"1.51", "100", "1.0E+2", "3.14159265358979323846264338"}),  # the value itself
    ("le1.50", {"1.50", "1.5", "1.497"}),
    ("le1.4", set()),  # 1.497 is above 1.4 and outside [1.35, 1.45)
    ("le1.5E0", {"1.50", "1.5", "1.497", "1.51"}),  # [1.45, 1.55)
    ("lt1.50", {"1.497"}),
    ("1.0E+2", {"100", "1.0E+2"}),  # two significant digits: [95, 105)
    ("1e2", {"100", "1.0E+2"}),  # [50, 150)
    ("100", {"100", "1.0E+2"}),  # [99.5, 100.5)
    ("3.14159265358979323846264338", {"3.14159265358979323846264338"}),
    ("ap1.50", {"1.50", "1.497", "1.5", "1.51"}),  # ±10 %
])
def test_quantity_search_uses_the_precision_of_the_search_value(client, unique, query, expected):
    stored = ["1.50", "1.497", "1.5", "1.51", "100", "1.0E+2", "3.14159265358979323846264338"]
    by_id = {}
    for i, text in enumerate(stored):
        created = _create(client, f"{unique}-{i}", [text])
        by_id[created["id"]] = text
    codes = ",".join(f"{CODE}|{unique}-{i}" for i in range(len(stored)))
    for suffix in ("", "|http://unitsofmeasure.org|kg"):
        value_quantity = quote(query + suffix, safe="|")
        response = client.get(f"/fhir/Observation?code={codes}&value-quantity={value_quantity}&_count=50",
                              headers={"Prefer": "handling=strict"})
        assert response.status_code == 200, response.data
        assert {by_id[e["resource"]["id"]] for e in _exact(response.data).get("entry", [])} == expected


def test_a_change_of_precision_alone_is_a_new_version(client, unique):
    created = _create(client, unique, ["1.5"])
    url = f"/fhir/Observation/{created['id']}"
    body = _observation(unique, ["1.50"]).replace('{"resourceType":"Observation",',
                                                  f'{{"resourceType":"Observation","id":"{created["id"]}",')
    updated = _exact(client.put(url, data=body, content_type=FHIR_JSON).data)
    assert updated["meta"]["versionId"] == "2" and _texts(updated) == ["1.50"]
    again = _exact(client.put(url, data=body, content_type=FHIR_JSON).data)
    assert again["meta"]["versionId"] == "2"  # the same text again: a no-op
