"""What the CapabilityStatement says about a search parameter beyond its definition: the
server's own modifiers and how full text works here."""

from __future__ import annotations

from fhir_server.search import pinyin

_TEXT = {
    "_text": "Full text over the narrative (text.div without tags).",
    "_content": "Full text over every string of the resource.",
}
_HOW = (" Words match by prefix, Chinese by characters and character pairs; all words of a value are"
        " required, commas separate alternatives.")


def param_documentation(res_type: str, code: str) -> str | None:
    if code in _TEXT:
        return _TEXT[code] + _HOW
    if pinyin.applies(res_type, code):
        return ("Also supports the modifier :pinyin — full pinyin without tones, with or without spaces "
                "(name:pinyin=zhangsan, =zhang san) or initials (=zs), starts-with, case-insensitive; "
                "surnames are read with their surname readings (曾 zeng, 单 shan).")
    return None
