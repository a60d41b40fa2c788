"""HL7 v2 data types → FHIR datatypes (TS, CWE/CE, CX, XPN, XAD, XTN, XCN, XON, HD, EI).

Each function takes one repetition as :class:`Rep` (components unescaped on access) and
returns a FHIR dict or ``None``; codes are translated with the ConceptMaps of
``mappings/hl7v2/``.  Values that cannot be read are reported to the caller through
``warn`` and left out, so one odd value does not lose a message.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from urllib.parse import quote

from fhir_server.core import national_ids

from .er7 import Segment
from .tables import table

SID = "https://jiayi.dev/fhir/sid/"
CS = "https://jiayi.dev/fhir/CodeSystem/"
LOCAL_SID = SID + "hl7v2/"  # + assigning authority: identifiers local to a sending system
LOCAL_CS = CS + "hl7v2/"  # + coding system name: code systems local to a sending system
ID_CARD = "urn:oid:2.16.156.10011.1.3"
ID_CARD_ALIAS = "urn:oid:2.16.840.1.113883.2.23.1.19.1"
V2 = "http://terminology.hl7.org/CodeSystem/v2-"
DEFAULT_ZONE = "+08:00"  # a TS without a zone is China Standard Time
_TS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,4})?([+-]\d{4})?$")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_HL7_TABLE = re.compile(r"^HL7(\d{4})$", re.IGNORECASE)
_OID = re.compile(r"^[0-2](\.(0|[1-9]\d*))+$")

Warn = Callable[[str, int | None, int | None], None]


class Rep:
    """One repetition of a field: ``c(n)`` is component n, ``s(n, m)`` subcomponent m of it."""

    def __init__(self, segment: Segment, comps: list[list[str]]) -> None:
        self.segment = segment
        self.comps = comps

    def s(self, n: int, m: int = 1) -> str:
        if n > len(self.comps) or m > len(self.comps[n - 1]):
            return ""
        value = self.comps[n - 1][m - 1]
        return "" if value == '""' else self.segment.message.unescape(value).strip()

    def c(self, n: int) -> str:
        return self.s(n, 1)

    def subs(self, n: int) -> list[str]:
        return [self.s(n, m) for m in range(1, len(self.comps[n - 1]) + 1)] if n <= len(self.comps) else []


def reps(segment: Segment, field: int) -> list[Rep]:
    return [Rep(segment, r) for r in segment.reps(field)]


def first(segment: Segment | None, field: int) -> Rep | None:
    if segment is None:
        return None
    found = segment.reps(field)
    return Rep(segment, found[0]) if found else None


def cjk(text: str) -> bool:
    return bool(_CJK.search(text or ""))


# --- time ---------------------------------------------------------------------------------

def ts(value: str, date_only: bool = False) -> str | None:
    """A v2 TS/DTM (``YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]``) as a FHIR date or dateTime; None if invalid."""
    value = (value or "").strip()
    m = _TS.match(value)
    if not m:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    try:
        _dt.date(int(year), int(month or 1), int(day or 1))
        if hour is not None and not (int(hour) < 24 and int(minute or 0) < 60 and int(second or 0) < 60):
            return None
        if zone and not (int(zone[1:3]) <= 14 and int(zone[3:]) < 60):
            return None
    except ValueError:
        return None
    date = year + (f"-{month}" if month else "") + (f"-{day}" if month and day else "")
    if date_only or hour is None or not (month and day):
        return date
    zone_text = f"{zone[:3]}:{zone[3:]}" if zone else DEFAULT_ZONE
    return f"{date}T{hour}:{minute or '00'}:{second or '00'}{fraction or ''}{zone_text}"


def instant(value: str) -> str | None:
    """A TS as a FHIR instant (seconds required) or None."""
    text = ts(value)
    if text and "T" in text:
        return text
    return None


# --- codes --------------------------------------------------------------------------------

def code_system(name: str) -> str | None:
    """A v2 coding-system name (CWE-3) as a FHIR system URI."""
    name = (name or "").strip()
    if not name:
        return None
    target = table("coding-system").get(name)
    if target:
        return target.code
    m = _HL7_TABLE.match(name)
    if m:
        return V2 + m.group(1)
    if _OID.match(name):
        return "urn:oid:" + name
    if name.startswith(("http://", "https://", "urn:")):
        return name
    return LOCAL_CS + quote(name, safe="")


def coding(code: str, display: str = "", system: str = "") -> dict | None:
    if not code:
        return None
    out: dict = {}
    uri = code_system(system)
    if uri:
        out["system"] = uri
    out["code"] = code
    if display:
        out["display"] = display
    return out


def cwe(rep: Rep | None) -> dict | None:
    """CWE/CE: code^text^system^alternate code^alternate text^alternate system → CodeableConcept."""
    if rep is None:
        return None
    codings = [c for c in (coding(rep.c(1), rep.c(2), rep.c(3)), coding(rep.c(4), rep.c(5), rep.c(6))) if c]
    text = rep.c(2) or rep.c(5) or rep.c(9)
    if not codings and not text and rep.c(1) == "":
        return None
    out: dict = {}
    if codings:
        out["coding"] = codings
    if text:
        out["text"] = text
    return out or None


def table_coding(table_number: str, code: str, display: str = "") -> dict | None:
    """A Coding in the HL7 v2 table's own code system (codes kept as sent)."""
    if not code:
        return None
    out = {"system": V2 + table_number, "code": code}
    if display:
        out["display"] = display
    return out


