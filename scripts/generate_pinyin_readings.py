"""Generate ``fhir_server/search/data/pinyin-readings.json``: the plausible readings of
polyphonic characters, for ``:pinyin`` (see docs/decisions.md, "`:pinyin` on names").

pypinyin's character dictionary lists every reading a character has ever had (王 wang and
yu, 明 ming and meng); indexing all of them makes ``yu`` find every 王.  A reading is kept
here when pypinyin's phrase dictionary uses it for that character in some phrase (modern
usage), plus the character's default reading.  Only characters with more than one kept
reading, or whose kept readings differ from pypinyin's list, are written.

    python scripts/generate_pinyin_readings.py
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from pypinyin import Style, pinyin
from pypinyin.phrases_dict import phrases_dict
from pypinyin.pinyin_dict import pinyin_dict

OUT = Path(__file__).resolve().parents[1] / "fhir_server" / "search" / "data" / "pinyin-readings.json"


def plain(reading: str) -> str:
    decomposed = unicodedata.normalize("NFKD", reading.replace("ü", "v"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def main() -> None:
    attested: dict[str, set[str]] = {}
    for phrase, readings in phrases_dict.items():
        if len(phrase) != len(readings):
            continue
        for ch, options in zip(phrase, readings, strict=True):
            attested.setdefault(ch, set()).update(plain(r) for r in options)
    out: dict[str, list[str]] = {}
    for code, listed in sorted(pinyin_dict.items()):
        every = list(dict.fromkeys(plain(r) for r in listed.split(",")))
        if len(every) < 2:
            continue
        ch = chr(code)
        default = plain(pinyin(ch, style=Style.TONE, heteronym=False)[0][0])
        kept = [default] + [r for r in every if r != default and r in attested.get(ch, ())]
        out[ch] = kept
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n",
                   encoding="utf-8")
    print(f"{len(out)} polyphonic characters → {OUT.relative_to(OUT.parents[3])}")


if __name__ == "__main__":
    main()
