"""Generate mappings/publichealth/conceptmaps/*.json (FHIR R4 ConceptMaps) from code-lists.csv.

Every code list of the public-health forms whose rows name a ``map_system`` becomes one
ConceptMap ``https://jiayi.dev/fhir/ConceptMap/<list>`` (source = the form's code system,
target = the FHIR / Jiayi code system).  The adapter loads these JSON files to translate
codes; the server serves them for ``$translate``.  Run after editing code-lists.csv:

    python scripts/build_publichealth_conceptmaps.py
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "mappings" / "publichealth"
ABBREVIATIONS = {"CS/": "https://jiayi.dev/fhir/CodeSystem/", "SD/": "https://jiayi.dev/fhir/StructureDefinition/",
                 "SID/": "https://jiayi.dev/fhir/sid/"}
TITLES = {
    "phs-marital-status": "个人基本信息表 婚姻状况 (1–5) → HL7 v3 MaritalStatus",
    "phs-follow-up-method": "随访方式 (1 门诊 2 家庭 3 电话) → Jiayi follow-up-method",
    "phs-follow-up-classification": "此次随访分类 (1–4) → Jiayi follow-up-classification",
    "phs-dorsalis-pedis-2011": "足背动脉搏动: 第二版 (2011) 代码 → 第三版 (2017) 代码",
    "phs-contract-status": "签约状态 → FHIR contract-status",
    "phs-referral-type": "转诊类型 (1 转出 2 回转) → Jiayi referral-direction",
}


def expand(value: str) -> str:
    for short, full in ABBREVIATIONS.items():
        if value.startswith(short):
            return full + value[len(short):]
    return value


def build() -> dict[str, dict]:
    rows = defaultdict(list)
    with (ROOT / "code-lists.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["map_system"]:
                rows[row["list"]].append(row)
    maps = {}
    for name, items in rows.items():
        groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for row in items:
            target = {"code": row["map_code"], "display": row["map_display"], "equivalence": row["equivalence"]}
            groups[(expand(row["system"]), expand(row["map_system"]))].append(
                {"code": row["code"], "display": row["display"], "target": [target]})
        maps[name] = {
            "resourceType": "ConceptMap", "id": name, "url": f"https://jiayi.dev/fhir/ConceptMap/{name}",
            "version": "0.1.0", "name": name.replace("-", "_").upper(), "title": TITLES.get(name, name),
            "status": "active", "experimental": False, "publisher": "Jiayi",
            "description": f"Code translation used by the public-health records adapter (list {name}).",
            "sourceUri": expand(items[0]["system"]), "targetUri": expand(items[0]["map_system"]),
            "group": [{"source": s, "target": t, "element": e} for (s, t), e in groups.items()],
        }
    return maps


def main() -> None:
    out = ROOT / "conceptmaps"
    out.mkdir(exist_ok=True)
    for name, resource in build().items():
        (out / f"{name}.json").write_text(json.dumps(resource, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out / (name + '.json')}")


if __name__ == "__main__":
    main()
