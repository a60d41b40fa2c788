"""``:pinyin`` on names (SPEC §2.2, issue 4 point 6): the pinyin index rows of Chinese names.

A name is indexed, at write time, as every plausible pinyin spelling without tones or spaces
(``zhangsan``) and as the initials of those spellings (``zs``); a query is matched by
starts-with against them after removing spaces, apostrophes and case (``zhang san``,
``ZhangS``, ``zs``).  The readings come from :mod:`pypinyin` (its character dictionary and
its phrase dictionary); the polyphone policy is:

- the surname (``family``, or the first character of an unstructured Chinese name, two for a
  compound surname such as 欧阳) is read with its surname reading(s) when it is one of the
  polyphonic surnames below (曾 zeng, 单 shan, 仇 qiu, 解 xie, 区 ou...), which pypinyin does
  not know about; any other surname character gets its plausible readings (below);
- given names (short texts) get every plausible reading of every polyphonic character, so
  that both readings find the person (乐 le/yue, 长 chang/zhang), up to :data:`MAX_SPELLINGS`;
  the phrase reading pypinyin prefers always comes first.  "Plausible" excludes the archaic
  readings pypinyin's character dictionary also lists (王 yu, 明 meng): a reading counts when
  pypinyin's phrase dictionary uses it (``data/pinyin-readings.json``);
- longer texts (organisation names) get pypinyin's phrase-aware reading (区 qu in 朝阳区).

Non-Chinese text is kept as letters and digits, so a name written in Latin letters is found
by the same query.
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from pypinyin import Style, lazy_pinyin, pinyin

MODIFIER = "pinyin"
# (resource type, parameter code) → index rows under "<code>:pinyin"; HumanName or string parameters
PINYIN_PARAMS: frozenset[tuple[str, str]] = frozenset({
    ("Patient", "name"), ("Practitioner", "name"), ("RelatedPerson", "name"), ("Organization", "name"),
})
MAX_SPELLINGS = 16  # per name part; beyond it only the preferred reading is indexed
MAX_CHARS = 64  # of a name part or string spelled: a longer one is spelled from its start (issue 18: cost)
SHORT_TEXT = 4  # CJK characters up to which every reading of every character is indexed

# Polyphonic characters whose reading as a surname differs from (or is a subset of) their
# common readings.  pypinyin has no surname mode; this is the usual list (百家姓 readings).
SURNAME_READINGS: dict[str, tuple[str, ...]] = {
    "曾": ("zeng",), "单": ("shan",), "仇": ("qiu",), "解": ("xie",), "区": ("ou",), "查": ("zha",),
    "朴": ("piao",), "盖": ("ge", "gai"), "乐": ("yue", "le"), "覃": ("qin", "tan"), "翟": ("zhai",),
    "缪": ("miao",), "种": ("chong",), "员": ("yun",), "能": ("nai",), "沈": ("shen",), "石": ("shi",),
    "蕃": ("pi",), "秘": ("bi",), "句": ("gou",), "柏": ("bai",), "薄": ("bo",), "朝": ("chao",),
    "长": ("chang",), "重": ("chong",), "燕": ("yan",), "尉": ("wei",), "召": ("shao",), "华": ("hua",),
    "任": ("ren",), "纪": ("ji",), "繁": ("po",), "宿": ("su",), "祭": ("zhai",), "隗": ("wei",),
    "郇": ("huan",), "洗": ("xian",), "冼": ("xian",), "阚": ("kan",), "过": ("guo",), "折": ("she",),
    "莘": ("shen",), "黑": ("he",), "卜": ("bu",), "强": ("qiang",), "藏": ("zang",), "车": ("che",),
    "角": ("jue",), "瞿": ("qu",), "谌": ("chen",), "都": ("du",), "尹": ("yin",), "曲": ("qu",),
}
COMPOUND_SURNAMES: dict[str, tuple[str, ...]] = {
    "欧阳": ("ou", "yang"), "司马": ("si", "ma"), "诸葛": ("zhu", "ge"), "上官": ("shang", "guan"),
    "尉迟": ("yu", "chi"), "万俟": ("mo", "qi"), "长孙": ("zhang", "sun"), "单于": ("chan", "yu"),
    "皇甫": ("huang", "fu"), "东方": ("dong", "fang"), "令狐": ("ling", "hu"), "慕容": ("mu", "rong"),
    "司徒": ("si", "tu"), "夏侯": ("xia", "hou"), "公孙": ("gong", "sun"), "澹台": ("tan", "tai"),
}
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_NAME_PARTS = ("family", "given", "text")


def applies(res_type: str | None, code: str) -> bool:
    return (res_type or "", code) in PINYIN_PARAMS


def index_code(code: str) -> str:
    """The ``param`` column of a parameter's pinyin rows."""
    return f"{code}:{MODIFIER}"


def query_text(raw: str) -> str:
    """What a ``:pinyin`` query value is compared with: lower-case letters and digits only."""
    return _NOT_ALNUM.sub("", _strip_accents(raw).casefold())