# --- identifiers --------------------------------------------------------------------------

def hd(rep: Rep | None, component: int = 1) -> tuple[str, str, str]:
    """HD (namespace, universal id, universal id type) from component ``component`` as subcomponents,
    or, when component is 0, from the whole repetition (MSH-4 style)."""
    if rep is None:
        return "", "", ""
    if component == 0:
        return rep.c(1), rep.c(2), rep.c(3)
    return rep.s(component, 1), rep.s(component, 2), rep.s(component, 3)


def authority_system(namespace: str, universal: str, universal_type: str) -> str | None:
    if universal and (universal_type.upper() == "ISO" or _OID.match(universal)):
        return "urn:oid:" + universal
    if universal and universal.startswith(("http://", "https://", "urn:")):
        return universal
    key = namespace or universal
    return LOCAL_SID + quote(key, safe="") if key else None


def normalize_id_card(value: str) -> tuple[str, list[str]]:
    """A 居民身份证号 as stored (full-width digits folded, 15-digit numbers upgraded) and its problems."""
    number = national_ids.normalize_id(value)
    if len(number) == 15 and number.isdigit():
        try:
            number = national_ids.upgrade_id15(number)
        except ValueError as exc:
            return number, [str(exc)]
    return number, national_ids.id_problems(number)


def cx(rep: Rep, default_namespace: str = "") -> tuple[dict | None, str | None]:
    """CX → (Identifier, problem).  The system: the identifier type's Appendix A system (table 0203
    ConceptMap), else the assigning authority (OID → ``urn:oid:``, name → ``SID/hl7v2/<name>``),
    else the sending facility; a number without type or authority that is a valid 身份证号 is one."""
    value = rep.c(1)
    if not value:
        return None, None
    type_code = rep.c(5)
    namespace, universal, universal_type = hd(rep, 4)
    system = None
    target = table("identifier-type").get(type_code)
    if target:
        system = target.code
    if system is None:
        system = authority_system(namespace, universal, universal_type)
        if system == ID_CARD_ALIAS:
            system = ID_CARD
    if system is None and not type_code and len(value) == 18 and national_ids.is_valid_id(value):
        system = ID_CARD
    if system is None:
        system = authority_system(default_namespace, "", "") or LOCAL_SID + "unknown"
    identifier: dict = {}
    if type_code:
        type_system = target.source_system if target else V2 + "0203"
        identifier["type"] = {"coding": [{"system": type_system, "code": type_code}]}
    identifier["system"] = system
    problem = None
    if system == ID_CARD:
        value, problems = normalize_id_card(value)
        if problems:
            problem = f"居民身份证号 {value!r}: " + "; ".join(problems)
    identifier["value"] = value
    if namespace and system.startswith("urn:oid:"):
        identifier["assigner"] = {"display": namespace}
    return identifier, problem


