"""Which slice an element belongs to (FHIR R4 profiling.html §5.1.0.5 "Discriminator"): every
discriminator type (value, pattern, exists, type, profile) and path form (``$this``, dotted
names, choice elements, ``extension('url')``, ``resolve()``), each with an item that is in the
slice and one that is not.  Written from the mutation run of validation/slicing.py
(docs/testing.md)."""

from __future__ import annotations

import pytest

from fhir_server.validation.slicing import contains, definition_at, matches, navigate
from fhir_server.validation.snapshot import Discriminator, Node, TypeRef

ID_CARD = "urn:oid:2.16.156.10011.1.2"
EXT_URL = "https://jiayi.dev/fhir/StructureDefinition/ethnicity"


def node(path: str, *, min: int = 0, max: int | None = None, types: tuple[TypeRef, ...] = (), fixed=None,
         pattern=None, children: dict | None = None, slices: list | None = None, sliced=None,
         extension_url: str | None = None) -> Node:
    return Node(id=path, path=path, name=path.rsplit(".", 1)[-1], slice_name=None, min=min, max=max, base_min=0,
                base_max=None, types=types, fixed=fixed, pattern=pattern, binding=None, invariants=(), label="",
                children=children or {}, slices=slices or [], sliced=sliced, extension_url=extension_url)


def never(_reference: object) -> dict | None:
    return None


def nobody(_item: object, _profile: str) -> bool:
    return False


def one(item: object, slice_node: Node, kind: str, path: str, *, json_type: str = "Identifier",
        resolve=never, conforms=nobody) -> bool:
    return matches(item, json_type, slice_node, (Discriminator(kind, path),), resolve, conforms)


# --- navigate ------------------------------------------------------------------------------------

def test_navigate_paths():
    item = {"system": "s", "coding": [{"code": "a"}, {"code": "b"}, "not a dict"], "valueQuantity": {"value": 1},
            "values": 9, "extension": [{"url": "u1", "valueString": "x"}, {"url": "u2"}, "bad"]}
    assert navigate(item, "$this", never) == [item]
    assert navigate(item, "", never) == [item]
    assert navigate(item, "system", never) == ["s"]
    assert navigate(item, "coding.code", never) == ["a", "b"]  # collections flatten, non-objects skipped
    assert navigate(item, "value", never) == [{"value": 1}]  # a choice element by its suffix
    assert navigate(item, "value.value", never) == [1]
    assert navigate(item, "missing", never) == []
    assert navigate(item, "extension('u1')", never) == [{"url": "u1", "valueString": "x"}]
    assert navigate(item, "extension('u1').value", never) == ["x"]
    assert navigate(item, "extension('nope')", never) == []
    assert navigate({"val": 1, "valx": 2}, "val", never) == [1]
    assert navigate({"coding": ["not a dict", {"code": "a"}]}, "coding.code", never) == ["a"]
    two = {"a": [{"extension": [{"url": "u", "valueCode": "1"}]}, {"extension": [{"url": "u", "valueCode": "2"}]}]}
    assert navigate(two, "a.extension('u').value", never) == ["1", "2"]  # every item's, in order
    assert navigate({"valx": 2}, "val", never) == []  # valx is no choice of val
    assert navigate({"code": None, "codeX": 3}, "code", never) == [3]


def test_navigate_resolves_references_through_the_context():
    target = {"resourceType": "Patient", "id": "1"}

    def resolve(reference: object) -> dict | None:
        return target if isinstance(reference, dict) and reference.get("reference") == "Patient/1" else None

    item = {"who": [{"reference": "Patient/1"}, {"reference": "Patient/2"}]}
    assert navigate(item, "who.resolve()", resolve) == [target]
    assert navigate({"who": [{"reference": "Patient/2"}, {"reference": "Patient/1"}]}, "who.resolve()",
                    resolve) == [target]  # the ones that resolve, wherever they are
    assert navigate(item, "who.resolve().id", resolve) == ["1"]
    assert navigate(item, "extension('http://a.b/c.d').url", resolve) == []  # the dots of a url do not split


