"""ER7 (pipe-and-hat) messages: bytes → text (by MSH-18) → segments, fields, components.

Parsing is python-hl7's (``hl7.parse``): it takes the delimiters from MSH-1/MSH-2 and
splits fields, repetitions, components and subcomponents; its ``unescape`` resolves
``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\X..\\`` escapes.  This module adds what comes before and
around that: the character set named in MSH-18 (UTF-8, GB18030, GBK, ...), any of ``\\r``,
``\\n`` or ``\\r\\n`` as segment terminator, versions 2.3 to 2.8, and a uniform accessor
(python-hl7 nests a value differently depending on whether it holds delimiters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import hl7

from .errors import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    TABLE_VALUE_NOT_FOUND,
    UNSUPPORTED_VERSION,
    Location,
    reject,
)

# MSH-18 (table 0211) names → Python codecs.  The first repetition is the default character set.
CHARSETS = {
    "": "utf-8", "ASCII": "ascii", "UNICODE UTF-8": "utf-8", "UTF-8": "utf-8", "UTF8": "utf-8",
    "UNICODE": "utf-8", "8859/1": "latin-1", "ISO-8859-1": "latin-1", "ISO IR100": "latin-1",
    "GB 18030-2000": "gb18030", "GB18030": "gb18030", "GB 18030": "gb18030", "GB18030-2000": "gb18030",
    "GB18030-2005": "gb18030", "GBK": "gbk", "CP936": "gbk", "GB2312": "gb2312", "GB 2312": "gb2312",
    "ISO IR58": "gb2312", "ISO-IR 58": "gb2312",
}
SUPPORTED_VERSIONS = re.compile(r"^2\.([3-8])(\.\d+)*$")
_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")
_HEX_ESCAPE = re.compile(r"\\X([0-9A-Fa-f]+)\\")


def charset_of(raw: bytes) -> str:
    """The MSH-18 value (first repetition, upper case) read from the raw bytes, '' when absent."""
    head = re.split(rb"[\r\n]", raw.lstrip(b"\xef\xbb\xbf"), maxsplit=1)[0]
    if len(head) < 8 or not head.startswith(b"MSH"):
        return ""
    sep = head[3:4]
    parts = head.split(sep)
    if len(parts) < 18:
        return ""
    rep = parts[1][1:2] or b"~"
    value = parts[17].split(rep)[0]
    return value.decode("ascii", "replace").strip().upper()


def decode(raw: bytes) -> tuple[str, str]:
    """Bytes → (text, codec) using MSH-18; a refusal (AR) names MSH-18 when it cannot be done."""
    name = charset_of(raw)
    codec = CHARSETS.get(name)
    if codec is None:
        raise reject(TABLE_VALUE_NOT_FOUND, f"character set {name!r} is not supported "
                     f"(supported: UNICODE UTF-8, GB 18030-2000, GBK, GB2312, ASCII, 8859/1)",
                     Location("MSH", 1, 18))
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise reject(DATA_TYPE_ERROR, f"the message is not valid {name or 'UTF-8'} "
                     f"(byte {exc.start}: {exc.reason})", Location("MSH", 1, 18)) from None
    return text.lstrip("\ufeff"), codec


def normalize_endings(text: str) -> str:
    """Segments end with ``\\r`` whatever the sender used (``\\r\\n``, ``\\n``); blank lines dropped."""
    lines = re.split(r"\r\n|\r|\n", text)
    return "\r".join(line for line in lines if line.strip())


@dataclass
class Segment:
    """One segment: ``fields[n]`` is field n (for MSH, n as in MSH-n), each a list of
    repetitions → components → subcomponents, raw (still escaped)."""

    id: str
    sequence: int  # among segments of the same id, 1-based
    index: int  # position in the message, 0-based
    fields: list[list[list[list[str]]]]
    message: Message

    def location(self, field: int | None = None, repetition: int | None = None,
                 component: int | None = None) -> Location:
        return Location(self.id, self.sequence, field, repetition, component)

    def reps(self, field: int) -> list[list[list[str]]]:
        """The repetitions of a field (each a list of components, each a list of subcomponents)."""
        if field >= len(self.fields):
            return []
        return [r for r in self.fields[field] if any(any(s for s in c) for c in r)]

    def get(self, field: int, component: int = 1, repetition: int = 1, sub: int = 1) -> str:
        """One value, unescaped; '' when empty, absent or the explicit null ``""``."""
        if field >= len(self.fields):
            return ""
        reps = self.fields[field]
        if repetition > len(reps):
            return ""
        comps = reps[repetition - 1]
        if component > len(comps):
            return ""
        subs = comps[component - 1]
        if sub > len(subs):
            return ""
        value = subs[sub - 1]
        if value == '""':
            return ""
        return self.message.unescape(value)

    def raw(self, field: int) -> str:
        """The field as sent (for messages quoting it back)."""
        return self.message.encode_field(self.fields[field]) if field < len(self.fields) else ""


def _norm_field(value) -> list[list[list[str]]]:
    if isinstance(value, str):
        return [[[value]]]
    if len(value) == 1 and isinstance(value[0], str):
        return [[[value[0]]]]
    reps = []
    for rep in value:
        if isinstance(rep, str):
            reps.append([[rep]])
            continue
        comps = []
        for comp in rep:
            comps.append([comp] if isinstance(comp, str) else [str(s) for s in comp])
        reps.append(comps)
    return reps


class Message:
    """A parsed message with its header facts."""

    def __init__(self, text: str, codec: str = "utf-8") -> None:
        text = normalize_endings(text)
        if not text.startswith("MSH") or len(text) < 8:
            raise reject(REQUIRED_FIELD_MISSING, "a message starts with an MSH segment", Location("MSH", 1))
        self.codec = codec
        self.field_sep = text[3]
        self.encoding_chars = text[4:8].split(self.field_sep)[0]
        if len(self.encoding_chars) < 3 or self.field_sep in self.encoding_chars:
            raise reject(DATA_TYPE_ERROR, "MSH-2 must declare the component, repetition and escape "
                         "characters", Location("MSH", 1, 2))
        try:
            self._parsed = hl7.parse(text)
        except Exception as exc:  # noqa: BLE001 - python-hl7 raises several types on malformed input
            raise reject(DATA_TYPE_ERROR, f"not parseable as ER7: {exc}", Location("MSH", 1)) from None
        self.segments: list[Segment] = []
        counts: dict[str, int] = {}
        for index, seg in enumerate(self._parsed):
            seg_id = str(seg[0]).strip() if len(seg) else ""
            if not _SEGMENT_ID.match(seg_id):
                raise reject(DATA_TYPE_ERROR, f"segment {index + 1} has no valid segment id ({seg_id[:10]!r})",
                             Location(seg_id[:3] or "MSH", 1))
            counts[seg_id] = counts.get(seg_id, 0) + 1
            fields = [_norm_field(f) for f in seg]
            if seg_id == "MSH":  # python-hl7 gives MSH-1 and MSH-2 as plain strings
                fields[1] = [[[self.field_sep]]]
                fields[2] = [[[self.encoding_chars]]]
            self.segments.append(Segment(seg_id, counts[seg_id], index, fields, self))
        self.msh = self.segments[0]
        self.version = self.msh.get(12)
        self.message_code = self.msh.get(9, 1).upper()
        self.trigger = self.msh.get(9, 2).upper()
        self.structure = self.msh.get(9, 3).upper()
        self.control_id = self.msh.get(10)
        self.sending_application = self.msh.get(3)
        self.sending_facility = self.msh.get(4)
        self.receiving_application = self.msh.get(5)
        self.receiving_facility = self.msh.get(6)
        self.timestamp = self.msh.get(7)

    def check_version(self) -> None:
        if not SUPPORTED_VERSIONS.match(self.version or ""):
            raise reject(UNSUPPORTED_VERSION, f"version {self.version or '(none)'} is not supported (2.3 to 2.8)",
                         Location("MSH", 1, 12))

    @property
    def type(self) -> str:
        return f"{self.message_code}^{self.trigger}" if self.trigger else self.message_code

    @property
    def sender(self) -> str:
        """MSH-3^MSH-4 as one key (duplicate detection, derived identifiers)."""
        return f"{self.msh.get(3)}|{self.msh.get(4)}"

    def all(self, seg_id: str) -> list[Segment]:
        return [s for s in self.segments if s.id == seg_id]

    def first(self, seg_id: str) -> Segment | None:
        for s in self.segments:
            if s.id == seg_id:
                return s
        return None

    def unescape(self, value: str) -> str:
        esc = self.encoding_chars[2]
        if esc not in value:
            return value
        value = self._parsed.unescape(value).replace("\r\n", "\n").replace("\r", "\n")  # \.br\ → line break
        # python-hl7 leaves \Xhh..\ (hex data) as is: decode it in the message's character set
        return _HEX_ESCAPE.sub(lambda m: _hex(m.group(1), self.codec), value)

    def encode_field(self, reps: list[list[list[str]]]) -> str:
        chars = self.encoding_chars + "&"
        comp, rep, sub = chars[0], chars[1], chars[3]
        return rep.join(comp.join(sub.join(s) for s in r) for r in reps)


def _hex(digits: str, codec: str) -> str:
    try:
        return bytes.fromhex(digits).decode(codec)
    except ValueError:
        return ""


def parse(raw: bytes | str) -> Message:
    """Decode (bytes by MSH-18) and parse; raises :class:`HL7Error` (AR) when that fails."""
    if isinstance(raw, bytes):
        text, codec = decode(raw)
    else:
        text, codec = raw.lstrip("\ufeff"), "utf-8"
    return Message(text, codec)


# --- writing ------------------------------------------------------------------------------

def escape(value: str, delimiters: str = "|^~\\&") -> str:
    """Escape a text value for ER7 (``\\F\\ \\S\\ \\R\\ \\E\\ \\T\\``; line breaks as ``\\.br\\``)."""
    field_sep, comp, rep, esc, sub = delimiters[0], delimiters[1], delimiters[2], delimiters[3], delimiters[4]
    out = []
    for ch in value:
        if ch == esc:
            out.append(f"{esc}E{esc}")
        elif ch == field_sep:
            out.append(f"{esc}F{esc}")
        elif ch == comp:
            out.append(f"{esc}S{esc}")
        elif ch == rep:
            out.append(f"{esc}R{esc}")
        elif ch == sub:
            out.append(f"{esc}T{esc}")
        elif ch == "\r":
            continue
        elif ch == "\n":
            out.append(f"{esc}.br{esc}")
        else:
            out.append(ch)
    return "".join(out)


def build_segment(seg_id: str, *fields) -> str:
    """A segment from fields; a field is a str (escaped here), a list (components, each a str or a
    list of subcomponents) or a tuple of such lists (repetitions).  Trailing empty fields dropped."""
    def comp(c) -> str:
        if isinstance(c, list):
            return "&".join(escape(s or "") for s in c)
        return escape(c or "")

    def one(f) -> str:
        if f is None:
            return ""
        if isinstance(f, tuple):
            return "~".join(one(r) for r in f)
        if isinstance(f, list):
            text = "^".join(comp(c) for c in f)
            return text.rstrip("^")
        return escape(str(f))

    values = [one(f) for f in fields]
    while values and values[-1] == "":
        values.pop()
    return "|".join([seg_id, *values])


def msh(sending_app: str, sending_facility: str, receiving_app: str, receiving_facility: str, when: str,
        message_type: list[str], control_id: str, version: str = "2.5", charset: str = "UNICODE UTF-8",
        processing_id: str = "P") -> str:
    return "|".join(["MSH", "^~\\&", escape(sending_app), escape(sending_facility), escape(receiving_app),
                     escape(receiving_facility), when, "", "^".join(message_type), escape(control_id),
                     processing_id, version, "", "", "", "", "", charset])


def encode(segments: list[str], charset: str = "UNICODE UTF-8") -> bytes:
    """Segments → wire bytes (``\\r`` after each segment) in the character set named in MSH-18."""
    codec = CHARSETS.get(charset.upper(), "utf-8")
    return ("\r".join(segments) + "\r").encode(codec)
