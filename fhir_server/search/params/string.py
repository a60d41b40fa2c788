"""String search (FHIR R4 §3.1.1.4.7): starts-with by default, ignoring case and accents;
``:exact`` (the whole value, case- and accent-sensitive) and ``:contains`` (anywhere).

HumanName and Address index each part and the whole: ``张三`` is found whether it was written
as ``text`` or as family ``张`` + given ``三`` (family and given run together for CJK names,
"given family" otherwise).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fhir_server.search.values import PREFIXES, ValueError_, like_escape, normalise, unescape
from fhir_server.storage.index_tables import StringIndex

TABLE = StringIndex.__table__
MODIFIERS = frozenset({"exact", "contains"})
NEGATING: frozenset[str] = frozenset()
SORT_COLUMNS = ("value", "value")
_LOOKS_LIKE_PREFIX = re.compile(rf"({'|'.join(PREFIXES)})[-+]?\d")
_NAME_PARTS = ("family", "given", "prefix", "suffix", "text")
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")


@dataclass(frozen=True, slots=True)
class StringValue:
    text: str  # normalised, or as written for :exact


def parse(raw: str, modifier: str | None) -> StringValue:
    if _LOOKS_LIKE_PREFIX.match(raw):
        raise ValueError_(f"prefixes such as '{raw[:2]}' do not apply to string parameters")
    value = unescape(raw)
    return StringValue(value if modifier == "exact" else normalise(value))


def index_rows(node: tuple[Any, str | None]) -> list[dict]:
    value, type_code = node
    if isinstance(value, str):
        texts = [value]
    elif isinstance(value, dict):
        texts = _name(value) if type_code == "HumanName" or "family" in value or "given" in value else (
            _parts(value, _ADDRESS_PARTS) if type_code == "Address" or "city" in value or "line" in value
            else [v for v in value.values() if isinstance(v, str)])
    else:
        return []
    unique = dict.fromkeys(t for t in texts if t)
    return [{"value": normalise(t), "exact": t} for t in unique]


def _parts(value: dict, names: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for name in names:
        item = value.get(name)
        out.extend(i for i in (item if isinstance(item, list) else [item]) if isinstance(i, str))
    return out


def _name(name: dict) -> list[str]:
    parts = _parts(name, _NAME_PARTS)
    family, given = name.get("family") or "", " ".join(g for g in name.get("given", ()) if isinstance(g, str))
    if family and given:
        parts.append(family + given if _is_cjk(family + given) else f"{given} {family}")
    return parts


def _is_cjk(text: str) -> bool:
    return any("\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def condition(t: Any, v: StringValue, modifier: str | None) -> Any:
    if modifier == "exact":
        return t.c.exact == v.text
    pattern = like_escape(v.text) + "%"
    return t.c.value.like("%" + pattern if modifier == "contains" else pattern, escape="\\")


def matches(row: dict, v: StringValue, modifier: str | None) -> bool:
    if modifier == "exact":
        return row["exact"] == v.text
    return v.text in row["value"] if modifier == "contains" else row["value"].startswith(v.text)
