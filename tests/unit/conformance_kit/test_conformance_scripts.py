"""The IG's conformance TestScripts (profiles/tests/) are valid R4, every test carries its id, its
requirement in English and Chinese and the SPEC passage it enforces, and the kit finds them by
suite and capability."""

from __future__ import annotations

import pytest

from fhir_server.conformance_kit import scripts
from fhir_server.offline import default_validator

ALL = scripts.load()


@pytest.mark.parametrize("script", ALL, ids=lambda s: s.id)
def test_each_testscript_is_valid_r4(script):
    errors = [i for i in default_validator().validate(script.resource) if i.is_error]
    assert not errors, errors[:5]


@pytest.mark.parametrize("script", ALL, ids=lambda s: s.id)
def test_each_test_has_an_id_a_bilingual_requirement_and_a_source(script):
    assert script.actor and script.capability and script.title("zh") != script.title("en")
    for test in script.resource["test"]:
        en, zh = scripts.test_info(test, "en"), scripts.test_info(test, "zh")
        assert en["id"] and en["requirement"] and en["source"].startswith("SPEC")
        assert zh["requirement"] != en["requirement"]
    for fixture in script.resource.get("fixture", []):
        assert script.fixture_text(fixture["id"])  # ships beside the TestScript


def test_suites_and_groups_select_scripts():
    ids = {s.id for s in scripts.load(suite="server")}
    assert {"server-metadata", "server-ig-examples", "server-contract-signing", "server-two-card",
            "server-referral"} <= ids
    assert [s.id for s in scripts.load(suite="server", only=("referrals",))] == ["server-referral"]
    test_ids = [t["id"] for s in ALL for t in s.resource["test"]]
    assert len(test_ids) == len(set(test_ids))
