"""Worst-case shapes for generated inputs: long runs, nested repeats, alternations.

Regex engines that backtrack, recursive-descent parsers and quadratic scans fail on these
(a run of spaces then ``!``, ``((((…``, ``abab…b!``), so every parser's strategy mixes them
with ordinary random text."""

from __future__ import annotations

from hypothesis import strategies as st

UNITS = [" ", "a", "9", "\\", "|", "^", "~", "&", ",", "$", ":", ".", "-", "<", ">", "(", "[", "{",
         "<!--", "&amp;", "中", "张三", "\u00a0", "\t", "\r", "\n", "%", "'", '"', "_has:", "e", "1e9"]


@st.composite
def worst_case(draw, units: list[str] = UNITS, max_repeat: int = 3000) -> str:
    """``prefix + unit * n + suffix``: a long run or an alternation with a tail that spoils the match."""
    unit = draw(st.sampled_from(units) | st.builds(lambda a, b: a + b, st.sampled_from(units), st.sampled_from(units)))
    n = draw(st.integers(1, max_repeat))
    tail = draw(st.sampled_from(["", "!", "\x00", "\ufffd", "=", "?", "-", "Z"]))
    head = draw(st.sampled_from(["", "a", "1", "ge", "urn:oid:", "http://"]))
    return head + unit * n + tail


def text_or_worst(max_size: int = 60, units: list[str] = UNITS, max_repeat: int = 3000) -> st.SearchStrategy[str]:
    return st.text(max_size=max_size) | worst_case(units, max_repeat)
