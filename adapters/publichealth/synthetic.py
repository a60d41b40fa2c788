"""Synthetic, realistic records of every form (for tests, golden files and the benchmark).

Valid 身份证号 from fhir_server.core.national_ids (synthetic area codes 99xxxx), 17-digit
健康档案编号, valid 统一社会信用代码.  Deterministic from the seed; no real person.
"""

from __future__ import annotations

import datetime as dt
import random

from fhir_server.core.national_ids import make_id, make_uscc

FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("建国", "秀英", "桂兰", "志强", "丽华", "国庆", "海燕", "振华", "淑珍",
         "明", "敏", "静", "伟", "芳", "磊", "洋")
STREETS = ("和平路", "解放路", "人民路", "幸福里", "新华街")


def institution(index: int) -> tuple[str, str]:
    return make_uscc(f"12990100MB{index:06d}0"[:17]), f"示范区第{index + 1}社区卫生服务中心"


def hospital() -> tuple[str, str]:
    return make_uscc("12990100MB9000000"), "示范区人民医院"


def residents(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        sex = "1" if i % 2 == 0 else "2"
        born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 60))
        area = f"99{i // 500 % 99 + 1:02d}{seed % 99 + 1:02d}"
        idn = make_id(area, born, i % 500, "male" if sex == "1" else "female")
        code, name = institution(i // 3 % 3)
        head = i % 3 == 0
        rec = {"record_no": f"990101{i // 3 % 3 + 1:03d}001{i:05d}"[:17].ljust(17, "0"),
               "name": FAMILY[rng.randrange(len(FAMILY))] + GIVEN[rng.randrange(len(GIVEN))],
               "sex": sex, "birth_date": born.isoformat(), "id_number": idn,
               "phone": f"139{rng.randrange(10**8):08d}", "residence": rng.choice(["1", "1", "2"]),
               "ethnicity": rng.choice(["01", "01", "01", "03", "08"]), "marital": rng.choice(["1", "2", "2", "3"]),
               "address": f"示范区{STREETS[i % 5]}{i % 90 + 1}号", "education": str(rng.randrange(1, 11)),
               "occupation": str(rng.randrange(0, 9)), "payment": rng.choice([["2"], ["1", "5"], ["3"]]),
               "abo": str(rng.randrange(1, 6)), "rh": "2", "institution_code": code, "institution": name,
               "household_no": f"H{seed:02d}{i // 3:06d}", "relation": "02" if head else rng.choice(["1", "2", "3"])}
        keys = []
        if dt.date(2026, 1, 1).year - born.year >= 65:
            keys.append("elderly-65")
        if rng.random() < 0.4:
            keys.append("hypertension")
        if rng.random() < 0.2:
            keys.append("diabetes-t2")
        if keys:
            rec["key_population"] = keys
        _history(rec, keys, rng)
        out.append(rec)
    return out


def _history(rec: dict, keys: list[str], rng: random.Random) -> None:
    """The form's history sections: mostly 无, the resident's own chronic diseases, a few families'."""
    if rng.random() < 0.5:
        rec["work_unit"] = rng.choice(["示范区第一小学", "示范区供电公司", "示范区农机站", "个体经营"])
    rec["drug_allergy"] = ["2"] if rng.random() < 0.08 else ["1"]
    rec["exposure"] = ["1"]
    diseases = [code for key, code in (("hypertension", "2"), ("diabetes-t2", "3")) if key in keys]
    rec["past_disease"] = diseases or ["1"]
    if diseases:
        rec["diagnosed"] = "、".join(
            f"{'高血压' if c == '2' else '糖尿病'} {2005 + rng.randrange(15)}年{rng.randrange(1, 13)}月"
            for c in diseases)
    rec.update(surgery="无", trauma="无", transfusion="无")
    rec["family_father"] = ["2"] if rng.random() < 0.3 else ["1"]
    rec["family_mother"] = ["1"]
    rec["disability"] = ["1"]
    rec.update(kitchen=rng.choice(["2", "3"]), fuel=rng.choice(["1", "3"]), water="1", toilet=rng.choice(["1", "3"]),
               livestock="1")


def follow_ups(people: list[dict], per_person: int, record_type: str, seed: int = 2) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for p in people:
        for q in range(per_person):
            day = dt.date(2025, 1, 10) + dt.timedelta(days=91 * q + rng.randrange(20))
            sbp, dbp = 120 + rng.randrange(50), 70 + rng.randrange(30)
            rec = {"record_no": p["record_no"], "id_number": p["id_number"], "name": p["name"],
                   "visit_date": day.isoformat(), "method": rng.choice(["1", "1", "2", "3"]),
                   "sbp": sbp, "dbp": dbp, "weight": round(50 + rng.random() * 30, 1),
                   "heart_rate": 60 + rng.randrange(30),
                   "bmi": round(19 + rng.random() * 10, 1), "adherence": rng.choice(["1", "2", "3"]),
                   "adverse_reaction": "1", "classification": "1" if sbp < 140 and dbp < 90 else "2",
                   "next_visit": (day + dt.timedelta(days=90)).isoformat(), "doctor": "周明",
                   "doctor_card": "D990100001", "institution_code": p["institution_code"],
                   "institution": p["institution"], "salt": rng.choice(["1", "2", "3"]),
                   "symptoms": rng.choice([["1"], ["2", "6"], ["9"]])}
            if rec["classification"] == "2" and q % 2:
                rec.update(referral_reason="连续两次控制不满意", referral_to="示范区人民医院 心血管内科",
                           referral_result="1")
            if record_type == "diabetes-follow-up":
                rec["fasting_glucose"] = round(5 + rng.random() * 5, 1)
                rec["dorsalis_pedis"] = rng.choice(["1", "2"])
                rec["hypoglycaemia"] = "1"
                rec["classification"] = "1" if rec["fasting_glucose"] < 7 else "2"
            _medicines(rec, record_type, rng)
            out.append(rec)
    return out


DRUGS = {"hypertension-follow-up": (("氨氯地平片", "每日1次，每次5mg"), ("硝苯地平缓释片", "每日2次，每次10mg"),
                                    ("缬沙坦胶囊", "每日1次，每次80mg"), ("氢氯噻嗪片", "1日1次 12.5mg/次")),
         "diabetes-follow-up": (("二甲双胍片", "每日3次，每次0.5g"), ("格列美脲片", "每日1次，每次2mg"),
                                ("阿卡波糖片", "每日3次，每次50mg"))}
INSULIN = ("门冬胰岛素30注射液", "每日2次，每次12单位")


def _medicines(rec: dict, record_type: str, rng: random.Random) -> None:
    """用药情况 (one drug, sometimes two; insulin for some diabetics) and, for a visit not under
    control, 用药调整意见 (another drug)."""
    drugs = DRUGS[record_type]
    taken = rng.sample(range(len(drugs)), 2 if rng.random() < 0.25 else 1)
    for slot, index in enumerate(taken, start=1):
        rec[f"med_{slot}_name"], rec[f"med_{slot}_dosage"] = drugs[index]
    if record_type == "diabetes-follow-up" and rng.random() < 0.3:
        rec["insulin_kind"], rec["insulin_dosage"] = INSULIN
    if rec["classification"] == "2":
        rec["adj_1_name"], rec["adj_1_dosage"] = drugs[(taken[0] + 1) % len(drugs)]


def teams(n: int = 1) -> list[dict]:
    out = []
    for t in range(n):
        code, name = institution(t)
        members = (("D990100001", "周明", "1", "family-doctor", "1"), ("N990100002", "吴芳", "2", "nurse", "0"),
                   ("P990100003", "郑伟", "1", "public-health-physician", "0"))
        for card, person, sex, role, lead in members:
            out.append({"team_code": f"T{t + 1:03d}", "team_name": f"{name}周明团队", "team_type": "basic",
                        "capacity": 1500, "institution_code": code, "institution": name,
                        "member_card": f"{card[:-1]}{t}" if t else card, "member_name": person, "member_sex": sex,
                        "role": role, "lead": lead, "member_phone": "0551-62001234"})
    return out


def contracts(people: list[dict], team_code: str = "T001") -> list[dict]:
    """Every other household signs as a household (a row per member and package, the head first);
    the others sign one by one.  Fee columns are per person and add up to the package price."""
    households: dict[str, list[dict]] = {}
    for p in people:
        households.setdefault(p["household_no"], []).append(p)
    out: list[dict] = []
    for h, (number, members) in enumerate(households.items()):
        members = sorted(members, key=lambda m: m["relation"] != "02")
        groups = [members] if h % 2 == 0 and len(members) > 1 else [[m] for m in members]
        for group in groups:
            n = len(out)
            for p in group:
                base = {"contract_no": f"QY2026{n:06d}", "id_number": p["id_number"], "name": p["name"],
                        "signed": "2026-01-05", "start": "2026-01-06", "end": "2027-01-05", "status": "1",
                        "team_code": team_code, "doctor_card": "D990100001", "doctor": "周明",
                        "institution_code": p["institution_code"], "channel": "in-person", "auto_renew": "1"}
                if len(group) > 1:
                    base["household_no"] = number
                out.append({**base, "package": "pkg-basic", "insurance": 70, "public_health": 30, "finance": 20})
                if "hypertension" in p.get("key_population", []):
                    out.append({**base, "package": "pkg-hypertension", "insurance": 80, "finance": 20, "self_pay": 50})
    return out


def referrals(people: list[dict]) -> list[dict]:
    out = []
    to_code, to_name = hospital()
    for i, p in enumerate(people):
        up = {"referral_no": f"ZZ2026{i:05d}", "direction": "1", "id_number": p["id_number"],
              "record_no": p["record_no"], "name": p["name"], "date": "2026-03-02",
              "from_code": p["institution_code"], "from_name": p["institution"], "doctor_card": "D990100001",
              "doctor": "周明", "phone": "0551-62001234", "to_code": to_code, "to_name": to_name,
              "department": "心血管内科", "impression": "原发性高血压（控制不满意）",
              "history": "连续两次血压控制不满意，头晕一周", "past_history": "高血压病史10年",
              "treatment": "氨氯地平5mg qd"}
        out.append(up)
        if i % 2 == 0:
            out.append({"referral_no": f"HZ2026{i:05d}", "direction": "2", "id_number": p["id_number"],
                        "record_no": p["record_no"], "name": p["name"], "date": "2026-03-12",
                        "from_code": to_code, "from_name": to_name, "doctor": "孙强", "to_code": p["institution_code"],
                        "to_name": p["institution"], "impression": "高血压2级 很高危", "inpatient_no": f"ZY{i:06d}",
                        "results": "心电图：左室高电压", "treatment": "调整为缬沙坦80mg qd，社区继续随访",
                        "based_on": f"ZZ2026{i:05d}"})
    return out
