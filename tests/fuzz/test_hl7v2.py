"""HL7 v2 ER7 (adapters.hl7v2): generated and mangled messages parsed and converted in process.

The listener answers AR/AE for an :class:`HL7Error`; anything else escaping would be a crash
of the connection's handler."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from adapters.hl7v2 import er7, inbound
from adapters.hl7v2.errors import HL7Error
from fuzz.conftest import FUZZ
from fuzz.shapes import text_or_worst, worst_case

SAMPLES = sorted((Path(__file__).resolve().parents[1] / "data" / "hl7v2").glob("*.hl7"))
ER7_UNITS = ["|", "^", "~", "\\", "&", "\r", "\\X", "\\E\\", "\\.br\\", "^^^^", "~~", "PID|", "OBX|", "\\Zxx\\", "中"]


def _convert(raw: bytes) -> None:
    try:
        message = er7.parse(raw)
        inbound.convert(message).bundle()
    except HL7Error:
        pass  # AR/AE: an answer, not a crash


@st.composite
def mangled(draw) -> bytes:
    sample = draw(st.sampled_from(SAMPLES)).read_bytes()
    at = draw(st.integers(0, len(sample)))
    cut = draw(st.integers(0, 40))
    insert = draw(text_or_worst(max_size=30, units=ER7_UNITS, max_repeat=2000)).encode("utf-8", "surrogatepass")
    return sample[:at] + insert + sample[at + cut:]


@FUZZ
@given(mangled())
def test_mangled_samples(raw):
    _convert(raw)


@FUZZ
@given(st.binary(max_size=300)
       | worst_case(ER7_UNITS, 3000).map(lambda s: ("MSH|^~\\&|" + s).encode("utf-8", "surrogatepass")))
def test_arbitrary_bytes(raw):
    _convert(raw)
