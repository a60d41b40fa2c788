"""The search prefixes over ranges (search/params/_ranges.py, FHIR R4 search.html#prefix), each
at its boundary, for numbers/quantities (closed index range, compared to the value itself) and
dates (half-open ranges): written from the mutation run of the module (docs/testing.md).  The
same function builds the SQL condition, so these are the in-memory half of the rule."""

from __future__ import annotations

import pytest

from fhir_server.search.params._ranges import compare


def number(prefix: str, tl: float, th: float, point: float = 5.0, sl: float = 4.5, sh: float = 5.5,
           approx: tuple[float, float] = (4.5, 5.5)) -> bool:
    return compare(prefix, tl, th, sl, sh, approx, point, sql=False, closed_target=True)


def date(prefix: str, tl: int, th: int, sl: int = 10, sh: int = 20) -> bool:
    return compare(prefix, tl, th, sl, sh, (sl - 1, sh + 1), None, sql=False, closed_target=False)


@pytest.mark.parametrize(("prefix", "tl", "th", "expected"), [
    ("eq", 4.5, 4.5, True), ("eq", 4.4, 4.6, False), ("eq", 5.5, 5.5, False), ("ne", 4.5, 4.5, False),
    ("ap", 5.5, 6.0, True), ("ap", 4.0, 4.5, True), ("ap", 5.6, 6.0, False), ("ap", 4.0, 4.4, False),
    ("lt", 5.0, 5.0, False), ("lt", 4.9, 4.9, True),
    ("gt", 5.0, 5.0, False), ("gt", 5.1, 5.1, True),
    ("sa", 5.0, 9.0, False), ("sa", 5.1, 9.0, True),
    ("eb", 1.0, 5.0, False), ("eb", 1.0, 4.9, True),
])
def test_number_prefixes_at_their_boundaries(prefix, tl, th, expected):
    assert number(prefix, tl, th) is expected


def test_number_ge_and_le_include_the_value_itself_outside_the_implied_range():
    far = {"sl": 10.0, "sh": 11.0}  # the implied range does not contain the target: only the point decides
    assert number("ge", 1.0, 5.0, **far) is True and number("ge", 1.0, 4.9, **far) is False
    assert number("le", 5.0, 9.0, **far) is True and number("le", 5.1, 9.0, **far) is False
    # within the implied range (ge1.50 takes 1.497): eq decides
    assert number("ge", 4.6, 4.6) is True and number("le", 5.4, 5.4) is True


@pytest.mark.parametrize(("prefix", "tl", "th", "expected"), [
    ("eq", 10, 20, True), ("eq", 9, 20, False), ("eq", 10, 21, False),
    ("ge", 5, 20, False), ("ge", 5, 21, True), ("ge", 10, 15, True),
    ("le", 10, 25, False), ("le", 9, 25, True), ("le", 12, 18, True),
    ("gt", 5, 20, False), ("gt", 5, 21, True), ("lt", 10, 25, False), ("lt", 9, 25, True),
    ("sa", 19, 30, False), ("sa", 20, 30, True),
    ("eb", 1, 10, True), ("eb", 1, 11, False),
    ("ap", 21, 30, True), ("ap", 22, 30, False), ("ap", 1, 9, True), ("ap", 1, 8, False),
])
def test_date_prefixes_at_their_boundaries(prefix, tl, th, expected):
    assert date(prefix, tl, th) is expected
