"""FHIRPath Patch beyond the official cases: choice types, primitives' extensions, filters, errors."""

from __future__ import annotations

import copy

import pytest

from fhir_server.core.errors import BadRequest, Unprocessable
from fhir_server.patch import apply_fhirpath_patch


def op(type_: str, path: str, **parts) -> dict:
    """One ``operation`` parameter; ``value`` is a ``(json name, value)`` pair or a list of parts."""
    out = [{"name": "type", "valueCode": type_}, {"name": "path", "valueString": path}]
    for name, value in parts.items():
        if name == "value" and isinstance(value, tuple):
            out.append({"name": "value", value[0]: value[1]})
        elif name == "value":
            out.append({"name": "value", "part": value})
        elif isinstance(value, int):
            out.append({"name": name, "valueInteger": value})
        else:
            out.append({"name": name, "valueString": value})
    return {"name": "operation", "part": out}


def patch(resource: dict, *operations: dict) -> dict:
    original = copy.deepcopy(resource)
    result = apply_fhirpath_patch(resource, {"resourceType": "Parameters", "parameter": list(operations)})
    assert resource == original, "the input resource must not be modified"
    return result


PATIENT = {
    "resourceType": "Patient",
    "name": [
        {"use": "official", "family": "Chalmers", "given": ["Peter", "James"]},
        {"use": "usual", "given": ["Jim"]},
    ],
    "birthDate": "1974-12-25",
    "_birthDate": {
        "extension": [{"url": "http://example.org/birthTime", "valueDateTime": "1974-12-25T14:35"}]
    },
    "deceasedBoolean": False,
}


def test_add_choice_element_takes_its_json_name_from_the_value_type():
    result = patch(
        {"resourceType": "Patient"}, op("add", "Patient", name="deceased", value=("valueDateTime", "2020"))
    )
    assert result == {"resourceType": "Patient", "deceasedDateTime": "2020"}


def test_replace_choice_element_changes_its_json_name():
    result = patch(PATIENT, op("replace", "Patient.deceased", value=("valueDateTime", "2021-01-01")))
    assert "deceasedBoolean" not in result and result["deceasedDateTime"] == "2021-01-01"


def test_choice_value_of_a_type_the_element_does_not_allow_is_422():
    with pytest.raises(Unprocessable, match="cannot hold a value of type Quantity"):
        patch(PATIENT, op("replace", "Patient.deceased", value=("valueQuantity", {"value": 1})))


def test_primitive_given_as_string_is_written_in_its_json_type():
    result = patch(
        {"resourceType": "Patient"}, op("add", "Patient", name="active", value=("valueString", "true"))
    )
    assert result["active"] is True
    with pytest.raises(Unprocessable, match="boolean"):
        patch({"resourceType": "Patient"}, op("add", "Patient", name="active", value=("valueString", "yes")))


def test_where_filter_on_complex_and_on_primitive_items():
    result = patch(
        PATIENT,
        op("replace", "Patient.name.where(use = 'usual').given[0]", value=("valueString", "Jimmy")),
        op("delete", "Patient.name.first().given.where($this = 'James')"),
    )
    assert result["name"][1]["given"] == ["Jimmy"]
    assert result["name"][0]["given"] == ["Peter"]


def test_primitive_extensions_live_in_the_underscore_companion():
    result = patch(PATIENT, op("delete", "Patient.birthDate.extension('http://example.org/birthTime')"))
    assert "_birthDate" not in result and result["birthDate"] == "1974-12-25"
    added = patch(
        PATIENT,
        op(
            "add",
            "Patient.name[0].given[1]",
            name="extension",
            value=[{"name": "url", "valueUri": "http://example.org/x"}, {"name": "value", "valueCode": "CL"}],
        ),
    )
    assert added["name"][0]["given"] == ["Peter", "James"]
    assert added["name"][0]["_given"] == [
        None,
        {"extension": [{"url": "http://example.org/x", "valueCode": "CL"}]},
    ]


def test_deleting_a_primitive_removes_its_extensions_too():
    result = patch(PATIENT, op("delete", "Patient.birthDate"))
    assert "birthDate" not in result and "_birthDate" not in result


def test_moving_primitive_list_items_keeps_companions_aligned():
    resource = {
        "resourceType": "Patient",
        "name": [{"given": ["a", "b", "c"], "_given": [None, {"id": "B"}, None]}],
    }
    result = patch(resource, op("move", "Patient.name[0].given", source=1, destination=2))
    assert result["name"][0] == {"given": ["a", "c", "b"], "_given": [None, None, {"id": "B"}]}


