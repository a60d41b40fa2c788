"""Unbounded fan-out (issue 18): included resources are capped per page with a warning entry,
and strings feeding pinyin and full-text tokenisation are bounded."""

from __future__ import annotations

import pytest

from fhir_server.search import cost, fulltext, pinyin


@pytest.fixture()
def cap_of_three():
    before = cost.configured()
    cost.configure(max_included=3)
    yield
    cost.configure(max_included=before.max_included)


def test_included_resources_are_capped_with_a_warning(client, unique, cap_of_three):
    org = client.post("/fhir/Organization", json={"resourceType": "Organization", "name": f"卫生院 {unique}"})
    org_id = org.get_json()["id"]
    for n in range(5):
        client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "李", "given": [str(n)]}],
                                           "managingOrganization": {"reference": f"Organization/{org_id}"}})
    bundle = client.get(f"/fhir/Organization?_id={org_id}&_revinclude=Patient:organization").get_json()
    modes = [e["search"]["mode"] for e in bundle["entry"]]
    assert modes.count("match") == 1 and modes.count("include") == 3
    outcome = next(e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome")
    assert outcome["issue"][0]["severity"] == "warning" and outcome["issue"][0]["code"] == "too-costly"


def test_under_the_cap_there_is_no_warning(client, unique):
    org_id = client.post("/fhir/Organization", json={"resourceType": "Organization", "name": unique}).get_json()["id"]
    bundle = client.get(f"/fhir/Organization?_id={org_id}&_revinclude=Patient:organization").get_json()
    assert [e["search"]["mode"] for e in bundle["entry"]] == ["match"]


def test_long_names_are_spelled_from_their_start():
    long_name = {"family": "张", "given": ["三" * 400_000]}
    spellings = pinyin.spellings_of_node(long_name)
    assert spellings and max(len(s) for s in spellings) < 64 * 8
    assert pinyin.to_pinyin("王" * 100_000).count("wang") == pinyin.MAX_CHARS


def test_full_text_reads_a_bounded_prefix():
    tokens = fulltext.index_tokens(["甲乙" * 300_000 + " needle"])
    assert "needle" not in tokens and "甲" in tokens
