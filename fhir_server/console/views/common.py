"""Helpers the screens share: names, references, codings, masking, dates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

if TYPE_CHECKING:
    from fhir_server.console.fhir_client import Answer

ID_CARD = "urn:oid:2.16.156.10011.1.3"
ID_CARD_ALIAS = "urn:oid:2.16.840.1.113883.2.23.1.19.1"
SD = "https://jiayi.dev/fhir/StructureDefinition/"
DERIVED_BY = "https://jiayi.dev/fhir/CodeSystem/derived-by"
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"


class Source(Protocol):
    def search(self, url: str) -> list[dict]: ...

    def read(self, reference: str | None) -> dict | None: ...

    def get(self, url: str, max_age: int | None = None, only_if_cached: bool = False) -> Answer: ...


def human_name(resource: dict | None) -> str:
    for name in (resource or {}).get("name") or []:
        if isinstance(name, dict):
            if name.get("text"):
                return str(name["text"])
            return "".join([name.get("family") or "", *(name.get("given") or [])])
        if isinstance(name, str):
            return name
    return ""


def ref(value: dict | None) -> str:
    return (value or {}).get("reference") or ""


def ref_id(value: dict | None) -> str:
    return ref(value).rsplit("/", 1)[-1]


def display(value: dict | None) -> str:
    return (value or {}).get("display") or ref(value)


def concept_text(concept: dict | None) -> str:
    concept = concept or {}
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if coding.get("display") or coding.get("code"):
            return str(coding.get("display") or coding.get("code"))
    return ""


def extension(resource: dict, name: str) -> dict | None:
    url = SD + name
    return next((e for e in resource.get("extension") or [] if e.get("url") == url), None)


def mask_id(number: str) -> str:
    """A national identifier shown masked: the first 6 and last 4 characters (GB/T 35273 style)."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def day(value: str | None) -> str:
    return (value or "")[:10]


def parse_day(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((value or "")[:10])
    except ValueError:
        return None


def derived_by(resource: dict) -> str | None:
    for tag in (resource.get("meta") or {}).get("tag") or []:
        if tag.get("system") == DERIVED_BY:
            return tag.get("code")
    return None


_displays: dict[tuple[str, str], str] = {}


def code_display(source: Source, coding: dict) -> str:
    """A coding's display, asked of the server's terminology (``CodeSystem/$lookup``) when the
    coding has none; remembered, since code systems do not change while the server runs."""
    if coding.get("display"):
        return str(coding["display"])
    system, code = coding.get("system") or "", coding.get("code") or ""
    if not (system and code):
        return code
    key = (system, code)
    if key not in _displays:
        answer = source.read(f"CodeSystem/$lookup?system={quote(system, safe=':/')}&code={quote(code)}") or {}
        _displays[key] = next((p.get("valueString") for p in answer.get("parameter") or []
                               if p.get("name") == "display"), None) or code
    return _displays[key]


# a screen's independent searches may be asked together, as a browser fetches a page's parts: each
# is its own FHIR call (own token check, unit of work and connection).  The app allows it where the
# database works in processes of its own (PostgreSQL: most of a search's time is the database's, and
# two cores serve two backends at once); on SQLite the work is this process's, under one GIL, and
# threads only made a page slower (the referral desk 76-115 -> 167-235 ms at 100,000 residents)
_fetching = ThreadPoolExecutor(max_workers=8, thread_name_prefix="console-fetch")


def together(source: Source, *parts: Callable[[], Any]) -> list[Any]:
    """Each of ``parts`` called, at once when ``source`` allows it (``at_once``), their results in
    order (an error is raised as it was)."""
    if not getattr(source, "at_once", False) or len(parts) < 2:
        return [part() for part in parts]
    futures = [_fetching.submit(part) for part in parts[1:]]
    first = parts[0]()  # this thread asks one itself
    return [first, *(future.result() for future in futures)]