def test_delete_of_nothing_is_not_an_error():
    assert patch(PATIENT, op("delete", "Patient.name.where(use = 'maiden')")) == PATIENT


@pytest.mark.parametrize(
    "operation, message",
    [
        (op("replace", "Patient.gender", value=("valueCode", "male")), "No content found at Patient.gender"),
        (op("delete", "Patient.name"), "Multiple elements (2)"),
        (op("replace", "Patient.name.given", value=("valueString", "x")), "Multiple elements (3)"),
        (op("add", "Patient", name="birthDate", value=("valueDate", "2000")), "use replace"),
        (op("add", "Patient", name="colour", value=("valueString", "red")), "no element named 'colour'"),
        (
            op("insert", "Patient.name", index=5, value=[{"name": "text", "valueString": "x"}]),
            "outside the list",
        ),
        (
            op("insert", "Patient.identifier", index=0, value=("valueIdentifier", {"value": "1"})),
            "No content found",
        ),
        (op("move", "Patient.name", source=0, destination=2), "destination 2 is outside"),
        (op("move", "Patient.name[0]", source=0, destination=1), "must name a list"),
        (op("replace", "Patient.birthDate", value=("valueHumanName", {"text": "x"})), "of type date"),
    ],
)
def test_operations_that_cannot_apply_are_422_and_name_the_operation(operation, message):
    with pytest.raises(Unprocessable) as caught:
        patch(PATIENT, operation)
    assert message in str(caught.value)
    assert str(caught.value).startswith("FHIRPath Patch operation 1 (")
    assert caught.value.issues[0].code == "processing"


@pytest.mark.parametrize(
    "parameters",
    [
        {"resourceType": "Patient"},
        {"resourceType": "Parameters", "parameter": [{"name": "op"}]},
        {"resourceType": "Parameters", "parameter": [op("upsert", "Patient")]},
        {"resourceType": "Parameters", "parameter": [op("replace", "Patient.gender")]},
        {
            "resourceType": "Parameters",
            "parameter": [op("insert", "Patient.name", index="1", value=("valueString", "x"))],
        },
        {"resourceType": "Parameters", "parameter": [op("delete", "Patient.name.exists()")]},
        {"resourceType": "Parameters", "parameter": [op("delete", "Patient.name.where(use = ")]},
    ],
)
def test_malformed_patch_is_400(parameters):
    with pytest.raises(BadRequest):
        apply_fhirpath_patch(PATIENT, parameters)


def test_operations_apply_in_order_and_see_earlier_results():
    result = patch(
        {"resourceType": "Patient"},
        op("add", "Patient", name="name", value=("valueHumanName", {"family": "A"})),
        op("insert", "Patient.name", index=0, value=("valueHumanName", {"family": "B"})),
        op("replace", "Patient.name[1].family", value=("valueString", "C")),
    )
    assert result["name"] == [{"family": "B"}, {"family": "C"}]


def test_contained_resources_are_typed_by_their_resource_type():
    resource = {
        "resourceType": "Patient",
        "contained": [{"resourceType": "Organization", "id": "o", "name": "X"}],
    }
    result = patch(resource, op("replace", "Patient.contained[0].name", value=("valueString", "Y")))
    assert result["contained"][0]["name"] == "Y"


def test_path_about_another_resource_type_is_refused():
    with pytest.raises(Unprocessable, match="about Observation, but the resource is a Patient"):
        patch(PATIENT, op("delete", "Observation.status"))


@pytest.mark.parametrize(
    "parameters",
    [
        {"resourceType": "Parameters", "parameter": {"name": "operation"}},
        {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": ["type"]}]},
        {
            "resourceType": "Parameters",
            "parameter": [
                op("delete", "Patient.name")
                | {"part": [{"name": "type", "valueCode": "delete"}, {"name": "path", "valueInteger": 3}]}
            ],
        },
    ],
)
def test_body_of_the_wrong_shape_is_400_not_a_crash(parameters):
    with pytest.raises(BadRequest):
        apply_fhirpath_patch(PATIENT, parameters)


def test_of_type_and_backbone_where_with_choice_criteria():
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "bp"},
        "component": [
            {"code": {"text": "sys"}, "valueQuantity": {"value": 120, "unit": "mmHg"}},
            {"code": {"text": "note"}, "valueString": "ok"},
        ],
    }
    result = patch(
        observation,
        op("replace", "Observation.component.value.ofType(Quantity).value", value=("valueDecimal", "125.5")),
        op("delete", "Observation.component.where(value is string)"),
    )
    assert result["component"] == [
        {"code": {"text": "sys"}, "valueQuantity": {"value": 125.5, "unit": "mmHg"}}
    ]
