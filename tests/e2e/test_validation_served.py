"""A vendor validates against a running server (real ``jiayi serve``, SQLite and PostgreSQL):
``$validate`` with a Jiayi profile, and a write of a broken resource claiming jiayi-patient
refused with 422 and every issue, nothing stored."""

from __future__ import annotations

import copy
import uuid

import pytest
import requests

from fhir_server.validation.ig import examples

pytestmark = pytest.mark.e2e

SD = "https://jiayi.dev/fhir/StructureDefinition/"
JSON = {"Content-Type": "application/fhir+json"}


def _example(profile: str) -> dict:
    found = [r for r in examples() if SD + profile in (r.get("meta") or {}).get("profile", [])]
    if not found:
        pytest.skip(f"no {profile} example in profiles/")
    resource = copy.deepcopy(found[0])
    resource.pop("id", None)
    return resource


def test_validate_and_write_against_jiayi_patient(server):
    patient = _example("jiayi-patient")
    family = uuid.uuid4().hex[:12]
    patient["name"] = [{"text": "测试", "family": family}]
    ids = [i for i, ident in enumerate(patient.get("identifier") or [])
           if ident.get("system") == "urn:oid:2.16.156.10011.1.3" and len(ident.get("value", "")) == 18]
    broken = copy.deepcopy(patient)
    if ids:
        value = broken["identifier"][ids[0]]["value"]
        broken["identifier"][ids[0]]["value"] = value[:17] + ("0" if value[17] != "0" else "1")
    broken.pop("gender", None)
    outcome = requests.post(f"{server}/Patient/$validate", json=broken, headers=JSON, timeout=30).json()
    codes = {(i["code"], tuple(i.get("expression", ()))) for i in outcome["issue"] if i["severity"] == "error"}
    assert ("required", ("Patient.gender",)) in codes
    refused = requests.post(f"{server}/Patient", json=broken, headers=JSON, timeout=30)
    assert refused.status_code == 422
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert requests.get(f"{server}/Patient", params={"family": family}, timeout=30).json().get("total", 0) == 0
    accepted = requests.post(f"{server}/Patient", json=patient, headers=JSON, timeout=30)
    assert accepted.status_code == 201, accepted.text
    unknown = requests.post(f"{server}/Patient/$validate", params={"profile": SD + "jiayi-nope"},
                            json=patient, headers=JSON, timeout=30)
    assert unknown.status_code == 400 and SD + "jiayi-nope" in unknown.text
