"""ConceptMaps (built from the official v2 tables, valid R4, used by the adapter), the readable
segment tables, outbound REF^I12 / RRI^I12 and the ``jiayi hl7`` commands without a server."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from click.testing import CliRunner
from helpers import SHARED, shared_path
from hl7v2_messages import CITY_USCC, DATA, resident_id

from adapters.hl7v2 import er7, inbound, outbound, tables
from fhir_server.cli import main
from fhir_server.validation import validate_resource

ROOT = Path(__file__).resolve().parents[3]


def test_conceptmaps_are_what_the_script_builds(tmp_path, monkeypatch):
    shared_path("fhir-r4", "v2-tables.json")
    spec = importlib.util.spec_from_file_location("build_maps", ROOT / "scripts" / "build_hl7v2_conceptmaps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "mappings" / "hl7v2").glob("*.json")}
    monkeypatch.setattr(module, "OUT", tmp_path)
    written = module.build(SHARED)
    assert {p.name: p.read_text(encoding="utf-8") for p in written} == committed


def test_conceptmaps_are_valid_r4_with_jiayi_canonicals():
    maps = tables.all_tables()
    assert {"sex", "patient-class", "identifier-type", "referral-priority", "referral-status", "observation-status",
            "result-status", "abnormal-flags"} <= set(maps)
    for path in (ROOT / "mappings" / "hl7v2").glob("ConceptMap-*.json"):
        resource = json.loads(path.read_text(encoding="utf-8"))
        assert resource["url"] == "https://jiayi.dev/fhir/ConceptMap/" + resource["id"]
        assert not [i for i in validate_resource(resource) if i.is_error], path.name


def test_tables_translate_as_the_maps_say():
    assert tables.table("sex").code("F") == "female" and tables.table("sex").code("f") == "female"
    assert tables.table("identifier-type").code("NNCHN") == "urn:oid:2.16.156.10011.1.3"
    assert tables.table("referral-priority").reverse("stat") == ("http://terminology.hl7.org/CodeSystem/v2-0280", "S")
    assert tables.table("referral-status").code("CM") == "completed"
    assert tables.table("patient-class").code("X") is None


def test_segment_tables_name_every_supported_message_type():
    text = (ROOT / "mappings" / "hl7v2" / "segments.md").read_text(encoding="utf-8")
    for kind in inbound.CONVERTERS:
        code, trigger = kind.split("^")
        assert code in text and trigger in text, kind


def _bundle_of_ref() -> dict:
    """The FHIR side of the synthetic REF^I12, with ids as the server would give them."""
    bundle = inbound.convert(er7.parse((DATA / "cn-ref-i12.hl7").read_bytes())).bundle()
    for n, entry in enumerate(bundle["entry"]):
        entry["resource"]["id"] = f"r{n}"
    return bundle


def test_fhir_referral_to_ref_i12_and_back():
    bundle = _bundle_of_ref()
    wire = outbound.convert_fhir(bundle, sending=("JIAYI", "JIAYI"), receiving=("CITYHIS", "CITYHOSP"))
    msg = er7.parse(wire)
    assert msg.type == "REF^I12" and msg.structure == "REF_I12" and msg.receiving_facility == "CITYHOSP"
    back = inbound.convert(msg).bundle()

    def only(b, kind):
        return [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == kind]

    original_sr, sr = only(bundle, "ServiceRequest")[0], only(back, "ServiceRequest")[0]
    for key in ("identifier", "priority", "extension", "category"):
        assert sr[key] == original_sr[key], key
    patient = only(back, "Patient")[0]
    assert patient["identifier"][0]["value"] == resident_id() and patient["name"][0]["text"] == "王秀英"
    assert patient["gender"] == "female" and patient["birthDate"] == "1948-11-02"
    assert patient["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "01"
    assert [c["code"]["coding"][0]["code"] for c in only(back, "Condition")] == ["I10", "E11.9"]
    assert CITY_USCC in {o["identifier"][0]["value"] for o in only(back, "Organization")}
    assert only(back, "Task")[0]["owner"]["display"] == "示范市第一人民医院"
    assert sr["note"] == original_sr["note"]


def test_rri_for_a_task_change_names_the_referral_and_the_reason():
    bundle = _bundle_of_ref()
    res = outbound.Resources.from_bundle(bundle)
    sr = res.of_type("ServiceRequest")[0]
    task = dict(res.of_type("Task")[0], status="rejected", statusReason={"text": "号源已满"})
    _, segments = outbound.rri_i12(res, sr, task)
    msg = er7.parse(er7.encode(segments))
    rf1 = msg.first("RF1")
    assert msg.type == "RRI^I12" and rf1.get(1) == "R" and rf1.get(6) == "R20261201001" and rf1.get(6, 2) == "CHCEHR"
    assert rf1.get(10, 2) == "号源已满" and msg.first("NTE").get(3) == "号源已满"


def test_cli_convert_both_ways(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["hl7", "convert", str(DATA / "cn-ref-i12.hl7")])
    assert result.exit_code == 0, result.output
    bundle = json.loads(result.output)
    assert bundle["type"] == "transaction"
    fhir_file = tmp_path / "referral.json"
    for n, entry in enumerate(bundle["entry"]):
        entry["resource"]["id"] = f"x{n}"
    fhir_file.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(main, ["hl7", "convert", "--to", "v2", str(fhir_file)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("MSH|^~\\&|JIAYI|JIAYI|") and "\nRF1|P^Pending^HL70283|A^^HL70280|upward^上转" in \
        result.output
    assert er7.parse(result.output.encode()).type == "REF^I12"


def test_cli_convert_refuses_unsupported_types_with_a_reason(tmp_path):
    sample = shared_path("hl7v2-samples", "fhir-converter-siu-s12-01.hl7")
    result = CliRunner().invoke(main, ["hl7", "convert", str(sample)])
    assert result.exit_code == 2 and "refused (AR)" in result.output and "SIU^S12 is not supported" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"resourceType": "Patient"}')
    result = CliRunner().invoke(main, ["hl7", "convert", "--to", "v2", str(bad)])
    assert result.exit_code == 2 and "not a FHIR referral" in result.output


def test_cli_queue_shows_the_outbox(tmp_path):
    from adapters.hl7v2.state import State

    path = tmp_path / "state.sqlite3"
    state = State(path)
    item = state.enqueue("city-hospital", "REF^I12", "Task/1", "C1", b"MSH|...")
    state.mark_failed_attempt(item, "ConnectionRefusedError: refused", 10)
    state.close()
    result = CliRunner().invoke(main, ["hl7", "queue", "--state", str(path)])
    assert result.exit_code == 0 and "pending 1" in result.output and "ConnectionRefusedError" in result.output
    result = CliRunner().invoke(main, ["hl7", "queue", "--state", str(path), "--json"])
    assert json.loads(result.output)[0]["attempts"] == 1