# --- contains (pattern[x]) ------------------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "value", "expected"), [
    ({"system": "s"}, {"system": "s", "value": "1"}, True),
    ({"system": "s"}, {"system": "t"}, False),
    ({"system": "s"}, "s", False),
    ({"coding": [{"code": "a"}]}, {"coding": [{"code": "b"}, {"code": "a", "system": "x"}]}, True),
    ({"coding": [{"code": "a"}, {"code": "c"}]}, {"coding": [{"code": "a"}]}, False),
    ({"coding": [{"code": "a"}]}, {"coding": {"code": "a"}}, False),
    ("a", "a", True),
    ("a", "b", False),
    ({}, {"anything": 1}, True),
])
def test_contains(pattern, value, expected):
    assert contains(pattern, value) is expected


# --- value and pattern ---------------------------------------------------------------------------

def _identifier_slice(*, fixed=None, pattern=None) -> Node:
    return node("Patient.identifier", children={"system": node("Patient.identifier.system", fixed=fixed,
                                                                pattern=pattern)})


def test_value_discriminator_on_a_fixed_value_is_equality():
    s = _identifier_slice(fixed=("fixedUri", ID_CARD))
    assert one({"system": ID_CARD, "value": "1"}, s, "value", "system")
    assert not one({"system": ID_CARD + ".1", "value": "1"}, s, "value", "system")
    assert not one({"value": "1"}, s, "value", "system")


def test_pattern_discriminator_is_containment():
    s = node("Observation.category", children={"coding": node("Observation.category.coding")}, pattern=(
        "patternCodeableConcept", {"coding": [{"code": "vital-signs"}]}))
    assert one({"coding": [{"system": "x", "code": "vital-signs"}]}, s, "pattern", "$this")
    assert not one({"coding": [{"code": "laboratory"}]}, s, "pattern", "$this")
    # a fixed value under a pattern discriminator is still equality
    fixed = _identifier_slice(fixed=("fixedUri", ID_CARD))
    assert one({"system": ID_CARD}, fixed, "pattern", "system")
    assert not one({"system": {"x": ID_CARD}}, fixed, "pattern", "system")
    patterned = _identifier_slice(pattern=("patternUri", ID_CARD))
    assert one({"system": ID_CARD}, patterned, "value", "system")


def test_a_value_discriminator_without_a_value_to_compare_matches_nothing():
    assert not one({"system": ID_CARD}, _identifier_slice(), "value", "system")
    assert not one({"system": ID_CARD}, _identifier_slice(fixed=("fixedUri", ID_CARD)), "value", "nothing")


def test_extension_slices_by_url():
    # the slice's own url (as the registry sets it), a fixed url child, or the type's profile
    by_registry = node("Patient.extension", extension_url=EXT_URL)
    by_child = node("Patient.extension", children={"url": node("Patient.extension.url", fixed=("fixedUri", EXT_URL))})
    by_profile = node("Patient.extension", types=(TypeRef("Extension", (EXT_URL + "|1.0",)),))
    by_profile_child = node("Patient.extension", types=(TypeRef("Extension", (EXT_URL,)),),
                            children={"url": node("Patient.extension.url")})
    for s in (by_registry, by_child, by_profile, by_profile_child):
        for kind in ("value", "pattern"):
            assert one({"url": EXT_URL, "valueString": "汉族"}, s, kind, "url", json_type="Extension")
            assert not one({"url": EXT_URL + "-other"}, s, kind, "url", json_type="Extension")
    nothing = node("Patient.extension", types=(TypeRef("Extension"),))
    assert not one({"url": EXT_URL}, nothing, "value", "url", json_type="Extension")
    assert not one({"url": EXT_URL}, by_registry, "exists", "url", json_type="Extension")


