"""ORU^R01: Observations and DiagnosticReports."""

from __future__ import annotations

from .conversion import Conversion
from .errors import REQUIRED_FIELD_MISSING, Location
from .patient import add_patient
from .results import add_results, results


def oru_r01(conv: Conversion) -> None:
    add_patient(conv, conv.msg.first("PID"), update=False)
    groups = results(conv, conv.msg.segments)
    if not any(g.observations or g.forms for g in groups):
        raise conv.fail(REQUIRED_FIELD_MISSING, "ORU^R01 without OBX results", Location("OBX", 1))
    add_results(conv, groups, with_reports=True)