def ei(rep: Rep | None, default_namespace: str = "") -> dict | None:
    """EI (entity id^namespace^universal id^type) → Identifier."""
    if rep is None or not rep.c(1):
        return None
    system = authority_system(rep.c(2), rep.c(3), rep.c(4)) or authority_system(default_namespace, "", "")
    out = {"value": rep.c(1)}
    if system:
        out = {"system": system, "value": rep.c(1)}
    return out


# --- names, addresses, telecom ----------------------------------------------------------

def _name(family: str, given: list[str], prefix: str, suffix: str, use_code: str) -> dict | None:
    given = [g for g in given if g]
    if not family and not given:
        return None
    name: dict = {}
    use = table("name-type").code(use_code)
    if use:
        name["use"] = use
    if cjk(family) or any(cjk(g) for g in given):
        name["text"] = family + "".join(given)
    else:
        name["text"] = " ".join([*given, family]).strip()
    if family:
        name["family"] = family
    if given:
        name["given"] = given
    if prefix:
        name["prefix"] = [prefix]
    if suffix:
        name["suffix"] = [suffix]
    return name


def xpn(rep: Rep) -> dict | None:
    """XPN: family^given^middle^suffix^prefix^degree^type."""
    return _name(rep.s(1, 1), [rep.c(2), rep.c(3)], rep.c(5), rep.c(4), rep.c(7))


def xcn_name(rep: Rep) -> dict | None:
    """The name part of an XCN (id^family^given^middle^suffix^prefix^degree^^authority^type)."""
    return _name(rep.s(2, 1), [rep.c(3), rep.c(4)], rep.c(6), rep.c(5), rep.c(10))


def xad(rep: Rep) -> dict | None:
    """XAD: street^other^city^state^zip^country^type^other geographic^county/district."""
    street, other, city, state, zip_code, country = (rep.s(1, 1), rep.c(2), rep.c(3), rep.c(4), rep.c(5), rep.c(6))
    district = rep.c(9)
    if not any((street, other, city, state, zip_code, country, district)):
        return None
    address: dict = {}
    use = table("address-type").code(rep.c(7))
    if use in ("billing",):
        address["type"] = "postal"
    elif use:
        address["use"] = use
    lines = [x for x in (street, other) if x]
    chinese = any(cjk(x) for x in (street, other, city, state, district))
    if chinese:
        address["text"] = "".join(x for x in (state, city, district, *lines) if x)
    if lines:
        address["line"] = lines
    for key, value in (("city", city), ("district", district), ("state", state), ("postalCode", zip_code),
                       ("country", country)):
        if value:
            address[key] = value
    return address


def xtn(rep: Rep) -> dict | None:
    """XTN: [number]^use^equipment^email^country^area^local^extension^any text."""
    use_code, equipment = rep.c(2), rep.c(3)
    system = table("telecom-equipment").code(equipment, "phone")
    email = rep.c(4)
    if email or equipment.lower() in ("internet", "x.400") or use_code == "NET":
        value = email or rep.c(1)
        system = "email"
    else:
        value = rep.c(1)
        if not value and rep.c(7):
            country, area, local = rep.c(5), rep.c(6), rep.c(7)
            value = (f"+{country} " if country else "") + (f"{area}-" if area else "") + local
            if rep.c(8):
                value += f" ext. {rep.c(8)}"
        if not value:
            value = rep.c(12)  # v2.6+ unformatted telephone number
    if not value:
        return None
    point: dict = {"system": system, "value": value}
    use = table("telecom-use").code(use_code)
    if equipment == "CP":
        use = "mobile"
    if use:
        point["use"] = use
    return point