def to_pinyin(text: str) -> str:
    """A query written in Chinese characters, as the pinyin it is read with (others unchanged)."""
    return " ".join(_syllables(text[:MAX_CHARS])) if has_cjk(text) else text


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def spellings_of_node(value: object) -> list[str]:
    """Every indexed spelling (full and initials) of one expression result (HumanName or string)."""
    if isinstance(value, str):
        return list(_string_spellings(value[:MAX_CHARS]))
    if not isinstance(value, dict):
        return []
    family: str = value["family"] if isinstance(value.get("family"), str) else ""
    given = " ".join(g[:MAX_CHARS] for g in value.get("given") or () if isinstance(g, str))
    text: str = value["text"] if isinstance(value.get("text"), str) else ""
    return list(_name_spellings(family[:MAX_CHARS], given[:MAX_CHARS], text[:MAX_CHARS]))


@lru_cache(maxsize=4096)
def _string_spellings(value: str) -> tuple[str, ...]:
    return tuple(_spellings([_text_readings(value, person=False)]))


@lru_cache(maxsize=16384)  # names repeat a lot in a district: computed once per distinct name
def _name_spellings(family: str, given: str, text: str) -> tuple[str, ...]:
    parts: list[list[list[str]]] = []
    if family or given:
        f = _surname_readings(family) if family else [[]]
        g = _text_readings(given, person=True) if given else [[]]
        parts += [f, g, _combine(f, g)]
        if not has_cjk(family + given):  # "given family" order for Latin names
            parts.append(_combine(g, f))
    if text:
        parts.append(_name_readings(text))
    return tuple(_spellings(parts))


def _spellings(parts: list[list[list[str]]]) -> list[str]:
    out: dict[str, None] = {}
    for readings in parts:
        for syllables in readings:
            full = "".join(syllables)
            if full:
                out[full] = None
                out["".join(s[0] for s in syllables if s)] = None
    return list(out)


def _combine(a: list[list[str]], b: list[list[str]]) -> list[list[str]]:
    combos = [x + y for x, y in itertools.product(a, b)]
    return combos[:MAX_SPELLINGS]


def _name_readings(text: str) -> list[list[str]]:
    """An unstructured name: surname first for Chinese (张三, 欧阳修), words otherwise."""
    compact = "".join(text.split())
    if not has_cjk(compact):
        return [_latin(text)]
    size = 2 if compact[:2] in COMPOUND_SURNAMES else 1
    return _combine(_surname_readings(compact[:size]), _text_readings(compact[size:], person=True))


def _surname_readings(family: str) -> list[list[str]]:
    if not has_cjk(family):
        return [_latin(family)]
    compact = "".join(family.split())
    if compact in COMPOUND_SURNAMES:
        return [list(COMPOUND_SURNAMES[compact])]
    first = compact[0]
    head = [[r] for r in SURNAME_READINGS[first]] if first in SURNAME_READINGS else [[r] for r in _readings(first)]
    rest = _text_readings(compact[1:], person=True) if len(compact) > 1 else [[]]
    return _combine(head, rest)


def _text_readings(text: str, person: bool) -> list[list[str]]:
    """Readings of a text: the phrase-aware one first, then (short texts) every combination."""
    if not has_cjk(text):
        return [_latin(text)]
    preferred = _syllables(text)
    cjk = [ch for ch in text if has_cjk(ch)]
    if not person and len(cjk) > SHORT_TEXT:
        return [preferred]
    options = [_readings(ch) if has_cjk(ch) else (_latin_word(ch),) for ch in text if not ch.isspace()]
    options = [o for o in options if o and o[0]]
    combos: list[list[str]] = [preferred]
    for combo in itertools.islice(itertools.product(*options), MAX_SPELLINGS):
        if list(combo) != preferred:
            combos.append(list(combo))
    return combos


def _syllables(text: str) -> list[str]:
    out: list[str] = []
    for piece in lazy_pinyin(text, style=Style.NORMAL, errors=_latin_word):
        word = _latin_word(piece)
        if word:
            out.append(word)
    return out


@lru_cache(maxsize=8192)
def _readings(ch: str) -> tuple[str, ...]:
    """The plausible readings of ``ch``: for a polyphonic character those of
    ``data/pinyin-readings.json`` (its default reading and the ones pypinyin's phrase dictionary
    uses; generated by scripts/generate_pinyin_readings.py), else pypinyin's one reading."""
    plausible = _plausible().get(ch)
    if plausible:
        return tuple(plausible)
    found = pinyin(ch, style=Style.NORMAL, heteronym=True, errors="ignore")
    readings = tuple(dict.fromkeys(_latin_word(r) for r in (found[0] if found else ()) if _latin_word(r)))
    return readings or (_latin_word(ch),)


@lru_cache(maxsize=1)
def _plausible() -> dict[str, list[str]]:
    return json.loads((Path(__file__).parent / "data" / "pinyin-readings.json").read_text(encoding="utf-8"))


def _latin_word(text: str) -> str:
    return query_text(text)


def _latin(text: str) -> list[str]:
    return [w for w in (query_text(p) for p in text.split()) if w]


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