def test_a_path_through_an_extension_slice():
    inner = node("Patient.extension", extension_url="http://x/inner",
                 children={"value[x]": node("Patient.extension.value[x]", fixed=("fixedCode", "a"))})
    outer = node("Patient.extension", children={"extension": node("Patient.extension.extension", slices=[
        node("Patient.extension.extension", extension_url="http://x/other"), inner])})
    item = {"url": "http://x/outer", "extension": [{"url": "http://x/inner", "valueCode": "a"}]}
    assert one(item, outer, "value", "extension('http://x/inner').value", json_type="Extension")
    item["extension"][0]["valueCode"] = "b"
    assert not one(item, outer, "value", "extension('http://x/inner').value", json_type="Extension")
    assert definition_at(outer, "extension('http://x/none').value") is None
    # an extension slice known by its fixed url child alone
    by_child = node("Patient.extension", children={
        "url": node("Patient.extension.url", fixed=("fixedUri", "http://x/inner")),
        "value[x]": node("Patient.extension.value[x]", fixed=("fixedCode", "a"))})
    outer2 = node("Patient.extension", children={"extension": node("Patient.extension.extension", slices=[by_child])})
    item["extension"][0]["valueCode"] = "a"
    assert one(item, outer2, "value", "extension('http://x/inner').value", json_type="Extension")
    item["extension"][0]["valueCode"] = "b"
    assert not one(item, outer2, "value", "extension('http://x/inner').value", json_type="Extension")
    assert definition_at(node("X"), "extension('http://x/inner')") is None  # no extension element


def test_definition_at_follows_children_choices_and_the_sliced_element():
    value = node("Observation.value[x]")
    base = node("Observation", children={"value[x]": value, "code": node("Observation.code")})
    a_slice = node("Observation", sliced=base)
    assert definition_at(base, "value") is value
    assert definition_at(a_slice, "value") is value  # not restated by the slice: taken from what it slices
    assert definition_at(base, "$this") is base
    assert definition_at(base, "code.coding") is None
    assert definition_at(base, "subject.resolve()") is None
    ref = node("Observation.subject")
    assert definition_at(node("Observation", children={"subject": ref}), "subject.resolve().name") is ref


# --- exists --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("min_", "max_", "present", "expected"), [
    (1, None, True, True), (1, None, False, False),
    (1, 1, True, True),
    (0, 0, True, False), (0, 0, False, True),
    (0, None, True, False), (0, None, False, True),
])
def test_exists_discriminator(min_, max_, present, expected):
    s = node("Patient.identifier", children={"period": node("Patient.identifier.period", min=min_, max=max_)})
    item = {"value": "1", "period": {"start": "2020"}} if present else {"value": "1"}
    assert one(item, s, "exists", "period") is expected


# --- type ----------------------------------------------------------------------------------------

def test_type_discriminator_on_a_resource_and_on_a_choice():
    entry = node("Bundle.entry", children={"resource": node("Bundle.entry.resource", types=(TypeRef("Patient"),))})
    assert one({"resource": {"resourceType": "Patient"}}, entry, "type", "resource", json_type="BackboneElement")
    assert not one({"resource": {"resourceType": "Group"}}, entry, "type", "resource", json_type="BackboneElement")
    assert not one({"resource": "Patient"}, entry, "type", "resource", json_type="BackboneElement")
    this = node("Observation.value[x]", types=(TypeRef("Quantity"), TypeRef("string")))
    assert one({"value": 1}, this, "type", "$this", json_type="Quantity")
    assert not one({"value": 1}, this, "type", "$this", json_type="CodeableConcept")
    assert one({"resourceType": "Quantity"}, this, "type", "$this", json_type="Patient")  # a resource's own type


# --- profile -------------------------------------------------------------------------------------

