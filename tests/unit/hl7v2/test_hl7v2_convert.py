"""Conversion of messages to transaction Bundles: golden files per message type, the mappings
that matter (Appendix A identifier systems, Chinese names, ethnicity, referral profiles), every
supported sample of ``../shared/hl7v2-samples`` valid entry by entry, the others refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import shared_path
from hl7v2_messages import CHC_USCC, CITY_USCC, DATA, ID_CARD, USCC_SID, resident_id, samples

from adapters.hl7v2 import er7, inbound
from adapters.hl7v2.errors import HL7Error
from fhir_server.validation import validate_resource

GOLDEN = DATA / "golden"
SUPPORTED_TYPES = {"ADT^A01", "ADT^A04", "ADT^A08", "ADT^A28", "ADT^A31", "ADT^A40", "REF^I12", "RRI^I12", "ORU^R01"}


def convert_file(path: Path) -> inbound.Conversion:
    return inbound.convert(er7.parse(path.read_bytes()))


def resources(bundle: dict, resource_type: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def test_sample_files_are_what_the_generator_makes():
    for name, data in samples().items():
        assert (DATA / name).read_bytes() == data, f"tests/data/hl7v2/{name} is stale: run tests/hl7v2_messages.py"


@pytest.mark.parametrize("name", sorted(samples()))
def test_golden_bundle(name):
    bundle = convert_file(DATA / name).bundle()
    golden = GOLDEN / name.replace(".hl7", ".json")
    if os.environ.get("JIAYI_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(json.dumps(bundle, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    assert bundle == json.loads(golden.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(samples()))
def test_synthetic_bundles_are_valid(name):
    bundle = convert_file(DATA / name).bundle()
    for entry in bundle["entry"]:
        errors = [i for i in validate_resource(entry["resource"]) if i.is_error]
        assert not errors, (entry["resource"]["resourceType"], errors)


def test_adt_a04_patient_and_encounter():
    bundle = convert_file(DATA / "cn-adt-a04.hl7").bundle()
    (patient,) = resources(bundle, "Patient")
    assert patient["identifier"][0] == {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                             "code": "NNCHN"}]},
                                        "system": ID_CARD, "value": resident_id()}
    assert patient["identifier"][1]["system"] == "urn:oid:2.16.156.10011.1.2"
    assert patient["name"][0] == {"text": "王秀英", "family": "王", "given": ["秀英"]}
    assert patient["gender"] == "female" and patient["birthDate"] == "1948-11-02"
    assert patient["address"][0]["text"] == "浙江省杭州市西湖区文三路90号2幢301室"
    assert patient["telecom"] == [{"system": "phone", "value": "13900001111", "use": "mobile"}]
    assert patient["extension"] == [{"url": "https://jiayi.dev/fhir/StructureDefinition/jiayi-ethnicity",
                                     "valueCodeableConcept": {"coding": [{"system": "https://jiayi.dev/fhir/CodeSystem/gb3304",
                                                                          "code": "01", "display": "汉族"}],
                                                              "text": "汉族"}}]
    entry = bundle["entry"][0]
    assert entry["request"]["method"] == "PUT" and entry["request"]["url"].startswith("Patient?identifier=")
    (encounter,) = resources(bundle, "Encounter")
    assert encounter["class"]["code"] == "AMB" and encounter["status"] == "arrived"
    assert encounter["subject"]["reference"] == entry["fullUrl"]


def test_same_content_in_gb18030_and_gbk_with_other_line_ends():
    utf8 = resources(convert_file(DATA / "cn-adt-a04.hl7").bundle(), "Patient")[0]
    gb = resources(convert_file(DATA / "cn-adt-a04-gb18030.hl7").bundle(), "Patient")[0]
    assert gb == utf8
    gbk = resources(convert_file(DATA / "cn-adt-a04-gbk-lf.hl7").bundle(), "Patient")[0]
    assert gbk["name"][0]["text"] == "欧阳娜"


def test_conversion_is_deterministic():
    assert convert_file(DATA / "cn-ref-i12.hl7").bundle() == convert_file(DATA / "cn-ref-i12.hl7").bundle()


def test_a40_merge_links_both_ways_and_inactivates_the_old_record():
    bundle = convert_file(DATA / "cn-adt-a40.hl7").bundle()
    survivor, old = resources(bundle, "Patient")
    survivor_url, old_url = bundle["entry"][0]["fullUrl"], bundle["entry"][1]["fullUrl"]
    assert survivor["link"] == [{"other": {"reference": old_url}, "type": "replaces"}]
    assert old["link"] == [{"other": {"reference": survivor_url}, "type": "replaced-by"}]
    assert old["active"] is False and old["identifier"][0]["value"] == "33010600100200999"


def test_ref_i12_referral_task_and_parties():
    bundle = convert_file(DATA / "cn-ref-i12.hl7").bundle()
    (sr,) = resources(bundle, "ServiceRequest")
    (task,) = resources(bundle, "Task")
    assert sr["meta"]["profile"] == ["https://jiayi.dev/fhir/StructureDefinition/jiayi-referral"]
    assert task["meta"]["profile"] == ["https://jiayi.dev/fhir/StructureDefinition/jiayi-referral-task"]
    assert sr["extension"][0]["valueCoding"]["code"] == "upward"
    assert sr["category"][0]["coding"][0]["code"] == "3457005"
    assert sr["priority"] == "asap" and sr["identifier"] == [{"system": "https://jiayi.dev/fhir/sid/hl7v2/CHCEHR",
                                                              "value": "R20261201001"}]
    orgs = {o["identifier"][0]["value"]: e for e in bundle["entry"] if (o := e["resource"])["resourceType"] ==
            "Organization"}
    assert set(orgs) == {CHC_USCC, CITY_USCC}
    assert all(e["resource"]["identifier"][0]["system"] == USCC_SID for e in orgs.values())
    assert task["owner"]["reference"] == orgs[CITY_USCC]["fullUrl"] and task["status"] == "requested"
    assert sr["performer"][0]["reference"] == orgs[CITY_USCC]["fullUrl"]
    (doctor,) = resources(bundle, "Practitioner")
    assert doctor["identifier"][0]["system"] == "https://jiayi.dev/fhir/sid/doctor-card"
    assert sr["requester"]["display"] == "李建国"
    conditions = resources(bundle, "Condition")
    assert [c["code"]["coding"][0] for c in conditions] == [
        {"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10", "display": "原发性高血压"},
        {"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9", "display": "2型糖尿病"}]
    assert len(sr["reasonReference"]) == 2 and len(sr["supportingInfo"]) == 2
    assert [n["text"] for n in sr["note"]] == ["转上级医院心血管内科进一步诊治\n请优先安排专家号"]
    systolic = resources(bundle, "Observation")[0]
    assert systolic["valueQuantity"] == {"value": 182, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org",
                                         "code": "mm[Hg]"}
    diastolic = resources(bundle, "Observation")[1]
    assert "note" not in systolic and diastolic["note"] == [{"text": "连续两次随访血压控制不满意，调整用药后仍未达标"}]


def test_rri_accept_reject_and_return_patch_the_task():
    accepted = convert_file(DATA / "cn-rri-i12-accepted.hl7").bundle()
    patch = accepted["entry"][-1]
    assert patch["request"] == {"method": "PATCH", "url": "Task?identifier=https%3A%2F%2Fjiayi.dev%2Ffhir%2Fsid%2F"
                                                          "hl7v2%2FCHCEHR%7CR20261201001"}
    assert patch["resource"]["parameter"][0]["part"][2] == {"name": "value", "valueCode": "accepted"}
    rejected = convert_file(DATA / "cn-rri-i12-rejected.hl7").bundle()
    parts = [p["part"] for p in rejected["entry"][1]["resource"]["parameter"]]
    assert parts[0][2]["valueCode"] == "rejected"
    assert parts[2][3] == {"name": "value", "valueCodeableConcept": {"text": "号源已满，建议改约其他时段"}}
    assert rejected["entry"][2]["resource"]["parameter"][0]["part"][2]["valueCode"] == "revoked"
    returned = convert_file(DATA / "cn-rri-i12-return.hl7").bundle()
    (down,) = resources(returned, "ServiceRequest")
    assert down["extension"][0]["valueCoding"]["code"] == "downward"
    assert down["basedOn"] == [{"reference": "ServiceRequest?identifier=https%3A%2F%2Fjiayi.dev%2Ffhir%2Fsid%2F"
                                             "hl7v2%2FCHCEHR%7CR20261201001"}]
    (task,) = resources(returned, "Task")
    assert task["owner"]["display"] == "宁和区社区卫生服务中心"
    progress = returned["entry"][-2]["resource"]["parameter"]
    assert progress[0]["part"][2]["valueCode"] == "completed"
    assert progress[-1]["part"][2] == {"name": "name", "valueString": "output"}


def test_oru_units_codes_as_sent_and_loinc_where_given():
    bundle = convert_file(DATA / "cn-oru-r01.hl7").bundle()
    observations = resources(bundle, "Observation")
    glucose = observations[2]
    assert glucose["code"]["coding"] == [
        {"system": "https://jiayi.dev/fhir/CodeSystem/hl7v2/L", "code": "GLU", "display": "空腹血糖"},
        {"system": "http://loinc.org", "code": "1558-6", "display": "Fasting glucose"}]
    assert glucose["valueQuantity"]["unit"] == "mmol/L" and glucose["interpretation"][0]["coding"][0]["code"] == "H"
    assert glucose["note"] == [{"text": "空腹血糖偏高，建议复查"}]
    assert glucose["referenceRange"][0]["low"]["value"] == 3.9
    assert observations[3]["status"] == "preliminary" and observations[3]["valueString"] == "偏高"
    (report,) = resources(bundle, "DiagnosticReport")
    assert report["status"] == "final" and len(report["result"]) == 5
    assert observations[4]["code"]["coding"][1] == {  # a local code mapped by ConceptMap hl7v2-lab-loinc
        "system": "http://loinc.org", "code": "4548-4", "display": "Hemoglobin A1c/Hemoglobin.total in Blood"}
    assert report["identifier"] == [{"system": "https://jiayi.dev/fhir/sid/hl7v2/LIS", "value": "LAB20261201001"}]


def test_invalid_id_number_is_an_error_naming_pid_3():
    text = (DATA / "cn-adt-a04.hl7").read_text(encoding="utf-8").replace(resident_id(), resident_id()[:17] + "0"
                                                                          if resident_id()[-1] != "0" else "1")
    with pytest.raises(HL7Error) as caught:
        inbound.convert(er7.parse(text.encode()))
    assert caught.value.ack_code == "AE" and str(caught.value.problems[0].location) == "PID-3"
    assert "check character" in caught.value.problems[0].text


def test_15_digit_id_numbers_are_upgraded():
    from fhir_server.core.national_ids import upgrade_id15

    legacy = "330106481102014"
    text = (DATA / "cn-adt-a04.hl7").read_text(encoding="utf-8").replace(resident_id(), legacy)
    patient = resources(inbound.convert(er7.parse(text.encode())).bundle(), "Patient")[0]
    assert patient["identifier"][0]["value"] == upgrade_id15(legacy)


def _shared_samples() -> list[Path]:
    return sorted(shared_path("hl7v2-samples").glob("*.hl7"))


# Shared samples with a value that is not of its data type: refused (AE, 102) unless lenient.
INVALID_SAMPLES = {"python-hl7-oru-r01.hl7": ("PID", "7")}  # birth date 196203520 (month 03, day 52)


def test_every_shared_sample_of_a_supported_type_converts_to_a_valid_bundle():
    converted, refused = 0, 0
    for path in _shared_samples():
        msg = er7.parse(path.read_bytes())
        if msg.type not in SUPPORTED_TYPES:
            with pytest.raises(HL7Error) as caught:
                inbound.convert(msg)
            assert caught.value.ack_code == "AR" and caught.value.problems[0].code in ("200", "201")
            assert "not supported" in caught.value.problems[0].text
            refused += 1
            continue
        if path.name in INVALID_SAMPLES:
            with pytest.raises(HL7Error) as caught:
                inbound.convert(msg)
            assert caught.value.ack_code == "AE"
            assert [(p.code, p.location.parts()[0], p.location.parts()[2]) for p in caught.value.problems] == [
                ("102", *INVALID_SAMPLES[path.name])]
        bundle = inbound.convert(msg, lenient=path.name in INVALID_SAMPLES).bundle()
        assert bundle["type"] == "transaction" and bundle["entry"], path.name
        for entry in bundle["entry"]:
            errors = [i for i in validate_resource(entry["resource"]) if i.is_error]
            assert not errors, (path.name, entry["resource"]["resourceType"], errors)
        converted += 1
    assert converted == 24 and refused == 20
