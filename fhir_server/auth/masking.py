"""PHI-safe log lines (SPEC §6, PIPL): no 身份证号, phone number or name in any log line.

Masked: the values of query parameters that carry personal data (names, identifiers, phone,
address, birth date — also inside chains and modifiers, ``subject:Patient.name``), any run of
11 or more digits (ID numbers, 17-digit record numbers, mobile numbers; a trailing ``X`` too),
and landline numbers.  Applied to the access log's request line and referrer and, through
:class:`PhiFilter`, to every message of the server's loggers.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

MASK = "***"
PERSONAL = {"name", "family", "given", "phonetic", "address", "address-city", "address-district",
            "address-state", "address-postalcode", "telecom", "phone", "email", "identifier", "id-number",
            "birthdate", "text", "_content", "_text", "residentcardnumber", "doctorcardnumber"}
_DIGITS = re.compile(r"(?<![0-9])[0-9]{11,}[Xx]?(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])0[0-9]{2,3}-[0-9]{7,8}(?![0-9])")
_QUERY_ITEM = re.compile(r"([?&;])([^=&;\s\"]+)=([^&;\s\"]*)")


def mask(text: str) -> str:
    """``text`` with personal data masked (query values by parameter name, long numbers anywhere)."""
    text = _QUERY_ITEM.sub(_mask_item, text)
    text = _DIGITS.sub(MASK, text)
    return _LANDLINE.sub(MASK, text)


def _mask_item(match: re.Match) -> str:
    separator, key, value = match.groups()
    words = re.split(r"[.:]", unquote_plus(key).lower())
    if value and any(w in PERSONAL for w in words):
        return f"{separator}{key}={MASK}"
    return match.group(0)


class PhiFilter(logging.Filter):
    """Masks a record's message (arguments merged first) before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is written as it is
            return True
        masked = mask(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:  # a traceback's messages may quote data too
            record.exc_text = mask(_FORMATTER.formatException(record.exc_info))
            record.exc_info = None
        return True


_FORMATTER = logging.Formatter()


def install(handler: logging.Handler) -> logging.Handler:
    if not any(isinstance(f, PhiFilter) for f in handler.filters):
        handler.addFilter(PhiFilter())
    return handler
