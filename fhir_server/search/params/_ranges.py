"""Prefix semantics over ranges, shared by date, number and quantity (FHIR R4 §3.1.1.4.2).

The search value is the range [sl, sh) its precision implies; the indexed value is [tl, th].
The same function builds the SQL condition (given columns) and the Python test (given
values), so the two engines cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, not_, or_


def compare(prefix: str, tl: Any, th: Any, sl: Any, sh: Any, approx: Any, point: Any,
            *, sql: bool, closed_target: bool) -> Any:
    """``closed_target``: numbers index [tl, th] and compare gt/lt to the value itself (``point``),
    ge/le to the value itself or, as eq, to the range its precision implies (``ge1.50`` takes
    1.497: "or the range of the search value fully contains the range of the target value");
    dates index [tl, th) and compare with the search range's bounds."""
    both: Any
    either: Any
    neg: Any
    both, either, neg = (and_, or_, not_) if sql else (_all, _any, _not)
    eq = both(tl >= sl, th < sh) if closed_target else both(tl >= sl, th <= sh)
    if prefix == "eq":
        return eq
    if prefix == "ne":
        return neg(eq)
    if prefix == "ap":
        return both(tl <= approx[1], th >= approx[0])
    ops: dict[str, Callable[[], Any]] = (
        {"gt": lambda: th > point, "lt": lambda: tl < point, "ge": lambda: either(th >= point, eq),
         "le": lambda: either(tl <= point, eq), "sa": lambda: tl > point, "eb": lambda: th < point}
        if closed_target else
        {"gt": lambda: th > sh, "lt": lambda: tl < sl, "ge": lambda: either(th > sh, eq),
         "le": lambda: either(tl < sl, eq), "sa": lambda: tl >= sh, "eb": lambda: th <= sl})
    return ops[prefix]()


def _all(*terms: bool) -> bool:
    return all(terms)


def _any(*terms: bool) -> bool:
    return any(terms)


def _not(term: bool) -> bool:
    return not term
