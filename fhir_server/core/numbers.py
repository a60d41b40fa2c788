"""Whole numbers from the wire (``_count``, ``_offset``, page tokens, version ids, ``_before``).

``str.isdigit`` is true for ``²`` and for 5,000-digit strings, and ``int()`` of either is a
crash or a number no database column holds.  Here a count is ASCII digits, at most
``MAX_DIGITS`` of them, and within ``maximum``: anything else is None, and the caller answers
400 naming its parameter.
"""

from __future__ import annotations

MAX_DIGITS = 18  # below 2**63: a PostgreSQL bigint and a SQLite integer hold it
MAX_INT = 2**63 - 1


def bounded_int(text: str, maximum: int = MAX_INT) -> int | None:
    """``text`` as a non-negative integer not above ``maximum``, or None."""
    if not text or len(text) > MAX_DIGITS or not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if number <= maximum else None
