"""A vendor checks its payloads against the IG of a running server: the profiles, the
CapabilityStatement's supportedProfile, and the terminology operations over real HTTP."""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.e2e

SD = "https://jiayi.dev/fhir/StructureDefinition/"


def test_the_running_server_serves_the_implementation_guide(server):
    contract = requests.get(f"{server}/StructureDefinition/jiayi-contract", timeout=30)
    assert contract.status_code == 200 and contract.json()["url"] == SD + "jiayi-contract"
    metadata = requests.get(f"{server}/metadata", timeout=30).json()
    by_type = {r["type"]: r for r in metadata["rest"][0]["resource"]}
    assert SD + "jiayi-patient" in by_type["Patient"]["supportedProfile"]
    expansion = requests.get(f"{server}/ValueSet/$expand", params={
        "url": "https://jiayi.dev/fhir/ValueSet/team-type", "displayLanguage": "en"}, timeout=30).json()
    assert [c["display"] for c in expansion["expansion"]["contains"]] == ["Basic", "Standard",
                                                                          "Enhanced (with hospital doctors)"]
    translated = requests.get(f"{server}/ConceptMap/$translate", params={
        "system": "https://jiayi.dev/fhir/CodeSystem/gb2261-2", "code": "40"}, timeout=30).json()
    assert translated["parameter"][0]["valueBoolean"] is True