def test_profile_discriminator_asks_whether_the_item_conforms():
    profile = "https://jiayi.dev/fhir/StructureDefinition/p"
    s = node("Bundle.entry", children={"resource": node("Bundle.entry.resource",
                                                        types=(TypeRef("Patient", (profile,)),))})
    seen: list[tuple[object, str]] = []

    def conforms(item: object, url: str) -> bool:
        seen.append((item, url))
        return item == {"resourceType": "Patient", "active": True}

    good = {"resource": {"resourceType": "Patient", "active": True}}
    assert matches(good, "BackboneElement", s, (Discriminator("profile", "resource"),), never, conforms)
    assert seen == [(good["resource"], profile)]
    bad = {"resource": {"resourceType": "Patient"}}
    assert not matches(bad, "BackboneElement", s, (Discriminator("profile", "resource"),), never, conforms)


def test_profile_discriminator_through_resolve_uses_the_target_profiles():
    target_profile = "https://jiayi.dev/fhir/StructureDefinition/resident"
    s = node("CarePlan.subject", types=(TypeRef("Reference", ("http://x/ref-profile",), (target_profile,)),))
    patient = {"resourceType": "Patient", "id": "1"}
    asked: list[str] = []

    def conforms(item: object, url: str) -> bool:
        asked.append(url)
        return item is patient and url == target_profile

    assert one({"reference": "Patient/1"}, s, "profile", "resolve()", json_type="Reference",
               resolve=lambda _r: patient, conforms=conforms)
    assert asked == [target_profile]
    assert not one({"reference": "Patient/1"}, s, "profile", "resolve()", json_type="Reference",
                   conforms=conforms)  # nothing resolved


def test_every_discriminator_must_hold_and_an_unknown_type_matches_nothing():
    s = node("Patient.identifier", children={
        "system": node("Patient.identifier.system", fixed=("fixedUri", ID_CARD)),
        "value": node("Patient.identifier.value", min=1)})
    both = (Discriminator("value", "system"), Discriminator("exists", "value"))
    assert matches({"system": ID_CARD, "value": "1"}, "Identifier", s, both, never, nobody)
    assert not matches({"system": ID_CARD}, "Identifier", s, both, never, nobody)
    assert not matches({"system": "x", "value": "1"}, "Identifier", s, both, never, nobody)
    assert not one({"system": ID_CARD}, s, "position", "system")


def test_a_fixed_value_is_equality_and_a_pattern_containment_for_objects():
    concept = {"coding": [{"system": "http://x", "code": "a"}]}
    fixed = node("Observation.code", fixed=("fixedCodeableConcept", concept))
    patterned = node("Observation.code", pattern=("patternCodeableConcept", concept))
    richer = {"coding": [{"system": "http://x", "code": "a"}], "text": "甲"}
    for kind in ("value", "pattern"):
        assert one(concept, fixed, kind, "$this", json_type="CodeableConcept")
        assert not one(richer, fixed, kind, "$this", json_type="CodeableConcept")  # fixed: nothing more
        assert one(richer, patterned, kind, "$this", json_type="CodeableConcept")  # pattern: at least


def test_the_url_index_puts_an_extension_where_the_matchers_put_it():
    """``url_index`` (the profile walk's one look-up for extensions sliced by url) gives, for every
    sliced element of every IG profile and every url its slices name (and one they do not), the
    first slice whose matcher takes an extension with that url."""
    from fhir_server.validation.ig import conformance
    from fhir_server.validation.slicing import compile_matcher, url_index

    conf, indexed = conformance(), 0
    for url, sd in conf.structures.items():
        if "snapshot" not in sd:
            continue
        for sliced in (n for n in conf.compiled(url).walk() if n.slices):
            discriminators = sliced.slicing.discriminators if sliced.slicing and sliced.slicing.discriminators \
                else (Discriminator("value", "url"),)
            index = url_index(sliced.slices, discriminators)
            if index is None:
                continue
            indexed += 1
            matchers = [(s, compile_matcher(s, discriminators)) for s in sliced.slices]
            for wanted in [*index, "https://example.org/no-such-extension"]:
                item = {"url": wanted, "valueString": "x"}
                first = next((s for s, match in matchers if match(item, "Extension", never, nobody)), None)
                assert index.get(wanted) is first, (url, sliced.id, wanted)
    assert indexed > 10
