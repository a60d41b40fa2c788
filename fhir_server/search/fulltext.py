"""``_text`` and ``_content`` (FHIR R4 §3.1.1.4.x, issue 4 point 5): tokens for full-text search.

Both engines store the same tokens per resource (table ``search_text``, one row for
``_text`` — the narrative ``text.div`` without its tags — and one for ``_content`` — every
string in the resource) and differ only in how they match them: PostgreSQL with a GIN
index on ``array_to_tsvector(...)`` and a ``tsquery``; SQLite with an FTS5 table kept in step
by triggers; the in-memory twin with sets.

Tokenising is ours, so it is the same everywhere and needs no segmenter: text is
NFKD-normalised, accents removed and case-folded; runs of Latin letters and digits are words
(a query word matches words it starts: ``hyperten`` finds "hypertension"); runs of Chinese
characters index every character and every pair of adjacent characters (bigrams), and a
query is the bigrams of its runs (one character: that character).  ``高血压`` is thus
``高血`` AND ``血压``, which finds 高血压 wherever it is written without needing a dictionary
(and, like every bigram index, may find a text containing both pairs apart).  All query
tokens must be present (AND); commas separate alternatives (OR).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import cache

PARAMS = ("_text", "_content")
MAX_TOKENS = 4000  # distinct tokens kept per resource and parameter
MAX_TEXT_CHARS = 200_000  # of one string tokenised; the rest of a longer one is not searchable (cost bound)
MAX_QUERY_TOKENS = 32
_CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
_PIECE = re.compile(rf"([{_CJK_CLASS}]+)|([^\W_{_CJK_CLASS}]+)")
_TAG = re.compile(r"<[^<>]*>")  # stops at the next "<": linear (a run of "<" was quadratic)
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'", "nbsp": " "}
# element names whose strings are identifiers or machinery rather than content
_SKIP_KEYS = frozenset({"resourceType", "id", "meta", "reference", "system", "url", "fullUrl", "profile",
                        "div", "status", "versionId", "lastUpdated", "language", "contentType", "data"})


@dataclass(frozen=True, slots=True)
class TextQuery:
    """One OR-alternative of a ``_text``/``_content`` value: whole tokens and word prefixes, all required."""

    tokens: tuple[str, ...]  # Chinese unigrams/bigrams: matched whole
    prefixes: tuple[str, ...]  # Latin words and numbers: matched as the start of a word


def _normalise(text: str) -> str:
    if text.isascii():  # NFKD leaves ASCII as it is, none of it combines, and its casefold is lower()
        return text.lower()
    return _combining().sub("", unicodedata.normalize("NFKD", text)).casefold()


@cache
def _combining() -> re.Pattern:
    """The characters ``unicodedata.combining`` says combine (the accents NFKD splits off), as
    one character class: removed in C rather than tested one by one in Python."""
    marks = [i for i in range(sys.maxunicode + 1) if unicodedata.combining(chr(i))]
    ranges: list[tuple[int, int]] = []
    for i in marks:
        if ranges and ranges[-1][1] == i - 1:
            ranges[-1] = (ranges[-1][0], i)
        else:
            ranges.append((i, i))
    return re.compile("[" + "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                                    for a, b in ranges) + "]")


def index_tokens(texts: list[str]) -> list[str]:
    """The distinct tokens of ``texts`` in order of appearance (at most :data:`MAX_TOKENS`)."""
    seen: dict[str, None] = {}
    for text in texts:
        for cjk, word in _PIECE.findall(_normalise(text[:MAX_TEXT_CHARS])):
            if word:
                seen[word[:64]] = None
            else:
                for i, ch in enumerate(cjk):
                    seen[ch] = None
                    if i + 1 < len(cjk):
                        seen[cjk[i:i + 2]] = None
            if len(seen) >= MAX_TOKENS:
                return list(seen)[:MAX_TOKENS]
    return list(seen)


def parse_query(raw: str) -> TextQuery:
    tokens: dict[str, None] = {}
    prefixes: dict[str, None] = {}
    for cjk, word in _PIECE.findall(_normalise(raw)):
        if word:
            prefixes[word[:64]] = None
        elif len(cjk) == 1:
            tokens[cjk] = None
        else:
            tokens.update((cjk[i:i + 2], None) for i in range(len(cjk) - 1))
    if len(tokens) + len(prefixes) > MAX_QUERY_TOKENS:
        from fhir_server.search.values import ValueError_

        raise ValueError_(f"at most {MAX_QUERY_TOKENS} words or character pairs")
    return TextQuery(tuple(tokens), tuple(prefixes))


def matches(tokens: frozenset[str] | set[str], query: TextQuery) -> bool:
    """The in-memory test (the SQL engines do the same with their indexes)."""
    if not query.tokens and not query.prefixes:
        return False
    return all(t in tokens for t in query.tokens) and all(
        any(t.startswith(p) for t in tokens) for p in query.prefixes)


def narrative_text(resource: dict) -> str:
    div = (resource.get("text") or {}).get("div") if isinstance(resource.get("text"), dict) else None
    if not isinstance(div, str):
        return ""
    return _ENTITY.sub(_entity, _TAG.sub(" ", div))


def _entity(match: re.Match) -> str:
    name = match.group(1)
    try:
        if name.startswith("#x"):
            return chr(int(name.removeprefix("#x"), 16))
        if name.startswith("#"):
            return chr(int(name[1:]))
    except (ValueError, OverflowError):
        return " "
    return _ENTITIES.get(name, " ")


def content_strings(resource: dict) -> list[str]:
    """Every string of the resource that is content (narrative included, identifiers of machinery not)."""
    out: list[str] = [narrative_text(resource)]
    _walk(resource, out)
    return out


def _walk(node: object, out: list[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _SKIP_KEYS:
                continue
            if isinstance(value, str):
                if not value.startswith(("http://", "https://", "urn:")):
                    out.append(value)
            elif isinstance(value, (dict, list)):
                _walk(value, out)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, str):
                out.append(item)
            else:
                _walk(item, out)


def entries(resource: dict) -> dict[str, list[str]]:
    """``_text`` / ``_content`` → the tokens to index for ``resource`` (empty lists left out)."""
    found = {"_text": index_tokens([narrative_text(resource)]), "_content": index_tokens(content_strings(resource))}
    return {k: v for k, v in found.items() if v}


def fts5_query(query: TextQuery) -> str:
    """An FTS5 MATCH expression: every token quoted, words as prefixes."""
    parts = [f'"{t}"' for t in query.tokens] + [f'"{p}"*' for p in query.prefixes]
    return " AND ".join(parts)


def tsquery(query: TextQuery) -> str:
    """A PostgreSQL tsquery literal (quoted lexemes are taken as written, no parser involved)."""
    parts = [f"'{t}'" for t in query.tokens] + [f"'{p}':*" for p in query.prefixes]
    return " & ".join(parts)
