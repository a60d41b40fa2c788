"""CSV from the public-health systems (adapters.publichealth): generated files read and
normalised in process.  A bad file is a ValueError (the importer reports it) or row errors."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from adapters.publichealth import importer
from fuzz.conftest import FUZZ
from fuzz.shapes import text_or_worst, worst_case

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "publichealth"
TYPES = ["resident", "contract", "hypertension-follow-up"]
CSV_UNITS = [",", '"', '""', "\t", "\r\n", "\n", "\r", "中", "a", "9", "\ufeff", " ", ",,,,"]


def _read(data: bytes, record_type: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "records.csv"
        path.write_bytes(data)
        with contextlib.suppress(ValueError):  # an unreadable file: the importer says so and stops
            importer.read_records(path, record_type)


@st.composite
def mangled(draw) -> tuple[bytes, str]:
    record_type = draw(st.sampled_from(TYPES))
    sample = (SAMPLES / f"{record_type}.csv").read_bytes()
    at = draw(st.integers(0, len(sample)))
    insert = draw(text_or_worst(max_size=30, units=CSV_UNITS, max_repeat=3000)).encode("utf-8", "surrogatepass")
    return sample[:at] + insert + sample[at + draw(st.integers(0, 30)):], record_type


@FUZZ
@given(mangled())
def test_mangled_samples(case):
    _read(*case)


@FUZZ
@given(st.binary(max_size=300) | worst_case(CSV_UNITS, 3000).map(lambda s: s.encode("utf-8", "surrogatepass")),
       st.sampled_from(TYPES))
def test_arbitrary_bytes(data, record_type):
    _read(data, record_type)
