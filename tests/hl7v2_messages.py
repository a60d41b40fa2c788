"""Synthetic Chinese HL7 v2 messages for the referral scenarios (names invented, 身份证号 made
valid by ``fhir_server.core.national_ids``).  ``write_samples()`` regenerates the fixed copies
in ``tests/data/hl7v2/``; tests that share a server build fresh ones with unique ids.

A community health centre's EHR (``CHCEHR``/``NINGHE-CHC``) refers a resident upward to
示范市第一人民医院, whose HIS (``CITYHIS``/``CITYHOSP``) answers with RRI^I12 messages.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fhir_server.core.national_ids import make_id, make_uscc

DATA = Path(__file__).resolve().parent / "data" / "hl7v2"
CHC_USCC = make_uscc("12330106MB1234567")
CITY_USCC = make_uscc("12330100MB7654321")
USCC_SID = "https://jiayi.dev/fhir/sid/uscc"
ID_CARD = "urn:oid:2.16.156.10011.1.3"


def seg(seg_id: str, fields: dict[int, str]) -> str:
    """A segment from {field number: ER7 text}."""
    top = max(fields)
    return "|".join([seg_id, *(fields.get(n, "") for n in range(1, top + 1))])


def resident_id(n: int = 7, sex: str = "female", born: dt.date = dt.date(1948, 11, 2)) -> str:
    return make_id("330106", born, n, sex)


def unique_id(unique: str, sex: str = "female") -> str:
    """A valid 身份证号 that no other test uses (birth date and sequence from ``unique``)."""
    born = dt.date(1940, 1, 1) + dt.timedelta(days=int(unique[:8], 16) % 25000)
    return make_id("330106", born, int(unique[8:12], 16) % 500, sex)


def _msh(kind: str, control: str, sender=("CHCEHR", "NINGHE-CHC"), receiver=("JIAYI", "JIAYI"),
         version: str = "2.5", charset: str = "UNICODE UTF-8", when: str = "20261201093000+0800") -> str:
    return (f"MSH|^~\\&|{sender[0]}|{sender[1]}|{receiver[0]}|{receiver[1]}|{when}||{kind}|{control}|P|{version}"
            f"||||||{charset}")


def _pid(id_number: str, record: str = "33010600100200345", name: str = "王^秀英", sex: str = "F",
         born: str = "19481102") -> str:
    return (f"PID|1||{id_number}^^^&2.16.156.10011.1.3&ISO^NNCHN~{record}^^^&2.16.156.10011.1.2&ISO^EHR||{name}||"
            f"{born}|{sex}|||文三路90号^2幢301室^杭州市^浙江省^310012^CN^H^^西湖区||"
            f"^PRN^CP^^^^13900001111|||M||||||01^汉族^GB3304")


def adt_a04(control: str = "CHC-A04-0001", id_number: str | None = None, charset: str = "UNICODE UTF-8",
            name: str = "王^秀英", visit: str = "V20261201001") -> str:
    id_number = id_number or resident_id()
    return "\r".join([
        _msh("ADT^A04^ADT_A01", control, charset=charset),
        "EVN|A04|20261201093000+0800",
        _pid(id_number, name=name),
        (f"PV1|1|O|全科诊室^01^^NINGHE-CHC||||D001^李^建国^^^主治医师||||||||||||{visit}^^^NINGHE-CHC^VN|"
        "||||||||||||||||||||||||20261201093000+0800"),
    ]) + "\r"


def adt_a08(control: str = "CHC-A08-0001", id_number: str | None = None, phone: str = "13900002222") -> str:
    id_number = id_number or resident_id()
    return "\r".join([
        _msh("ADT^A08^ADT_A01", control), "EVN|A08|20261202100000+0800",
        _pid(id_number).replace("13900001111", phone),
        "PV1|1|O",
    ]) + "\r"


def adt_a40(control: str = "CHC-A40-0001", survivor: str | None = None, old_record: str = "33010600100200999") -> str:
    survivor = survivor or resident_id()
    return "\r".join([
        _msh("ADT^A40^ADT_A39", control), "EVN|A40|20261203100000+0800",
        _pid(survivor), f"MRG|{old_record}^^^&2.16.156.10011.1.2&ISO^EHR",
    ]) + "\r"


def ref_i12(control: str = "CHC-REF-0001", referral: str = "R20261201001", id_number: str | None = None,
            priority: str = "A^ASAP^HL70280", version: str = "2.5") -> str:
    id_number = id_number or resident_id()
    return "\r".join([
        _msh("REF^I12^REF_I12", control, version=version),
        (f"RF1|P^Pending^HL70283|{priority}|upward^上转|||{referral}^CHCEHR|20261201|20261231||"
        "O^Provider Ordered^HL70336"),
        ("PRD|RP^Referring Provider^HL70286|李^建国^^^^主治医师||^^^NINGHE-CHC^^^^^宁和区社区卫生服务中心|"
        f"^WPN^PH^^^^0571-88880001||33010619800101001X^DC|||宁和区社区卫生服务中心^^^^^^USCC^^^{CHC_USCC}"),
        ("PRD|RT^Referred to Provider^HL70286|||^^^CITYHOSP^^^^^示范市第一人民医院心血管内科||||||"
        f"示范市第一人民医院^^^^^^USCC^^^{CITY_USCC}"),
        _pid(id_number),
        "DG1|1||I10^原发性高血压^I10|原发性高血压|20200315|F",
        "DG1|2||E11.9^2型糖尿病^I10|2型糖尿病|20210610|W",
        "OBR|1||BP20261201^NINGHE-CHC|55284-4^血压^LN|||20261201090000+0800",
        "OBX|1|NM|8480-6^收缩压^LN||182|mm[Hg]^mm[Hg]^UCUM|90-139|H|||F|||20261201090000+0800",
        "OBX|2|NM|8462-4^舒张压^LN||112|mm[Hg]^mm[Hg]^UCUM|60-89|H|||F|||20261201090000+0800",
        "NTE|1||连续两次随访血压控制不满意，调整用药后仍未达标",
        "PV1|1|O",
        "NTE|2||转上级医院心血管内科进一步诊治\\.br\\请优先安排专家号",
    ]) + "\r"


def rri_i12(control: str, referral: str = "R20261201001", status: str = "A^Accepted^HL70283",
            reason: str = "", return_referral: str = "", id_number: str | None = None,
            referral_namespace: str = "CHCEHR", note: str = "") -> str:
    id_number = id_number or resident_id()
    segments = [
        _msh("RRI^I12^RRI_I12", control, sender=("CITYHIS", "CITYHOSP")),
        f"MSA|AA|{control}",
        seg("RF1", {1: status, 6: f"{referral}^{referral_namespace}", 7: "20261208", 10: reason,
                    11: f"{return_referral}^CITYHIS" if return_referral else ""}),
    ]
    if return_referral:
        segments += [
            seg("PRD", {1: "RP^Referring Provider^HL70286", 2: "张^伟^^^^副主任医师", 7: "H0123^DC",
                        10: f"示范市第一人民医院^^^^^^USCC^^^{CITY_USCC}"}),
            seg("PRD", {1: "RT^Referred to Provider^HL70286", 10: f"宁和区社区卫生服务中心^^^^^^USCC^^^{CHC_USCC}"}),
        ]
    segments.append(_pid(id_number))
    if return_referral:
        segments.append("DG1|1||I10^原发性高血压^I10|原发性高血压||F")
    if note:
        segments.append(f"NTE|1||{note}")
    return "\r".join(segments) + "\r"


def oru_r01(control: str = "LIS-ORU-0001", id_number: str | None = None, order: str = "LAB20261201001") -> str:
    id_number = id_number or resident_id()
    return "\r".join([
        _msh("ORU^R01^ORU_R01", control, sender=("LIS", "NINGHE-CHC"), version="2.5.1"),
        _pid(id_number),
        (f"OBR|1|PL{order}^CHCEHR|{order}^LIS|24331-1^血脂全套^LN|||20261201080000+0800|||||||||||||||"
        "20261201110000+0800|||F"),
        "OBX|1|NM|2093-3^总胆固醇^LN||6.2|mmol/L^mmol/L^UCUM|<5.2|H|||F|||20261201080000+0800",
        "OBX|2|NM|2571-8^甘油三酯^LN||1.4|mmol/L^mmol/L^UCUM|0.45-1.7|N|||F",
        "OBX|3|NM|GLU^空腹血糖^L^1558-6^Fasting glucose^LN||7.8|mmol/L^^UCUM|3.9-6.1|H|||F",
        "NTE|1||空腹血糖偏高，建议复查",
        "OBX|4|ST|HBA1C-C^糖化血红蛋白结论^L||偏高|||A|||P",
        "OBX|5|NM|HBA1C^糖化血红蛋白^L||7.2|%^%^UCUM|4.0-6.0|H|||F",
    ]) + "\r"


def samples() -> dict[str, bytes]:
    """The fixed sample files (name → wire bytes)."""
    return {
        "cn-adt-a04.hl7": adt_a04().encode("utf-8"),
        "cn-adt-a04-gb18030.hl7": adt_a04("CHC-A04-0002", charset="GB 18030-2000").replace("\r", "\r\n")
        .encode("gb18030"),
        "cn-adt-a04-gbk-lf.hl7": adt_a04("CHC-A04-0003", charset="GBK", name="欧阳^娜").replace("\r", "\n")
        .encode("gbk"),
        "cn-adt-a08.hl7": adt_a08().encode("utf-8"),
        "cn-adt-a40.hl7": adt_a40().encode("utf-8"),
        "cn-ref-i12.hl7": ref_i12().encode("utf-8"),
        "cn-ref-i12-v23.hl7": ref_i12("CHC-REF-0002", "R20261201002", version="2.3").encode("utf-8"),
        "cn-rri-i12-accepted.hl7": rri_i12("CITY-RRI-0001").encode("utf-8"),
        "cn-rri-i12-rejected.hl7": rri_i12("CITY-RRI-0002", status="R^Rejected^HL70283",
                                           reason="^号源已满，建议改约其他时段").encode("utf-8"),
        "cn-rri-i12-return.hl7": rri_i12("CITY-RRI-0003", status="CM^已完成", return_referral="D20261208001",
                                         note="病情稳定，转回社区康复管理").encode("utf-8"),
        "cn-oru-r01.hl7": oru_r01().encode("utf-8"),
    }


def write_samples() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    for name, data in samples().items():
        (DATA / name).write_bytes(data)


if __name__ == "__main__":
    write_samples()
