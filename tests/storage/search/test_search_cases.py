"""Table-driven search cases over the fixed dataset, run on the in-memory twin, SQLite and
PostgreSQL: the same query must find the same resources on all three.

Expected ids are a set when order does not matter and a list when the query sorts.
"""

from __future__ import annotations

import pytest
from search_dataset import run_search  # this folder is on sys.path under pytest

P, OBS = "Patient", "Observation"
ALL_PATIENTS = {"zhangsan", "lisi", "wangwu", "zhaoliu", "jose", "xiaoming"}

CASES = [
    # string: starts-with, case/accent-insensitive, CJK, :exact, :contains
    (P, "name=张三", {"zhangsan"}),
    (P, "name=张", {"zhangsan", "xiaoming"}),
    (P, "name=张小", {"xiaoming"}),
    (P, "name:contains=小明", {"xiaoming"}),
    (P, "name=jose", {"jose"}),
    (P, "name=JOSÉ", {"jose"}),
    (P, "name=muller", {"jose"}),
    (P, "name:exact=José", {"jose"}),
    (P, "name:exact=jose", set()),
    (P, "family=王", {"wangwu"}),
    (P, "given=三,四", {"zhangsan", "lisi"}),
    (P, "name=张&name=三", {"zhangsan"}),
    (P, "address-city=北京", {"zhangsan"}),
    (P, "address=朝阳", {"zhangsan"}),
    ("Organization", "name=smith\\, jones", {"org3"}),
    ("Organization", "name:exact=Smith\\, Jones \\| Partners", {"org3"}),
    ("Organization", "name:contains=卫生", {"org1", "org2"}),
    # token
    (P, "gender=male", {"zhangsan", "lisi", "wangwu", "xiaoming"}),
    (P, "gender:not=male", {"zhaoliu", "jose"}),
    (P, "gender:missing=true", {"zhaoliu"}),
    (P, "gender:missing=false", ALL_PATIENTS - {"zhaoliu"}),
    (P, "identifier=urn:oid:2.16.156.10011.1.2|110101195003150011", {"zhangsan"}),
    (P, "identifier=|110101195003150011", set()),
    (P, "identifier=urn:oid:2.16.156.10011.1.2|", {"zhangsan", "xiaoming"}),
    (P, "identifier=110101201506010033", {"xiaoming"}),
    (P, "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|NI|110101195003150011", {"zhangsan"}),
    (P, "phone=13800000001", {"zhangsan"}),
    (P, "email=lisi@example.cn", {"lisi"}),
    (P, "active=true", {"zhangsan", "lisi"}),
    (P, "active=false", {"zhaoliu"}),
    (P, "deceased=true", {"wangwu"}),
    (P, "_id=s-lisi,s-jose", {"lisi", "jose"}),
    (OBS, "code=http://loinc.org|85354-9", {"bp1", "bp2"}),
    (OBS, "code=85354-9,2339-0", {"bp1", "bp2", "glu1"}),
    (OBS, "code:text=血压", {"bp1", "bp2"}),
    (OBS, "code:text=glu", {"glu1"}),
    (OBS, "code:text=体重", {"wt1"}),
    (OBS, "combo-code=8480-6", {"bp1", "bp2"}),
    (OBS, "status=final", {"bp1", "bp2", "smoke"}),
    (OBS, "status:not=final", {"glu1", "wt1"}),
    (OBS, "category=vital-signs", {"bp1", "bp2"}),
    (OBS, "value-concept=266919005", {"smoke"}),
    ("Encounter", "class=AMB", {"enc1"}),
    ("Practitioner", "identifier=D001", {"doc1"}),
    # date: precision ranges and prefixes
    (P, "birthdate=1950", {"zhangsan", "wangwu"}),
    (P, "birthdate=1950-03", {"zhangsan"}),
    (P, "birthdate=1962", {"lisi"}),
    (P, "birthdate=1962-07-15", set()),
    (P, "birthdate=ge1985-02-28", {"zhaoliu", "jose", "xiaoming"}),
    (P, "birthdate=gt1985-02-28", {"jose", "xiaoming"}),
    (P, "birthdate=lt1950-11-02", {"zhangsan"}),
    (P, "birthdate=le1950-11-02", {"zhangsan", "wangwu"}),
    (P, "birthdate=ne1950", {"lisi", "zhaoliu", "jose", "xiaoming"}),
    (P, "birthdate=sa2000", {"xiaoming"}),
    (P, "birthdate=eb1951", {"zhangsan", "wangwu"}),
    (P, "birthdate=ge1950&birthdate=lt1963", {"zhangsan", "wangwu", "lisi"}),
    (P, "birthdate=ap2015-06-01", {"xiaoming"}),
    (P, "death-date=2020", {"wangwu"}),
    (P, "_lastUpdated=ge2024-01-01T00:09:00Z", {"jose", "xiaoming"}),
    (OBS, "date=2023", {"bp1", "bp2", "glu1"}),
    (OBS, "date=2023-05-01", {"bp1"}),
    (OBS, "date=2022-12-31", {"wt1"}),
    (OBS, "date=ge2023-01-15", {"glu1", "bp1", "bp2"}),
    (OBS, "date=sa2022-12-31", {"glu1", "bp1", "bp2"}),
    (OBS, "date=eb2023", {"wt1", "smoke"}),
    (OBS, "date=2023-01", {"glu1"}),
    (OBS, "date=2023-01-15", set()),
    (OBS, "date=lt2021-06", {"smoke"}),
    ("Encounter", "date=2023-05-01", {"enc1"}),
    # number and quantity
    (OBS, "value-quantity=6.1", {"glu1"}),
    (OBS, "value-quantity=6", {"glu1"}),
    (OBS, "value-quantity=70", set()),
    (OBS, "value-quantity=70.5|http://unitsofmeasure.org|kg", {"wt1"}),
    (OBS, "value-quantity=gt6.1", {"wt1"}),
    (OBS, "value-quantity=lt50||mmol/L", {"glu1"}),
    (OBS, "value-quantity=le100||kg", {"wt1"}),
    (OBS, "value-quantity=ap6.5", {"glu1"}),
    (OBS, "value-quantity=ge1e1", {"glu1", "wt1"}),  # 6.1 is in 1e1's range [5, 15): ge is gt or eq
    (OBS, "value-quantity=gt1e1", {"wt1"}),
    (OBS, "value-quantity=le6", {"glu1"}),  # [5.5, 6.5)
    (OBS, "value-quantity=lt6", set()),
    (OBS, "value-quantity=ge6.10", {"glu1", "wt1"}),
    (OBS, "value-quantity=ge6.11", {"wt1"}),
    (OBS, "value-quantity=ne6.1", {"wt1"}),
    (OBS, "component-value-quantity=gt140", {"bp1"}),
    # composite
    (OBS, "component-code-value-quantity=http://loinc.org|8480-6$gt140", {"bp1"}),
    (OBS, "component-code-value-quantity=http://loinc.org|8462-4$gt140", set()),
    (OBS, "component-code-value-quantity=http://loinc.org|8480-6$lt130,http://loinc.org|8462-4$gt90",
     {"bp1", "bp2"}),
    (OBS, "code-value-quantity=http://loinc.org|2339-0$6.1", {"glu1"}),
    (OBS, "code-value-concept=http://loinc.org|72166-2$http://snomed.info/sct|266919005", {"smoke"}),
    # uri
    ("ValueSet", "url=http://jiayi.example.cn/fhir/ValueSet/contract-type", {"vs1"}),
    ("ValueSet", "url:below=http://jiayi.example.cn/fhir", {"vs1"}),
    ("ValueSet", "url:below=http://jiayi.example.cn/fhi", set()),
    ("ValueSet", "url:above=http://jiayi.example.cn/fhir/ValueSet/contract-type/extra", {"vs1"}),
    # reference
    (P, "general-practitioner=Practitioner/s-doc1", {"zhangsan"}),
    (P, "general-practitioner=s-doc2", {"lisi"}),
    (P, "general-practitioner:Practitioner=s-doc1", {"zhangsan"}),
    (P, "organization=Organization/s-org1", {"zhangsan", "wangwu"}),
    (P, "organization:missing=true", {"lisi", "zhaoliu", "jose", "xiaoming"}),
    (P, "link=Patient/s-zhangsan", {"xiaoming"}),
    (OBS, "subject=Patient/s-zhangsan", {"bp1", "glu1"}),
    (OBS, "patient=s-lisi", {"bp2", "smoke"}),
    (OBS, "performer=Practitioner/s-doc1", {"bp1"}),
    (OBS, "subject:missing=false&code=29463-7", {"wt1"}),
    ("Organization", "partof=Organization/s-org2", {"org1"}),
    ("Encounter", "practitioner=s-doc1", {"enc1"}),
    # chains and reverse chains
    (P, "general-practitioner.name=王", {"zhangsan"}),
    (P, "general-practitioner:Practitioner.identifier=urn:jiayi:doctor|D001", {"zhangsan"}),
    (P, "organization.partof.name=北京", {"zhangsan", "wangwu"}),
    (OBS, "subject:Patient.name=张三", {"bp1", "glu1"}),
    (OBS, "subject.gender=male&code=85354-9", {"bp1", "bp2"}),
    (OBS, "subject:Patient.organization.name=朝阳", {"bp1", "glu1", "wt1"}),
    ("Encounter", "participant.name=王", {"enc1"}),
    (P, "_has:Observation:subject:code=http://loinc.org|85354-9", {"zhangsan", "lisi"}),
    (P, "_has:Observation:patient:code=2339-0", {"zhangsan"}),
    (P, "_has:Observation:subject:_has:Provenance:target:agent=Practitioner/s-doc1", {"zhangsan"}),
    (OBS, "_has:Provenance:target:agent=Practitioner/s-doc1", {"bp1"}),
    ("Practitioner", "_has:Patient:general-practitioner:name=李四", {"doc2"}),
    # sorting
    (P, "_sort=birthdate", ["zhangsan", "wangwu", "lisi", "zhaoliu", "jose", "xiaoming"]),
    (P, "_sort=-birthdate", ["xiaoming", "jose", "zhaoliu", "lisi", "wangwu", "zhangsan"]),
    (P, "_sort=gender,-birthdate", ["jose", "xiaoming", "lisi", "wangwu", "zhangsan", "zhaoliu"]),
    (P, "_sort=_id", ["jose", "lisi", "wangwu", "xiaoming", "zhangsan", "zhaoliu"]),
    (P, "_sort=-_lastUpdated", ["xiaoming", "jose", "zhaoliu", "wangwu", "lisi", "zhangsan"]),
    (OBS, "code=85354-9&_sort=-date", ["bp2", "bp1"]),
    # full text: _text is the narrative (tags stripped), _content every string; Chinese by
    # character bigrams, words by prefix, all words required, commas for OR
    (OBS, "_text=高血压", {"bp1"}),
    (OBS, "_text=血压", {"bp1"}),
    (OBS, "_text=高", {"bp1"}),
    (OBS, "_text=低血压", set()),
    (OBS, "_text=hypertension", {"bp1"}),
    (OBS, "_text=HYPERTEN", {"bp1"}),
    (OBS, "_text=hypertension follow-up", {"bp1"}),
    (OBS, "_text=hypertension diabetes", set()),
    (OBS, "_text=高血压,体重", {"bp1", "wt1"}),
    (OBS, "_text=advice", {"bp1"}),
    (OBS, "_text=amp", set()),
    (OBS, "_text=p", set()),
    (OBS, "_content=血压", {"bp1", "bp2"}),
    (OBS, "_content=glucose", {"glu1"}),
    (OBS, "_content=mmhg", {"bp1", "bp2"}),
    (OBS, "_content=weight", {"wt1"}),
    (OBS, "_content=loinc", set()),
    (OBS, "subject:Patient._content=幸福路", {"bp1", "glu1"}),
    (OBS, "_text=高血压&code=85354-9", {"bp1"}),
    (P, "_text=糖尿病", {"zhaoliu"}),
    (P, "_text=随访", {"zhaoliu"}),
    (P, "_content=幸福路1号", {"zhangsan"}),
    (P, "_content=110101195003150011", {"zhangsan"}),
    (P, "_content=josé", {"jose"}),
    (P, "_has:Observation:subject:_text=高血压", {"zhangsan"}),
    ("Organization", "_content=卫生", {"org1", "org2"}),
    # pinyin: full (with or without spaces, any case), initials, starts-with, Chinese query,
    # surname readings for polyphonic surnames, every reading of a polyphonic given name
    (P, "name:pinyin=zhangsan", {"zhangsan"}),
    (P, "name:pinyin=zhang san", {"zhangsan"}),
    (P, "name:pinyin=ZhangSan", {"zhangsan"}),
    (P, "name:pinyin=zs", {"zhangsan"}),
    (P, "name:pinyin=zhang", {"zhangsan", "xiaoming"}),
    (P, "name:pinyin=zxm", {"xiaoming"}),
    (P, "name:pinyin=zhang xiao", {"xiaoming"}),
    (P, "name:pinyin=xiaoming", {"xiaoming"}),
    (P, "name:pinyin=ls,ww", {"lisi", "wangwu"}),
    (P, "name:pinyin=张三", {"zhangsan"}),
    (P, "name:pinyin=jose", {"jose"}),
    (P, "name:pinyin=zhangsi", set()),
    (P, "name:pinyin=yuwu", set()),  # 王 has an archaic reading yu; it is not indexed
    (P, "name:pinyin=zhang&gender=male&birthdate=lt2000", {"zhangsan"}),
    ("Practitioner", "name:pinyin=zeng", {"doc3"}),
    ("Practitioner", "name:pinyin=ceng", set()),
    ("Practitioner", "name:pinyin=zengle", {"doc3"}),
    ("Practitioner", "name:pinyin=zeng yue", {"doc3"}),
    ("Practitioner", "name:pinyin=zy", {"doc3"}),
    ("Practitioner", "name:pinyin=wys", {"doc1"}),
    ("RelatedPerson", "name:pinyin=shanchangchun", {"rel1"}),
    ("RelatedPerson", "name:pinyin=scc", {"rel1"}),
    ("RelatedPerson", "name:pinyin=danchangchun", set()),
    ("Organization", "name:pinyin=chaoyang", {"org1"}),
    ("Organization", "name:pinyin=cyqsq", {"org1"}),
    ("Organization", "name:pinyin=beijing", {"org2"}),
    ("Organization", "name:pinyin=bjswsjk", {"org2"}),
    (OBS, "subject:Patient.name:pinyin=zs", {"bp1", "glu1"}),
    ("Practitioner", "_has:Patient:general-practitioner:name:pinyin=lisi", {"doc2"}),
    # --- negatives for every modifier: what a modifier must NOT find (a looser test would) ---
    # string :exact: whole value, case and accents as written (not starts-with, not case-folded)
    (P, "name:exact=josé", set()),
    (P, "name:exact=JOSÉ", set()),
    (P, "name:exact=Jos", set()),
    (P, "name:exact=José Müller", {"jose"}),
    (P, "name:exact=José Mülle", set()),
    (P, "family:exact=Müller", {"jose"}),
    (P, "family:exact=müller", set()),
    (P, "family:exact=Mül", set()),
    (P, "family:exact=Muller", set()),
    (P, "given:exact=小", set()),
    (P, "given:exact=小明", {"xiaoming"}),
    ("Organization", "name:exact=Smith\\, Jones", set()),
    # plain string: starts-with, not contains
    (P, "name=üller", set()),
    (P, "given=明", set()),
    # :contains: anywhere, case-insensitive, but the letters in order
    (P, "given:contains=明", {"xiaoming"}),
    (P, "name:contains=ÜLLE", {"jose"}),
    (P, "name:contains=明小", set()),
    (P, "name:contains=xyz", set()),
    ("Organization", "name:contains=卫健", set()),
    # :missing on string, token, reference, date and quantity parameters
    (P, "address:missing=true", {"wangwu", "zhaoliu", "jose", "xiaoming"}),
    (P, "address:missing=false", {"zhangsan", "lisi"}),
    (P, "organization:missing=false", {"zhangsan", "wangwu"}),
    (P, "death-date:missing=false", {"wangwu"}),
    (P, "birthdate:missing=true", set()),
    (P, "identifier:missing=true", {"lisi", "wangwu", "zhaoliu", "jose"}),
    (OBS, "value-quantity:missing=false", {"glu1", "wt1"}),
    # token :not (a resource without the element is included) and its negative
    (P, "gender:not=female", {"zhangsan", "lisi", "wangwu", "xiaoming", "zhaoliu"}),
    (OBS, "status:not=preliminary", {"bp1", "bp2", "smoke", "wt1"}),
    (OBS, "code:not=http://loinc.org|85354-9", {"glu1", "wt1", "smoke"}),
    # token :text: the code's text and displays, not codes or other words
    (OBS, "code:text=85354-9", set()),
    (OBS, "code:text=压血", set()),
    (OBS, "code:text=weight", set()),
    # token :of-type: type system, type code and value all have to match
    (P, "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|110101195003150011", set()),
    (P, "identifier:of-type=http://example.org/other|NI|110101195003150011", set()),
    (P, "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|NI|110101201506010033", set()),
    (P, "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|NI|11010119500315", set()),
    # uri :above / :below: whole path segments, in the right direction
    ("ValueSet", "url:above=http://jiayi.example.cn/fhir/ValueSet", set()),
    ("ValueSet", "url:below=http://jiayi.example.cn/fhir/ValueSet/contract-type/extra", set()),
    ("ValueSet", "url:below=http://jiayi.example.cn/fhir/ValueSet/contract-typ", set()),
    ("ValueSet", "url=http://jiayi.example.cn/fhir/ValueSet", set()),
    # reference [type] modifier: the type must match
    (P, "general-practitioner:Organization=s-doc1", set()),
    (OBS, "subject:Group=s-zhangsan", set()),
]


def _ids(page) -> list[str]:
    return [m.res_id.removeprefix("s-") for m in page.matches]


def _check(page, expected) -> None:
    found = _ids(page)
    if isinstance(expected, list):
        assert found == expected
    else:
        assert set(found) == expected and len(found) == len(expected)
    assert page.total == len(expected)


@pytest.mark.parametrize(("res_type", "query", "expected"), CASES, ids=[f"{c[0]}?{c[1]}" for c in CASES])
def test_memory(memory_store, res_type, query, expected):
    _check(run_search(memory_store, res_type, query), expected)


@pytest.mark.parametrize(("res_type", "query", "expected"), CASES, ids=[f"{c[0]}?{c[1]}" for c in CASES])
def test_database(search_db, res_type, query, expected):
    _check(run_search(search_db, res_type, query), expected)
