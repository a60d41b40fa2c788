"""Resident search: by name (汉字), pinyin or initials, or by national ID number."""

from __future__ import annotations

import re
from urllib.parse import quote

from .common import ID_CARD, Source, human_name, mask_id

ID_NUMBER = re.compile(r"^\d{15}$|^\d{17}[\dXx]$")
LATIN = re.compile(r"^[A-Za-z ]+$")


def query_for(q: str) -> str:
    q = q.strip()
    if ID_NUMBER.match(q):
        return f"Patient?identifier={quote(ID_CARD + '|' + q.upper())}&_count=20"
    if LATIN.match(q):
        return f"Patient?name:pinyin={quote(q)}&_count=20"
    return f"Patient?name={quote(q)}&_count=20"


def residents(source: Source, q: str) -> list[dict]:
    rows = []
    for patient in source.search(query_for(q)):
        number = next((i.get("value", "") for i in patient.get("identifier") or [] if i.get("system") == ID_CARD), "")
        rows.append({"id": patient["id"], "name": human_name(patient), "birth": patient.get("birthDate", ""),
                     "gender": patient.get("gender", ""), "id_number": mask_id(number) if number else ""})
    return rows
