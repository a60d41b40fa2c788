"""``jiayi validate FILE [--profile URL]`` against profiles: exit 0 when clean, 1 on errors
(with locations), 1 with a message for an unknown profile; a Bundle entry by entry."""

from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner
from unit.validation.test_profiles import ORGANIZATION, PATIENT
from validation_profiles import RESOURCES, SD

from fhir_server.cli import main


@pytest.fixture()
def runner(tmp_path, monkeypatch):
    directory = tmp_path / "profiles"
    directory.mkdir()
    (directory / "test-ig.json").write_text(json.dumps(
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in RESOURCES]}))
    monkeypatch.setenv("JIAYI_PROFILES_DIR", str(directory))
    return CliRunner()


def _file(tmp_path, name: str, resource: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(resource, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_clean_resource_claiming_a_profile_exits_0(runner, tmp_path):
    result = runner.invoke(main, ["validate", _file(tmp_path, "p.json", PATIENT)])
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output


def test_broken_resource_exits_1_with_locations(runner, tmp_path):
    broken = copy.deepcopy(PATIENT)
    broken["identifier"][0]["value"] = "110105194912310020"
    del broken["gender"]
    result = runner.invoke(main, ["validate", _file(tmp_path, "p.json", broken)])
    assert result.exit_code == 1
    assert "[invariant] Patient.identifier[0].value" in result.output
    assert "[required] Patient.gender" in result.output


def test_explicit_profile_and_unknown_profile(runner, tmp_path):
    plain = {k: v for k, v in ORGANIZATION.items() if k != "meta" and k != "type"}
    path = _file(tmp_path, "o.json", plain)
    assert runner.invoke(main, ["validate", path]).exit_code == 0
    result = runner.invoke(main, ["validate", path, "--profile", SD + "test-organization"])
    assert result.exit_code == 1 and "Organization.type" in result.output
    unknown = runner.invoke(main, ["validate", path, "--profile", SD + "jiayi-unknown"])
    assert unknown.exit_code == 1 and "unknown profile" in unknown.output


def test_bundle_entries_against_the_profile(runner, tmp_path):
    org = {k: v for k, v in ORGANIZATION.items() if k != "meta"}
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": org}, {"resource": {**org, "id": "o2", "type": ...}}]}
    del bundle["entry"][1]["resource"]["type"]
    result = runner.invoke(main, ["validate", _file(tmp_path, "b.json", bundle), "--profile", SD + "test-organization"])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "Bundle.entry[1].resource.type" in errors[0]


@pytest.mark.parametrize("content", [
    b'\xef\xbb\xbf<Patient xmlns="http://hl7.org/fhir"><active value="true"/></Patient>',
    b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<Patient xmlns="http://hl7.org/fhir"><active value="true"/></Patient>',
    b'\xef\xbb\xbf{"resourceType": "Patient", "active": true}',
])
def test_a_file_with_a_byte_order_mark_is_read_in_its_format(runner, tmp_path, content):
    path = tmp_path / "bom-file"
    path.write_bytes(content)
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output
