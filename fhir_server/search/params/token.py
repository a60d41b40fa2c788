"""Token search (FHIR R4 §3.1.1.4.10): ``[system]|[code]``, ``|code``, ``system|``, ``code``;
``:not``, ``:text`` (display / CodeableConcept.text, starts-with, normalised) and ``:of-type``
(Identifier.type + value).  Codes match case-sensitively, as most code systems define them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_

from fhir_server.search.values import ValueError_, like_escape, normalise, split_escaped, unescape
from fhir_server.storage.index_tables import SHORT, TokenIndex

TABLE = TokenIndex.__table__
MODIFIERS = frozenset({"not", "text", "of-type"})
TERMINOLOGY_MODIFIERS = frozenset({"in", "not-in", "above", "below"})  # expanded to codes by the terminology
NEGATING = frozenset({"not"})
CONTACT_SYSTEMS = frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"})


@dataclass(frozen=True, slots=True)
class TokenValue:
    system: str | None = None  # None: any system; "": no system
    code: str | None = None  # None: any code
    text: str | None = None  # for :text
    type_system: str | None = None  # for :of-type
    type_code: str | None = None
    codes: tuple[str, ...] | None = None  # any of these codes in ``system`` (terminology modifiers)


def parse(raw: str, modifier: str | None) -> TokenValue:
    if modifier == "text":
        return TokenValue(text=normalise(unescape(raw)))
    parts = [unescape(p) for p in split_escaped(raw, "|")]
    if modifier == "of-type":
        if len(parts) != 3 or not all(parts):
            raise ValueError_("':of-type' needs type-system|type-code|value")
        return TokenValue(code=parts[2], type_system=parts[0], type_code=parts[1])
    if len(parts) == 1:
        return TokenValue(code=parts[0])
    if len(parts) != 2:
        raise ValueError_(f"'{raw}' has more than one unescaped '|'")
    return TokenValue(system=parts[0], code=parts[1] or None)


def with_aliases(values: tuple[TokenValue, ...], aliases: dict[str, tuple[str, ...]]) -> tuple[TokenValue, ...]:
    """``system|code`` also under the system's aliases (NamingSystem uniqueIds, SPEC Appendix A)."""
    out: list[TokenValue] = []
    for v in values:
        systems = aliases.get(v.system or "") if v.codes is None and v.text is None else None
        out += [TokenValue(s, v.code, v.text, v.type_system, v.type_code) for s in systems] if systems else [v]
    return tuple(out)


def terminology_values(modifier: str, alternatives: list[str], terminology: Any) -> tuple[TokenValue, ...]:
    """``:in`` / ``:not-in`` (a ValueSet URL) and ``:below`` / ``:above`` (``system|code``) as code sets.

    The value set or the code system's hierarchy is expanded here, before any query runs, so
    the query is the ordinary index lookup ``system = ? AND code IN (...)``.
    """
    if terminology is None:
        from fhir_server.terminology.service import Terminology

        terminology = Terminology()
    by_system: dict[str, set[str]] = {}
    for raw in alternatives:
        for system, codes in _expanded(modifier, unescape(raw), terminology).items():
            by_system.setdefault(system, set()).update(codes)
    if not by_system:
        return (TokenValue(system="", codes=()),)  # matches nothing
    return tuple(TokenValue(system=s, codes=tuple(sorted(c))) for s, c in sorted(by_system.items()))


def _expanded(modifier: str, raw: str, terminology: Any) -> dict[str, set[str]]:
    from fhir_server.core.errors import FHIRError

    if modifier in ("in", "not-in"):
        try:
            return terminology.codes(raw)
        except FHIRError as exc:
            raise ValueError_(exc.issues[0].diagnostics if exc.issues else f"ValueSet {raw} is not known") from None
    parts = [unescape(p) for p in split_escaped(raw, "|")]
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise ValueError_(f"':{modifier}' needs system|code, got '{raw}'")
    system, code = parts
    index = terminology.code_system(system)
    if index is None:
        raise ValueError_(f"The hierarchy of code system {system} is not known to this server")
    codes = index.descendants(code) if modifier == "below" else index.ancestors(code)
    return {system: set(codes)}


def index_rows(node: tuple[Any, str | None]) -> list[dict]:
    value, type_code = node
    if isinstance(value, bool):
        return [_row(None, "true" if value else "false")]
    if isinstance(value, (str, int, float)):
        return [_row(None, str(value))]
    if not isinstance(value, dict):
        return []
    if type_code == "CodeableConcept" or "coding" in value or (type_code is None and set(value) == {"text"}):
        return _concept(value)
    if type_code in ("Identifier", "ContactPoint") or (type_code is None and "value" in value and "code" not in value):
        return _identifier(value, type_code)
    if "code" in value or "system" in value:
        return [_row(value.get("system"), value.get("code"), value.get("display"))]
    return []


def _concept(concept: dict) -> list[dict]:
    text = concept.get("text")
    rows = [_row(c.get("system"), c.get("code"), text or c.get("display"))
            for c in concept.get("coding", ()) if isinstance(c, dict)]
    if text and not rows:
        rows.append(_row(None, None, text))
    elif text:  # the display of each coding is also searchable with :text
        rows += [_row(None, None, c["display"]) for c in concept.get("coding", ()) if c.get("display")]
    return [r for r in rows if r["code"] or r["text"]]


def _identifier(ident: dict, type_code: str | None) -> list[dict]:
    code = ident.get("value")
    if code is None:
        return []
    if type_code == "ContactPoint" or ident.get("system") in CONTACT_SYSTEMS:
        return [_row(None, code)]
    types = ident.get("type", {}).get("coding", ()) if isinstance(ident.get("type"), dict) else ()
    row = _row(ident.get("system"), code, ident.get("type", {}).get("text") if types else None)
    rows = [row]
    rows += [{**row, "type_system": _cut(t.get("system")), "type_code": _cut(t.get("code"))}
             for t in types if isinstance(t, dict)]
    return rows


def _row(system: Any, code: Any, text: Any = None) -> dict:
    return {"system": _cut(system), "code": _cut(code), "text": normalise(text) if isinstance(text, str) else None,
            "type_system": None, "type_code": None}


def _cut(value: Any) -> str | None:
    return str(value)[:SHORT] if value is not None else None


def condition(t: Any, v: TokenValue, modifier: str | None) -> Any:
    c = t.c
    if v.codes is not None:
        return and_(c.system == v.system, c.code.in_(v.codes))
    if v.text is not None:
        return c.text.like(like_escape(v.text) + "%", escape="\\")
    if v.type_system is not None:
        return and_(c.type_system == v.type_system, c.type_code == v.type_code, c.code == v.code)
    terms = []
    if v.code is not None:
        terms.append(c.code == v.code)
    if v.system == "":
        terms.append(c.system.is_(None))
    elif v.system is not None:
        terms.append(c.system == v.system)
    return and_(*terms)


def matches(row: dict, v: TokenValue, modifier: str | None) -> bool:
    if v.codes is not None:
        return row["system"] == v.system and row["code"] in v.codes
    if v.text is not None:
        return bool(row["text"]) and row["text"].startswith(v.text)
    if v.type_system is not None:
        return (row["type_system"], row["type_code"], row["code"]) == (v.type_system, v.type_code, v.code)
    if v.code is not None and row["code"] != v.code:
        return False
    if v.system == "":
        return row["system"] is None
    return v.system is None or row["system"] == v.system


SORT_COLUMNS = ("code", "code")  # (ascending: min of, descending: max of)
