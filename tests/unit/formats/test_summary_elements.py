"""``_summary`` and ``_elements`` (FHIR R4 search.html#summary, #elements)."""

from __future__ import annotations

import copy

import pytest

from fhir_server.core.errors import BadRequest
from fhir_server.formats.summary import SUBSETTED, select_elements, summarize

PATIENT = {
    "resourceType": "Patient", "id": "p1",
    "meta": {"versionId": "2", "tag": [{"system": "http://x/tags", "code": "vip"}]},
    "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Li Lei</div>'},
    "extension": [{"url": "http://x/ethnicity", "valueString": "Han"}],
    "identifier": [{"id": "i1", "system": "http://x/ids", "value": "42",
                    "extension": [{"url": "http://x/e", "valueBoolean": True}]}],
    "active": True,
    "name": [{"family": "Li", "given": ["Lei"], "_given": [{"id": "g"}], "period": {"start": "2000"}}],
    "birthDate": "1990-01-01", "_birthDate": {"extension": [{"url": "http://x/t", "valueTime": "10:00:00"}]},
    "maritalStatus": {"text": "married"},
    "contact": [{"name": {"family": "Han"}, "gender": "female"}],
    "link": [{"other": {"reference": "Patient/p2"}, "type": "seealso"}],
}


def tags(resource: dict) -> list[dict]:
    return resource["meta"]["tag"]


def test_summary_true_keeps_summary_elements_at_every_level():
    original = copy.deepcopy(PATIENT)
    out = summarize(PATIENT, "true")
    assert original == PATIENT  # input untouched
    assert set(out) == {"resourceType", "id", "meta", "identifier", "active", "name", "birthDate",
                        "_birthDate", "link"}
    assert out["identifier"] == [{"system": "http://x/ids", "value": "42"}]  # Element.id/extension dropped
    assert out["name"][0] == {"family": "Li", "given": ["Lei"], "_given": [{"id": "g"}],
                              "period": {"start": "2000"}}
    assert out["link"] == PATIENT["link"]  # link.other and link.type are mandatory
    assert tags(out) == [{"system": "http://x/tags", "code": "vip"}, SUBSETTED]
    assert out["meta"]["versionId"] == "2"


def test_summary_true_keeps_mandatory_elements_and_whole_inline_resources():
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "note": [{"text": "n"}],
           "category": [{"text": "c"}]}
    assert set(summarize(obs, "true")) == {"resourceType", "status", "code", "meta"}
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": obs}]}
    assert summarize(bundle, "true")["entry"] == [{"resource": obs}]


def test_summary_text_keeps_text_id_meta_and_mandatory_top_level_elements():
    obs = {"resourceType": "Observation", "id": "o", "text": PATIENT["text"], "status": "final",
           "code": {"text": "x"}, "valueString": "v"}
    out = summarize(obs, "text")
    assert set(out) == {"resourceType", "id", "meta", "text", "status", "code"}
    assert tags(out) == [SUBSETTED]


def test_summary_data_drops_only_the_text():
    out = summarize(PATIENT, "data")
    assert "text" not in out
    assert {k: v for k, v in out.items() if k != "meta"} == {
        k: v for k, v in PATIENT.items() if k not in ("meta", "text")}
    assert SUBSETTED in tags(out)


def test_summary_false_returns_the_resource_unmarked():
    assert summarize(PATIENT, "false") == PATIENT


def test_unknown_summary_mode_is_a_bad_request():
    with pytest.raises(BadRequest):
        summarize(PATIENT, "most")


def test_subsetted_tag_is_added_once():
    once = summarize(PATIENT, "data")
    assert tags(summarize(once, "data")).count(SUBSETTED) == 1


def test_elements_keeps_the_named_elements_plus_id_meta_and_mandatory():
    original = copy.deepcopy(PATIENT)
    out = select_elements(PATIENT, ["birthDate", "name", "nonsense"])
    assert original == PATIENT
    assert set(out) == {"resourceType", "id", "meta", "name", "birthDate", "_birthDate"}
    assert out["name"] == PATIENT["name"]
    assert SUBSETTED in tags(out)
    assert list(out)[:3] == ["resourceType", "id", "meta"]


@pytest.mark.parametrize("name", ["value", "value[x]", "valueQuantity"])
def test_elements_accepts_choice_names(name):
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
           "valueQuantity": {"value": 1}, "note": [{"text": "n"}]}
    out = select_elements(obs, [name])
    assert set(out) == {"resourceType", "meta", "status", "code", "valueQuantity"}


def test_elements_adds_meta_when_the_resource_had_none():
    out = select_elements({"resourceType": "Basic", "code": {"text": "b"}, "id": "b"}, ["id"])
    assert out == {"resourceType": "Basic", "id": "b", "meta": {"tag": [SUBSETTED]}, "code": {"text": "b"}}
