"""A value that is not valid for its data type refuses the message (AE, HL7 error 102, the
field's location) unless the endpoint is lenient (then a W warning and the value dropped);
a provider without an ID keeps the doctor's name (a Practitioner per name and organization)."""

from __future__ import annotations

import pytest
from hl7v2_messages import adt_a04, oru_r01, ref_i12

from adapters.hl7v2 import er7, inbound
from adapters.hl7v2.errors import HL7Error


def resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


BAD = {
    "birth date month 13": (lambda: adt_a04("S1").replace("|19481102|", "|19481302|"), ("PID", "1", "7")),
    "invalid admit TS": (lambda: adt_a04("S2").replace("||||||20261201093000+0800", "||||||2026120125", 1),
                         ("PV1", "1", "44")),
    "NM not a number": (lambda: oru_r01("S3").replace("||6.2|", "||6,2x|"), ("OBX", "1", "5")),
    "OBX-14 not a TS": (lambda: oru_r01("S4").replace("|F|||20261201080000+0800", "|F|||2026-12-01", 1),
                        ("OBX", "1", "14")),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_value_is_an_application_error_at_its_field(name):
    build, where = BAD[name]
    with pytest.raises(HL7Error) as caught:
        inbound.convert(er7.parse(build().encode()))
    assert caught.value.ack_code == "AE"
    errors = [p for p in caught.value.problems if p.severity == "E"]
    assert [(p.code, *p.location.parts()[:3]) for p in errors] == [("102", *where)]


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_lenient_endpoint_drops_the_bad_value_with_a_warning(name):
    build, where = BAD[name]
    conv = inbound.convert(er7.parse(build().encode()), lenient=True)
    warnings = [p for p in conv.warnings if p.code == "102"]
    assert [(p.severity, *p.location.parts()[:3]) for p in warnings] == [("W", *where)]
    assert conv.bundle()["entry"]


def test_the_bad_values_are_dropped_when_lenient():
    conv = inbound.convert(er7.parse(BAD["birth date month 13"][0]().encode()), lenient=True)
    assert "birthDate" not in resources(conv.bundle(), "Patient")[0]
    conv = inbound.convert(er7.parse(BAD["NM not a number"][0]().encode()), lenient=True)
    cholesterol = [o for o in resources(conv.bundle(), "Observation")
                   if any(c["code"] == "2093-3" for c in o["code"].get("coding", []))]
    assert cholesterol and "valueQuantity" not in cholesterol[0] and "valueString" not in cholesterol[0]


def test_every_bad_value_is_named_in_one_ack():
    text = adt_a04("S5").replace("|19481102|", "|19481302|").replace("||||||20261201093000+0800", "||||||2026x", 1)
    with pytest.raises(HL7Error) as caught:
        inbound.convert(er7.parse(text.encode()))
    assert sorted(p.location.parts()[0] for p in caught.value.problems if p.severity == "E") == ["PID", "PV1"]


def test_a_referring_doctor_without_an_id_keeps_the_name():
    text = ref_i12("S6").replace("||33010619800101001X^DC|||", "|||||")
    bundle = inbound.convert(er7.parse(text.encode())).bundle()
    (practitioner,) = resources(bundle, "Practitioner")
    assert practitioner["name"][0]["text"].startswith("李建国")
    assert practitioner["identifier"][0]["system"].endswith("/provider-name")
    assert practitioner["identifier"][0]["value"] == practitioner["name"][0]["text"]
    referral = resources(bundle, "ServiceRequest")[0]
    practitioner_url = next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is practitioner)
    assert referral["requester"]["reference"] == practitioner_url
    assert referral["requester"]["display"] == practitioner["name"][0]["text"]
    # the same name from the same organization is the same Practitioner (conditional create)
    again = inbound.convert(er7.parse(text.replace("S6", "S7").encode())).bundle()
    (entry,) = [e for e in again["entry"] if e["resource"]["resourceType"] == "Practitioner"]
    assert entry["request"]["ifNoneExist"].startswith("identifier=")
    assert resources(again, "Practitioner")[0]["identifier"] == practitioner["identifier"]


def test_convert_on_the_command_line_refuses_or_drops_with_lenient(tmp_path):
    from click.testing import CliRunner

    from fhir_server.cli import main

    path = tmp_path / "bad.hl7"
    path.write_text(BAD["birth date month 13"][0](), encoding="utf-8")
    refused = CliRunner().invoke(main, ["hl7", "convert", str(path)])
    assert refused.exit_code == 2 and "refused (AE)" in refused.output and "PID-7" in refused.output
    lenient = CliRunner().invoke(main, ["hl7", "convert", "--lenient", str(path)])
    assert lenient.exit_code == 0 and '"resourceType": "Bundle"' in lenient.output
    assert "warning: PID-7" in lenient.output


def test_an_ethnicity_outside_gb3304_is_a_table_error_or_dropped_when_lenient():
    text = adt_a04("S6").replace("01^汉族^GB3304", "77^火星族^GB3304")
    assert "77^火星族" in text
    with pytest.raises(HL7Error) as caught:
        inbound.convert(er7.parse(text.encode()))
    assert [(p.code, *p.location.parts()[:3]) for p in caught.value.problems if p.severity == "E"] == \
        [("103", "PID", "1", "22")]
    conv = inbound.convert(er7.parse(text.encode()), lenient=True)
    patient = resources(conv.bundle(), "Patient")[0]
    assert not any(e["url"].endswith("jiayi-ethnicity") for e in patient.get("extension", []))
