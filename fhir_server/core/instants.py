"""FHIR instants and dates: formatting ``meta.lastUpdated`` and HTTP dates, parsing ``_since``/``_at``.

Storage keeps naive UTC datetimes; everything that leaves the server says ``Z`` or GMT.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

from fhir_server.core.errors import BadRequest

_DATE_RE = re.compile(
    r"^(?P<y>\d{4})(-(?P<m>\d{2})(-(?P<d>\d{2})(T(?P<H>\d{2}):(?P<M>\d{2})(:(?P<S>\d{2})(?P<f>\.\d+)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def to_utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def fhir_instant(moment: datetime) -> str:
    """``2026-11-23T10:00:00.123+00:00`` style instant with millisecond precision, in UTC ``Z``."""
    moment = to_utc_naive(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def http_date(moment: datetime) -> str:
    return format_datetime(to_utc_naive(moment).replace(tzinfo=UTC), usegmt=True)


def parse_http_date(value: str) -> datetime | None:
    try:
        return to_utc_naive(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError):
        return None


def parse_fhir_range(value: str, parameter: str) -> tuple[datetime, datetime]:
    """The half-open UTC range ``[low, high)`` a FHIR date/dateTime/instant denotes, at its precision.

    ``2020`` is the whole year; ``2020-03-01T10:00Z`` is that minute.  Values without a time zone
    are taken as UTC (the server's time zone), as the search page allows.
    """
    match = _DATE_RE.match(value.strip())
    if not match:
        raise BadRequest(f"Parameter '{parameter}': '{value}' is not a valid FHIR date or dateTime",
                         expression=[parameter])
    g = match.groupdict()
    try:
        low = datetime(int(g["y"]), int(g["m"] or 1), int(g["d"] or 1), int(g["H"] or 0), int(g["M"] or 0),
                       int(g["S"] or 0), int(float(g["f"]) * 1_000_000) if g["f"] else 0)
    except ValueError as exc:
        raise BadRequest(f"Parameter '{parameter}': '{value}' is not a valid date ({exc})",
                         expression=[parameter]) from None
    if g["tz"] and g["tz"] != "Z":
        sign = 1 if g["tz"][0] == "+" else -1
        hours, minutes = g["tz"][1:].split(":")
        low -= sign * timedelta(hours=int(hours), minutes=int(minutes))
    return low, _end_of_precision(low, g)


def _end_of_precision(low: datetime, g: dict) -> datetime:
    if g["f"]:
        return low + timedelta(microseconds=10 ** (6 - min(len(g["f"]) - 1, 6)))
    if g["S"]:
        return low + timedelta(seconds=1)
    if g["M"]:
        return low + timedelta(minutes=1)
    if g["d"]:
        return low + timedelta(days=1)
    if g["m"]:
        return low.replace(year=low.year + 1, month=1) if low.month == 12 else low.replace(month=low.month + 1)
    return low.replace(year=low.year + 1)
