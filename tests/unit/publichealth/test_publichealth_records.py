"""Public-health adapter without a server: readers, normalisation, schema, mapping both ways."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from adapters.publichealth import mapping, normalise, readers, synthetic, tables
from adapters.publichealth.importer import read_records
from fhir_server.core.national_ids import id_check_digit, make_id

DATA = Path(__file__).resolve().parents[2] / "data" / "publichealth"
ID18 = make_id("990101", dt.date(1956, 7, 9), 21, "male")
ID15 = ID18[:6] + ID18[8:17]


def _expected(record_type: str) -> list[dict]:
    return json.loads((DATA / f"{record_type}.expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("record_type", tables.RECORD_TYPES)
@pytest.mark.parametrize("variant", ["csv", "utf8.csv", "gb18030.csv", "xlsx", "json", "jsonl"])
def test_golden_files_read_to_the_expected_records(record_type, variant):
    good, errors, count = read_records(DATA / f"{record_type}.{variant}", record_type)
    assert errors == []
    assert count == len(_expected(record_type))
    assert [rec for _row, rec in good] == _expected(record_type)


def test_encoding_detection():
    text = "姓名,性别\n王建国,男\n"
    assert readers.decode(text.encode("gb18030")) == (text, "gb18030")
    assert readers.decode(b"\xef\xbb\xbf" + text.encode()) == (text, "utf-8-sig")
    assert readers.decode(text.encode()) == (text, "utf-8")


def _resident(**overrides) -> dict:
    base = {"档案编号": "99010100100100001", "姓名": "王建国", "性别": "1", "出生日期": "1956-07-09", "身份证号": ID18}
    base.update(overrides)
    return base


@pytest.mark.parametrize("typed", ["1956-07-09", "1956/07/09", "19560709", "1956年7月9日", "1956.7.9", "1956/7/9",
                                   "１９５６－０７－０９", "1956-07-09 00:00:00", dt.date(1956, 7, 9),
                                   dt.datetime(1956, 7, 9, 0, 0)])
def test_dates_in_every_form_people_type(typed):
    record, errors = normalise.normalise("resident", _resident(出生日期=typed))
    assert errors == [] and record["birth_date"] == "1956-07-09"


@pytest.mark.parametrize(("field", "typed", "key", "expected"), [
    ("身份证号", ID15, "id_number", ID18),  # 15-digit legacy number upgraded
    ("身份证号", ID18.translate(str.maketrans("0123456789", "０１２３４５６７８９")), "id_number", ID18),  # full-width
    ("身份证号", f"  {ID18}  ", "id_number", ID18),  # trailing spaces
    ("性别", "男", "sex", "1"), ("性别", "女", "sex", "2"), ("性别", "2", "sex", "2"), ("性别", "女性", "sex", "2"),
    ("性别", "１", "sex", "1"), ("性别", "9", "sex", "9"),
    ("民族", "汉族", "ethnicity", "01"), ("民族", "1", "ethnicity", "01"), ("民族", "回族", "ethnicity", "03"),
    ("婚姻状况", "已婚", "marital", "2"),
    ("重点人群", "老年人、高血压", "key_population", ["elderly-65", "hypertension"]),
    ("重点人群", "hypertension；diabetes-t2", "key_population", ["hypertension", "diabetes-t2"]),
    ("本人电话", "１３９ ００００ １１１１", "phone", "13900001111"),
    ("姓名", "王建国\u3000 ", "name", "王建国"),
    ("档案编号", "９９０１０１００１００１０００01", "record_no", "99010100100100001"),
])
def test_messy_values_one_by_one(field, typed, key, expected):
    record, errors = normalise.normalise("resident", _resident(**{field: typed}))
    assert errors == []
    assert record[key] == expected


@pytest.mark.parametrize("blank", ["", "   ", None, "\u3000"])
def test_blank_cells_are_absent(blank):
    record, errors = normalise.normalise("resident", _resident(本人电话=blank, 民族=blank))
    assert errors == [] and "phone" not in record and "ethnicity" not in record


@pytest.mark.parametrize(("field", "typed", "reason"), [
    ("身份证号", ID18[:17] + ("0" if ID18[17] != "0" else "1"), "check character"),
    ("身份证号", "12345", ("身份证号 must be an 18-character 身份证号 (17 digits and a check character 0-9 or X) "
                        "or an old 15-digit one; got 5 digits")),
    ("出生日期", "1956-02-30", "no such day"),
    ("出生日期", "去年", ("出生日期 must be a date such as 2016-12-14, 2016/12/14, 20161214 or 2016年12月14日; "
                      "got '去年'")),
    ("性别", "男女", "性别 must be one of 0 未知的性别; 1 男性; 2 女性; 9 未说明的性别; got '男女'"),
    ("档案编号", "330106001002003", ("档案编号 must be 17 digits (6-digit county code, 3 township, 3 village, "
                                  "5 serial); got 15 digits")),
    ("姓名", "", "姓名 is required (the column is missing or the cell is empty)"),
])
def test_bad_values_are_reported_with_field_and_reason(field, typed, reason):
    _record, errors = normalise.normalise("resident", _resident(**{field: typed}))
    assert errors, f"{field}={typed!r} should be refused"
    assert any(reason in e.reason for e in errors), [e.reason for e in errors]
    assert all(e.field for e in errors)
    assert not any("^" in e.reason or "\\d" in e.reason for e in errors)  # words, not a regular expression


def test_second_edition_code_translated_keeping_the_original():
    raw = {"档案编号": "99010100100100001", "随访日期": "2025-03-01", "随访方式": "门诊", "空腹血糖": "6.1",
           "此次随访分类": "1", "随访医生": "周明", "足背动脉搏动": "2", "表单版本": "2011"}
    record, errors = normalise.normalise("diabetes-follow-up", raw)
    assert errors == []
    assert record["dorsalis_pedis"] == "1" and record["_original"] == {"dorsalis_pedis": "2"}  # 2011 触及 → 1 触及正常
    unit = mapping.follow_up("diabetes-follow-up", [2], [record])
    obs = next(e.resource for e in unit.entries[1:]
               if e.resource["code"]["coding"][0]["code"] == "dorsalis-pedis-pulse")
    systems = {c["system"]: c["code"] for c in obs["valueCodeableConcept"]["coding"]}
    assert systems[tables.CS + "phs-dorsalis-pedis"] == "1"
    assert systems[tables.CS + "phs-dorsalis-pedis-2011"] == "2"
    back = mapping.read_follow_up("diabetes-follow-up", unit.entries[0].resource,
                                  [e.resource for e in unit.entries[1:]], lambda ref: None)
    assert back["dorsalis_pedis"] == "2" and back["edition"] == "2011"


def test_schema_is_derived_from_the_table_and_checks_every_record():
    schema = tables.schema("hypertension-follow-up")
    assert schema["properties"]["sbp"]["type"] == "integer"
    assert schema["properties"]["classification"]["enum"] == ["1", "2", "3", "4"]
    _rec, errors = normalise.normalise("hypertension-follow-up",
                                       {"档案编号": "99010100100100001", "随访日期": "2025-01-01"})
    assert {e.reason.split(" (")[0] for e in errors} >= {"随访方式 is required", "收缩压 is required"}


def test_follow_up_maps_to_loinc_observations_and_classification():
    record, errors = normalise.normalise("hypertension-follow-up", {
        "身份证号": ID18, "随访日期": "2025/3/1", "随访方式": "电话", "收缩压": "１５２", "舒张压": "96 mmHg",
        "体重": "70.5", "心率": "78", "体质指数": "25.1", "此次随访分类": "控制不满意", "随访医生": "周明 "})
    assert errors == []
    unit = mapping.follow_up("hypertension-follow-up", [2], [record])
    enc = unit.entries[0].resource
    assert enc["type"][0]["coding"][1] == {"system": tables.CS + "follow-up-method", "code": "phone", "display": "电话"}
    by_code = {e.resource["code"]["coding"][0]["code"]: e.resource for e in unit.entries[1:]}
    bp = by_code["85354-9"]
    assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]["value"]) for c in bp["component"]] == \
        [("8480-6", 152), ("8462-4", 96)]
    assert by_code["29463-7"]["valueQuantity"] == {"value": 70.5, "unit": "kg", "system": "http://unitsofmeasure.org",
                                                   "code": "kg"}
    assert {"8867-4", "39156-5", "follow-up-classification"} <= set(by_code)
    cls = by_code["follow-up-classification"]["valueCodeableConcept"]["coding"]
    assert {"system": tables.CS + "follow-up-classification", "code": "unsatisfactory", "display": "控制不满意"} in cls
    assert bp["subject"]["reference"] == f"Patient?identifier={mapping.ID_CARD}|{ID18}"


def test_the_mapping_table_drives_the_mapping(monkeypatch):
    """A row changed in the table changes the FHIR written (the table is not a copy of the code)."""
    f = tables.form("resident")
    moved = tables.Field("phone", "本人电话", "phone", False, None, "path telecom[system=sms].value", "")
    fields = tuple(moved if x.key == "phone" else x for x in f.fields)
    monkeypatch.setattr(tables, "form", lambda t: tables.Form(t, f.title, fields) if t == "resident" else f)
    res: dict = {}
    mapping.apply_fields("resident", {"phone": "13900001111"}, res)
    assert res == {"telecom": [{"system": "sms", "value": "13900001111"}]}


def test_conceptmaps_are_valid_r4_and_cover_the_form_codes():
    from fhir.resources.R4B.conceptmap import ConceptMap

    for path in (tables.MAPPINGS / "conceptmaps").glob("*.json"):
        resource = json.loads(path.read_text(encoding="utf-8"))
        ConceptMap.model_validate(resource)
        assert resource["url"] == f"https://jiayi.dev/fhir/ConceptMap/{resource['id']}"
    assert tables.translate(tables.CS + "gb2261-1", "2")["code"] == "female"


# --- round trip (record → FHIR → record), property-based -----------------------------------

_ids = st.builds(lambda area, days, seq, male: make_id(area, dt.date(1930, 1, 1) + dt.timedelta(days=days), seq,
                                                       "male" if male else "female"),
                 st.sampled_from(["990101", "990202", "990303"]), st.integers(0, 30000), st.integers(0, 499),
                 st.booleans())
_text = st.text(alphabet="王李张建国秀英明华路号村组（）、，", min_size=1, max_size=12).map(str.strip).filter(bool)
_date = st.dates(dt.date(1930, 1, 1), dt.date(2030, 12, 31)).map(dt.date.isoformat)


def _codes(name: str):
    return st.sampled_from(sorted(tables.code_lists()[name].codes))


residents = st.fixed_dictionaries(
    {"record_no": st.from_regex(r"\A99[0-9]{15}\Z"), "name": _text, "sex": st.sampled_from(["0", "1", "2", "9"]),
     "birth_date": _date, "id_number": _ids},
    optional={"phone": st.from_regex(r"\A1[3-9][0-9]{9}\Z"), "residence": _codes("household-registration"),
              "ethnicity": _codes("gb3304"), "marital": _codes("phs-marital-status"), "address": _text,
              "key_population": st.lists(_codes("key-population"), min_size=1, max_size=3, unique=True),
              "contact_name": _text, "contact_phone": st.from_regex(r"\A1[3-9][0-9]{9}\Z"),
              "education": _codes("phs-education"), "occupation": _codes("phs-occupation"),
              "payment": st.lists(_codes("phs-payment-method"), min_size=1, max_size=3, unique=True),
              "abo": _codes("abo-blood-group"), "rh": _codes("rh-blood-group"),
              **{key: st.lists(_codes(codes), min_size=1, max_size=3, unique=True) for key, codes in (
                  ("drug_allergy", "phs-drug-allergy"), ("exposure", "phs-exposure"),
                  ("past_disease", "phs-past-disease"), ("family_father", "phs-family-disease"),
                  ("family_children", "phs-family-disease"), ("disability", "phs-disability"))},
              **{key: _text for key in ("drug_allergy_other", "diagnosed", "surgery", "transfusion", "hereditary",
                                        "work_unit")},
              **{key: _codes(codes) for key, codes in (("kitchen", "phs-kitchen-exhaust"), ("fuel", "phs-fuel"),
                                                        ("water", "phs-drinking-water"),
                                                        ("livestock", "phs-livestock"))}})


@settings(max_examples=60, deadline=None)
@given(residents)
def test_resident_round_trip(record):
    assert normalise.normalise("resident", record)[1] == []
    unit = mapping.resident([2], [record])
    history = [e.resource for e in unit.entries[1:]]
    assert mapping.read_resident(unit.entries[0].resource, None, None, history) == record


def test_the_resident_forms_history_sections_become_panels_of_the_resident():
    record, errors = normalise.normalise("resident", {
        "姓名": "王建国", "性别": "男", "出生日期": "1956-07-09", "身份证号": ID18, "档案编号": "99010100100100001",
        "药物过敏史": "青霉素、磺胺", "既往史疾病": "高血压、糖尿病",
        "确诊时间": "高血压 2010年5月", "家族史父亲": "脑卒中", "家族史母亲": "无", "残疾情况": "无残疾",
        "厨房排风设施": "油烟机", "饮水": "1", "厕所": "卫生厕所"})
    assert errors == []
    unit = mapping.resident([2], [record])
    patient = unit.entries[0]
    panels = {e.resource["code"]["coding"][0]["code"]: e.resource for e in unit.entries[1:]}
    assert set(panels) == {"allergy-history", "past-history", "family-history", "disability", "living-environment"}
    past = panels["past-history"]
    assert past["subject"] == {"reference": patient.full_url} and "encounter" not in past
    assert past["code"]["text"] == "既往史" and past["category"][0]["coding"][0]["code"] == "social-history"
    assert [(c["code"]["coding"][0]["code"], c.get("valueString") or c["valueCodeableConcept"]["text"])
            for c in past["component"]] == [("past-disease", "高血压"), ("past-disease", "糖尿病"),
                                            ("diagnosis-dates", "高血压 2010年5月")]
    family = [(c["code"]["coding"][0]["code"], c["valueCodeableConcept"]["text"])
              for c in panels["family-history"]["component"]]
    assert family == [("family-father", "脑卒中"), ("family-mother", "无")]
    environment = {c["code"]["coding"][0]["code"]: c["valueCodeableConcept"]["coding"][0]["code"]
                   for c in panels["living-environment"]["component"]}
    assert environment == {"kitchen-exhaust": "2", "drinking-water": "1", "toilet": "1"}


follow_up_records = st.fixed_dictionaries(
    {"record_no": st.from_regex(r"\A99[0-9]{15}\Z"), "id_number": _ids, "visit_date": _date,
     "method": _codes("phs-follow-up-method"), "fasting_glucose": st.floats(2, 30).map(lambda x: round(x, 1)),
     "classification": _codes("phs-follow-up-classification"), "doctor": _text},
    optional={"sbp": st.integers(60, 250), "weight": st.floats(30, 150).map(lambda x: round(x, 1)),
              "heart_rate": st.integers(30, 200), "bmi": st.floats(12, 45).map(lambda x: round(x, 1)),
              "adherence": _codes("phs-adherence"), "hypoglycaemia": _codes("phs-hypoglycaemia"),
              "dorsalis_pedis": _codes("phs-dorsalis-pedis"), "next_visit": _date, "staple_food": st.integers(50, 800),
              "salt": _codes("phs-salt"), "hba1c": st.floats(4, 15).map(lambda x: round(x, 1)),
              "visit_no": st.from_regex(r"\AV[0-9]{6}\Z"),
              "symptoms": st.lists(_codes("phs-dm-symptom"), min_size=1, max_size=3, unique=True),
              "referral_reason": _text, "referral_result": _codes("phs-referral-result"), "remark": _text,
              "med_1_name": _text, "med_2_name": _text, "insulin_kind": _text, "adj_1_name": _text,
              "adj_insulin_kind": _text})
_dose = st.sampled_from(["每日1次，每次5mg", "2次/日，10mg/次", "bid 1片", "遵医嘱", "每天三次每次0.5g"])


@settings(max_examples=60, deadline=None)
@given(follow_up_records, st.integers(60, 140), _dose, _dose)
def test_diabetes_follow_up_round_trip(record, dbp, dose, insulin_dose):
    if "sbp" in record:
        record["dbp"] = dbp
    if "med_1_name" in record:
        record["med_1_dosage"] = dose
    if "adj_insulin_kind" in record:
        record["adj_insulin_dosage"] = insulin_dose
    assert normalise.normalise("diabetes-follow-up", record)[1] == []
    unit = mapping.follow_up("diabetes-follow-up", [2], [record])
    patient = {"resourceType": "Patient",
               "identifier": [{"system": mapping.ID_CARD, "value": record["id_number"]},
                              {"system": mapping.HEALTH_RECORD, "value": record["record_no"]}]}
    resources = [e.resource for e in unit.entries[1:]]
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    medicines = [r for r in resources if r["resourceType"] != "Observation"]
    back = mapping.read_follow_up("diabetes-follow-up", unit.entries[0].resource, observations,
                                  lambda ref: patient if ref else None, medicines)
    assert back == record


def test_follow_up_medicines_become_statements_and_an_adjustment_a_plan():
    record, errors = normalise.normalise("diabetes-follow-up", {
        "身份证号": ID18, "随访日期": "2025-03-01", "随访方式": "1", "空腹血糖": "8.2", "此次随访分类": "2",
        "随访医生": "周明", "随访医生编号": "D990100001", "药物名称1": "二甲双胍片", "用法用量1": "每日３次，每次0.5g",
        "胰岛素种类": "门冬胰岛素30注射液", "胰岛素用法和用量": "2次/日，12单位/次",
        "调整药物名称1": "格列美脲片", "调整用法用量1": "qd 2mg/次"})
    assert errors == []
    unit = mapping.follow_up("diabetes-follow-up", [2], [record])
    by_type: dict[str, list[dict]] = {}
    for entry in unit.entries:
        by_type.setdefault(entry.resource["resourceType"], []).append(entry.resource)
    metformin, insulin = by_type["MedicationStatement"]
    assert metformin["medicationCodeableConcept"] == {"text": "二甲双胍片"}
    assert metformin["context"] == {"reference": unit.entries[0].full_url}
    assert metformin["dosage"][0] == {
        "text": "每日３次，每次0.5g", "timing": {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}},
        "doseAndRate": [{"doseQuantity": {"value": 0.5, "unit": "g", "system": "http://unitsofmeasure.org",
                                          "code": "g"}}]}
    assert insulin["dosage"][0]["doseAndRate"][0]["doseQuantity"]["code"] == "[iU]"
    (plan,) = by_type["MedicationRequest"]
    assert (plan["intent"], plan["medicationCodeableConcept"]["text"]) == ("plan", "格列美脲片")
    assert plan["requester"]["reference"].startswith("urn:uuid:")  # the visit's doctor
    assert plan["dosageInstruction"][0]["timing"]["repeat"]["frequency"] == 1


def test_a_dose_without_its_drug_is_reported_on_the_dose_column():
    _rec, errors = normalise.normalise("hypertension-follow-up", {
        "身份证号": ID18, "随访日期": "2025-03-01", "随访方式": "1", "收缩压": "130", "舒张压": "80",
        "此次随访分类": "1", "随访医生": "周明", "调整用法用量2": "每日1次，每次5mg"})
    assert [(e.field, e.reason) for e in errors] == [("调整用法用量2", "调整用法用量2 is given without 调整药物名称2")]


def test_synthetic_ids_are_valid():
    for person in synthetic.residents(20):
        assert person["id_number"][17] == id_check_digit(person["id_number"][:17])


class _FakeServer:
    """A transaction endpoint that refuses any bundle holding a marked resident, like a domain rule."""

    def __init__(self, bad_ids: set[str], name_entry: bool) -> None:
        self.bad_ids, self.name_entry, self.calls = bad_ids, name_entry, 0

    def pages(self, res_type, params, post=True):
        return iter(())

    def post_bundle(self, bundle, prefer=None):
        self.calls += 1
        entries = bundle["entry"]
        for i, e in enumerate(entries):
            ident = [x["value"] for x in e["resource"].get("identifier", [])]
            if self.bad_ids & set(ident):
                where = f"Bundle.entry[{i}]: " if self.name_entry else ""
                return 422, {"resourceType": "OperationOutcome", "issue": [
                    {"severity": "error", "code": "business-rule", "diagnostics": where + "rule broken"}]}
        return 200, {"resourceType": "Bundle", "entry": [{"response": {"status": "201 Created"}} for _ in entries]}


@pytest.mark.parametrize("name_entry", [True, False], ids=["entry-named", "bisect"])
def test_a_refused_row_does_not_sink_the_good_ones(tmp_path, name_entry):
    from adapters.publichealth import import_file

    people = synthetic.residents(10, seed=9)
    for p in people:
        p.pop("household_no")
    path = tmp_path / "r.csv"
    from adapters.publichealth import writers

    writers.write(path, "resident", people, "csv")
    fake = _FakeServer({people[3]["id_number"], people[7]["id_number"]}, name_entry)
    result = import_file(path, "resident", "http://fake", batch_size=10, client=fake)
    assert (result.created, result.rejected) == (8, 2)
    assert sorted(e.row for e in result.errors) == [5, 9]
    assert all("rule broken" in e.reason for e in result.errors)
    report = (tmp_path / "r.csv.errors.csv").read_text(encoding="utf-8-sig").splitlines()
    assert report[0] == "file,row,field,value,reason" and len(report) == 3


# --- round trip of the forms that refer to other resources: a fake server resolves references ---

def _resolver(unit: mapping.Unit, names: dict[str, str]):
    """Reference → resource as the server would hold it: the unit's own support resources by
    fullUrl, and anything named by a conditional reference ``Type?identifier=system|value``."""
    local = {e.full_url: e.resource for e in [*unit.support.values(), *unit.entries]}

    def resolve(ref: str | None):
        if not ref:
            return None
        if ref in local:
            return local[ref]
        if "?identifier=" in ref:
            res_type, value = ref.split("?identifier=", 1)
            system, _, code = value.rpartition("|")
            res = {"resourceType": res_type, "identifier": [{"system": system, "value": code}]}
            if code in names:
                res["name"] = [{"text": names[code]}]
            return res
        return None
    return resolve


_doctor = st.from_regex(r"\AD[0-9]{6}\Z")
_uscc = st.sampled_from([synthetic.institution(i)[0] for i in range(3)])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(_ids, _text), min_size=1, max_size=3, unique_by=lambda x: x[0]),
       st.lists(st.sampled_from(["pkg-basic", "pkg-hypertension", "pkg-diabetes"]), min_size=1, max_size=3,
                unique=True),
       st.fixed_dictionaries({"contract_no": st.from_regex(r"\AQY[0-9]{8}\Z"), "signed": _date, "start": _date,
                              "end": _date, "status": _codes("phs-contract-status"),
                              "team_code": st.from_regex(r"\AT[0-9]{3}\Z"), "institution_code": _uscc},
                             optional={"doctor_card": _doctor, "channel": _codes("signing-channel"),
                                       "auto_renew": _codes("yes-no"),
                                       "household_no": st.from_regex(r"\AH[0-9]{6}\Z")}),
       st.integers(0, 200), st.integers(0, 200))
def test_contract_round_trip(people, packages, base, insurance, self_pay):
    if "doctor_card" in base:
        base["doctor"] = "周明"
    base.setdefault("auto_renew", "1")
    rows = [{**base, "id_number": idn, "name": name, "package": pkg, "insurance": insurance, "self_pay": self_pay}
            for idn, name in people for pkg in packages]
    for row in rows:
        assert normalise.normalise("contract", row)[1] == []
    unit = mapping.contract(list(range(len(rows))), rows)
    names = {idn: name for idn, name in people} | ({base["doctor_card"]: "周明"} if "doctor_card" in base else {})
    names |= {base["team_code"]: "", base.get("household_no", "-"): ""}
    back = mapping.read_contract(unit.entries[0].resource, _resolver(unit, names))
    assert sorted(map(repr, map(sorted, (r.items() for r in back)))) == \
        sorted(map(repr, map(sorted, (r.items() for r in rows))))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(_doctor, _text, _codes("team-role"), _codes("gb2261-1")), min_size=1, max_size=4,
                unique_by=lambda x: x[0]),
       st.fixed_dictionaries({"team_code": st.from_regex(r"\AT[0-9]{3}\Z"), "team_name": _text,
                              "institution_code": _uscc, "institution": _text},
                             optional={"team_type": _codes("team-type"), "capacity": st.integers(1, 5000)}))
def test_team_round_trip(members, base):
    rows = [{**base, "member_card": card, "member_name": name, "role": role, "member_sex": sex,
             "lead": "1" if i == 0 else "0"} for i, (card, name, role, sex) in enumerate(members)]
    for row in rows:
        assert normalise.normalise("team", row)[1] == []
    unit = mapping.team(list(range(len(rows))), rows)
    back = mapping.read_team(unit.entries[0].resource, _resolver(unit, {}))
    if "capacity" not in base:
        back = [{k: v for k, v in r.items() if k != "capacity"} for r in back]
    assert back == rows


_referral_text = (st.text(alphabet="高血压头晕一周氨氯地平心电图左室（），。", min_size=1, max_size=20)
                  .map(str.strip).filter(bool))


@settings(max_examples=40, deadline=None)
@given(st.fixed_dictionaries(
    {"referral_no": st.from_regex(r"\AZZ[0-9]{6}\Z"), "direction": _codes("phs-referral-type"), "id_number": _ids,
     "record_no": st.from_regex(r"\A99[0-9]{15}\Z"), "name": _text, "date": _date, "from_code": _uscc,
     "from_name": _text, "doctor": _text, "to_code": _uscc, "to_name": _text},
    optional={"doctor_card": _doctor, "phone": st.from_regex(r"\A0551-[0-9]{8}\Z"), "department": _text,
              "impression": _referral_text, "history": _referral_text, "past_history": _referral_text,
              "treatment": _referral_text, "inpatient_no": st.from_regex(r"\AZY[0-9]{6}\Z"),
              "results": _referral_text, "based_on": st.from_regex(r"\AZZ[0-9]{6}\Z")}))
def test_referral_round_trip(record):
    assume(record["from_code"] != record["to_code"])  # one institution has one name
    assert normalise.normalise("referral", record)[1] == []
    unit = mapping.referral([2], [record])
    resolve = _resolver(unit, {})
    patient = {"resourceType": "Patient",
               "identifier": [{"system": mapping.ID_CARD, "value": record["id_number"]},
                              {"system": mapping.HEALTH_RECORD, "value": record["record_no"]}],
               "name": [{"text": record["name"]}]}

    def with_patient(ref):
        return patient if ref and ref.startswith("Patient?") else resolve(ref)
    assert mapping.read_referral(unit.entries[0].resource, with_patient) == record


@settings(max_examples=40, deadline=None)
@given(follow_up_records, st.integers(60, 140), st.integers(60, 250))
def test_hypertension_follow_up_round_trip(record, dbp, sbp):
    record = {k: v for k, v in record.items() if k not in ("fasting_glucose", "hba1c", "hypoglycaemia",
                                                           "dorsalis_pedis", "staple_food", "symptoms",
                                                           "insulin_kind", "adj_insulin_kind")}
    record.update(sbp=sbp, dbp=dbp)
    assert normalise.normalise("hypertension-follow-up", record)[1] == []
    unit = mapping.follow_up("hypertension-follow-up", [2], [record])
    patient = {"resourceType": "Patient",
               "identifier": [{"system": mapping.ID_CARD, "value": record["id_number"]},
                              {"system": mapping.HEALTH_RECORD, "value": record["record_no"]}]}
    resources = [e.resource for e in unit.entries[1:]]
    back = mapping.read_follow_up("hypertension-follow-up", unit.entries[0].resource,
                                  [r for r in resources if r["resourceType"] == "Observation"],
                                  lambda ref: patient if ref else None,
                                  [r for r in resources if r["resourceType"] != "Observation"])
    assert back == record


def test_a_measurement_keeps_the_precision_the_clinic_wrote():
    """体重 70.50 goes out as 70.50 (R4: a decimal's precision is part of its value), not 70.5."""
    from fhir_server.core import jsonio

    record, errors = normalise.normalise("hypertension-follow-up", {
        "身份证号": ID18, "随访日期": "2025-03-01", "随访方式": "电话", "收缩压": "152", "舒张压": "96",
        "体重": "70.50", "此次随访分类": "1", "随访医生": "周明"})
    assert errors == []
    unit = mapping.follow_up("hypertension-follow-up", [2], [record])
    weight = next(e.resource for e in unit.entries[1:] if e.resource["code"]["coding"][0]["code"] == "29463-7")
    assert b'"value":70.50' in jsonio.dumps(weight["valueQuantity"])
