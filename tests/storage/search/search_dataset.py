"""A small fixed dataset of Chinese residents and the helpers that load and query it.

Rows are written straight into ``resource`` and indexed with ``index_resource`` in the same
transaction (what the repository does on every write).  Every resource carries the dataset
tag, and :func:`run_search` adds ``_tag=<dataset>`` to each query, so rows other tests write
into the shared session database never show up in these results.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from fhir_server.search import MemorySearch, execute_search, index_resource, parse_search
from fhir_server.storage.models import ResourceRow

DATASET_TAG = {"system": "http://jiayi.test/dataset", "code": "search-cases"}
TAG_QUERY = ("_tag", "http://jiayi.test/dataset|search-cases")
LOINC, UCUM, SNOMED = "http://loinc.org", "http://unitsofmeasure.org", "http://snomed.info/sct"
ID_SYSTEM = "urn:oid:2.16.156.10011.1.2"  # resident identity card number


def _patient(pid, family, given, gender, birth, **extra):
    return {"resourceType": "Patient", "id": pid, "name": [{"family": family, "given": [given]}],
            **({"gender": gender} if gender else {}), "birthDate": birth, **extra}


def _bp(oid, subject, systolic, diastolic, when, **extra):
    return {"resourceType": "Observation", "id": oid, "status": "final", "subject": {"reference": subject},
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "vital-signs"}]}],
            "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}],
                     "text": "血压"},
            "effectiveDateTime": when,
            "component": [
                {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                 "valueQuantity": {"value": systolic, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}},
                {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                 "valueQuantity": {"value": diastolic, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}}],
            **extra}


NARRATIVE_BP1 = ('<div xmlns="http://www.w3.org/1999/xhtml"><p>收缩压偏高，<b>高血压</b>随访</p>'
                 '<p>Hypertension follow-up &amp; advice</p></div>')
NARRATIVE_ZHAOLIU = '<div xmlns="http://www.w3.org/1999/xhtml">糖尿病患者，需要定期随访</div>'


def dataset() -> list[dict]:
    resources = [
        {"resourceType": "Organization", "id": "s-org2", "name": "北京市卫生健康委员会", "active": True},
        {"resourceType": "Organization", "id": "s-org1", "name": "朝阳区社区卫生服务中心",
         "partOf": {"reference": "Organization/s-org2"}},
        {"resourceType": "Organization", "id": "s-org3", "name": "Smith, Jones | Partners"},
        {"resourceType": "Practitioner", "id": "s-doc1", "name": [{"family": "王", "given": ["医生"]}],
         "identifier": [{"system": "urn:jiayi:doctor", "value": "D001"}]},
        {"resourceType": "Practitioner", "id": "s-doc2", "name": [{"family": "陈", "given": ["大夫"]}]},
        _patient("s-zhangsan", "张", "三", "male", "1950-03-15",
                 identifier=[{"system": ID_SYSTEM, "value": "110101195003150011",
                              "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                   "code": "NI"}]}}],
                 telecom=[{"system": "phone", "value": "13800000001"}],
                 address=[{"city": "北京市", "district": "朝阳区", "line": ["幸福路1号"]}],
                 active=True, generalPractitioner=[{"reference": "Practitioner/s-doc1"}],
                 managingOrganization={"reference": "Organization/s-org1"}),
        _patient("s-lisi", "李", "四", "male", "1962-07",
                 telecom=[{"system": "email", "value": "lisi@example.cn"}],
                 address=[{"city": "上海市"}], active=True,
                 generalPractitioner=[{"reference": "Practitioner/s-doc2"}]),
        _patient("s-wangwu", "王", "五", "male", "1950-11-02", deceasedDateTime="2020-01-01",
                 managingOrganization={"reference": "Organization/s-org1"}),
        _patient("s-zhaoliu", "赵", "六", None, "1985-02-28", active=False,
                 text={"status": "generated", "div": NARRATIVE_ZHAOLIU}),
        {**_patient("s-jose", "Müller", "José", "female", "1990-12-31"),
         "name": [{"family": "Müller", "given": ["José"], "text": "José Müller"}]},
        _patient("s-xiaoming", "张", "小明", "male", "2015-06-01",
                 identifier=[{"system": ID_SYSTEM, "value": "110101201506010033"}],
                 link=[{"other": {"reference": "Patient/s-zhangsan"}, "type": "seealso"}]),
        _bp("s-bp1", "Patient/s-zhangsan", 150, 95, "2023-05-01T08:30:00+08:00",
            performer=[{"reference": "Practitioner/s-doc1"}],
            text={"status": "generated", "div": NARRATIVE_BP1}),
        _bp("s-bp2", "Patient/s-lisi", 120, 80, "2023-06-15"),
        {"resourceType": "Observation", "id": "s-glu1", "status": "preliminary",
         "subject": {"reference": "Patient/s-zhangsan"},
         "code": {"coding": [{"system": LOINC, "code": "2339-0", "display": "Glucose"}]},
         "valueQuantity": {"value": 6.1, "unit": "mmol/L", "system": UCUM, "code": "mmol/L"},
         "effectivePeriod": {"start": "2023-01-01", "end": "2023-01-31"}},
        {"resourceType": "Observation", "id": "s-wt1", "status": "amended",
         "subject": {"reference": "Patient/s-wangwu"},
         "code": {"coding": [{"system": LOINC, "code": "29463-7"}], "text": "体重"},
         "valueQuantity": {"value": 70.5, "unit": "kg", "system": UCUM, "code": "kg"},
         "text": {"status": "generated",
                  "div": '<div xmlns="http://www.w3.org/1999/xhtml">体重正常 Weight normal</div>'},
         "effectiveDateTime": "2022-12-31T23:30:00Z"},
        {"resourceType": "Observation", "id": "s-smoke", "status": "final",
         "subject": {"reference": "Patient/s-lisi"},
         "code": {"coding": [{"system": LOINC, "code": "72166-2"}]},
         "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "266919005", "display": "Never smoked"}]},
         "effectiveDateTime": "2021"},
        {"resourceType": "Encounter", "id": "s-enc1", "status": "finished",
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
         "subject": {"reference": "Patient/s-zhangsan"},
         "participant": [{"individual": {"reference": "Practitioner/s-doc1"}}],
         "period": {"start": "2023-05-01T08:00:00+08:00", "end": "2023-05-01T09:00:00+08:00"}},
        {"resourceType": "Provenance", "id": "s-prov1", "recorded": "2023-05-01T09:00:00Z",
         "target": [{"reference": "Observation/s-bp1"}],
         "agent": [{"who": {"reference": "Practitioner/s-doc1"}}]},
        {"resourceType": "ValueSet", "id": "s-vs1", "status": "active",
         "url": "http://jiayi.example.cn/fhir/ValueSet/contract-type"},
        # polyphonic surname 曾 (zeng, not ceng) and given name 乐 (le and yue both find her)
        {"resourceType": "Practitioner", "id": "s-doc3", "name": [{"family": "曾", "given": ["乐"]}]},
        {"resourceType": "RelatedPerson", "id": "s-rel1", "patient": {"reference": "Patient/s-xiaoming"},
         "name": [{"text": "单长春"}]},
    ]
    start = datetime(2024, 1, 1)
    for n, resource in enumerate(resources):
        resource["meta"] = {"versionId": "1", "lastUpdated": (start + timedelta(minutes=n)).isoformat() + "Z",
                            "tag": [DATASET_TAG]}
    return resources


def write(session, resource: dict) -> None:
    """Insert or replace the current row of ``resource`` and its index rows, in one transaction."""
    updated = datetime.fromisoformat(resource["meta"]["lastUpdated"].rstrip("Z"))
    row = session.get(ResourceRow, (resource["resourceType"], resource["id"]))
    if row is None:
        row = ResourceRow(res_type=resource["resourceType"], res_id=resource["id"], version=1)
        session.add(row)
    row.last_updated, row.deleted, row.content = updated, False, resource
    session.flush()  # what the repository does before indexing: the row is visible to later reads
    index_resource(session, resource["resourceType"], resource["id"], resource)


def delete(session, res_type: str, res_id: str) -> None:
    row = session.get(ResourceRow, (res_type, res_id))
    if row is not None:
        row.deleted, row.content = True, None
    index_resource(session, res_type, res_id, None)


def items_of(query: str, tagged: bool = True) -> list[tuple[str, str]]:
    items = parse_qsl(query, keep_blank_values=True)
    return items + [TAG_QUERY] if tagged else items


def run_search(engine, res_type: str, query: str, page: str | None = None, **parse_kw):
    """Run ``query`` on ``engine`` (a Database or a dict store); the page found."""
    request = parse_search(res_type, items_of(query), **parse_kw)
    if isinstance(engine, dict):
        return MemorySearch(lambda: engine).execute(request, page)
    with engine.session(write=True) as session:
        result = execute_search(session, request, page)
        session.expunge_all()
        return result
