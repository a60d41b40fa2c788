"""JSON Patch (RFC 6902) on resources: fhir_server.patch.json_patch."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from fhir_server.core.errors import BadRequest, FHIRError, Unprocessable
from fhir_server.patch import apply_json_patch

OFFICIAL = Path(__file__).resolve().parents[2] / "data" / "fhirpath-patch" / "json-patch-tests.json"
PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "name": [{"family": "Chalmers", "given": ["Peter", "James"]}],
    "gender": "male",
}


def _apply(operations):
    original = copy.deepcopy(PATIENT)
    result = apply_json_patch(PATIENT, operations)
    assert original == PATIENT, "the input resource must not be modified"
    return result


def test_add_appends_to_a_list_and_sets_a_member():
    result = _apply(
        [
            {"op": "add", "path": "/name/0/given/-", "value": "Jim"},
            {"op": "add", "path": "/birthDate", "value": "1974-12-25"},
        ]
    )
    assert result["name"][0]["given"] == ["Peter", "James", "Jim"]
    assert result["birthDate"] == "1974-12-25"


def test_remove_replace_move_copy():
    result = _apply(
        [
            {"op": "remove", "path": "/name/0/given/1"},
            {"op": "replace", "path": "/gender", "value": "female"},
            {"op": "copy", "from": "/name/0", "path": "/name/-"},
            {"op": "move", "from": "/name/1/family", "path": "/name/1/text"},
        ]
    )
    assert result["gender"] == "female"
    assert result["name"] == [
        {"family": "Chalmers", "given": ["Peter"]},
        {"text": "Chalmers", "given": ["Peter"]},
    ]


def test_passing_test_operation_lets_the_patch_continue():
    result = _apply(
        [
            {"op": "test", "path": "/gender", "value": "male"},
            {"op": "replace", "path": "/gender", "value": "other"},
        ]
    )
    assert result["gender"] == "other"


def test_failing_test_operation_is_422_naming_the_operation():
    with pytest.raises(Unprocessable) as caught:
        _apply(
            [
                {"op": "replace", "path": "/gender", "value": "female"},
                {"op": "test", "path": "/gender", "value": "male"},
            ]
        )
    assert caught.value.status == 422
    assert "operation 1 (test /gender)" in str(caught.value)
    assert caught.value.issues[0].code == "processing"


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": "/birthDate"},
        {"op": "replace", "path": "/name/5/family", "value": "x"},
        {"op": "add", "path": "/name/7", "value": {}},
        {"op": "remove", "path": "/name/abc"},
        {"op": "move", "from": "/nothing", "path": "/gender"},
    ],
)
def test_pointer_that_does_not_resolve_is_422(operation):
    with pytest.raises(Unprocessable) as caught:
        _apply([operation])
    assert f"operation 0 ({operation['op']} {operation['path']})" in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        {"op": "remove", "path": "/gender"},  # an object, not an array
        "[]",
        [{"op": "frobnicate", "path": "/gender"}],
        [{"op": "add", "path": "gender", "value": "x"}],  # a pointer must start with "/"
        [{"op": "add", "path": "/gender"}],  # no value
        [{"path": "/gender"}],
        ["remove"],
    ],
)
def test_malformed_patch_is_400(body):
    with pytest.raises(BadRequest) as caught:
        _apply(body)
    assert caught.value.status == 400


def test_replacing_the_whole_document_with_a_non_object_is_refused():
    with pytest.raises(Unprocessable):
        _apply([{"op": "replace", "path": "", "value": [1]}])


def _official_cases():
    cases = json.loads(OFFICIAL.read_text(encoding="utf-8"))
    # From FHIR/fhir-test-cases r4/patch (RFC 6902 appendix A examples): plain JSON objects.
    return [pytest.param(c, id=c["comment"]) for c in cases if not c.get("disabled")]


@pytest.mark.parametrize("case", _official_cases())
def test_official_json_patch_case(case):
    if "error" in case:
        with pytest.raises(FHIRError):
            apply_json_patch(case["doc"], case["patch"])
    else:
        assert apply_json_patch(case["doc"], case["patch"]) == case["expected"]
