"""The district-scale reads answer exactly like the resource-by-resource code they replace, on
SQLite and PostgreSQL, over a generated district plus the edge cases the index cannot decide:

- the KPI measures over the index tables (:class:`IndexSnapshot`) equal the full snapshot's
  MeasureReports (the Python evaluation over every resource), for every measure and several
  periods, including days on which contracts start and end;
- ``Patient/$everything`` from the compartment index equals the per-type searches.
"""

from __future__ import annotations

import datetime as dt

import pytest

from fhir_server.core import jiayi_names as jn
from fhir_server.demo import generate_district
from fhir_server.familydoctor.measures import MEASURES, DistrictSnapshot, Period, evaluate, index_snapshot
from fhir_server.familydoctor.measures.index_snapshot import IndexSnapshot
from fhir_server.interactions.context import FhirRequest
from fhir_server.operations import search_operations
from fhir_server.repository.sql import SqlRepository
from fhir_server.serving import prepare_database
from fhir_server.storage.db import Database
from helpers import fresh_database_url

AS_OF = dt.date(2026, 11, 23)
RESIDENTS = 150
FAMILY_DOCTOR = {"coding": [{"system": jn.CONTRACT_TYPE, "code": "family-doctor"}]}


def _edge_cases() -> list[dict]:
    """Residents and contracts whose answer the index alone would get wrong."""
    def patient(pid: str, **extra) -> dict:
        return {"resourceType": "Patient", "id": pid, "managingOrganization": {"reference": "Organization/edge-org"},
                **extra}

    def contract(cid: str, subject: str, applies: dict) -> dict:
        return {"resourceType": "Contract", "id": cid, "status": "executed", "type": FAMILY_DOCTOR,
                "subject": [{"reference": f"Patient/{subject}"}], "applies": applies,
                "authority": [{"reference": "Organization/edge-org"}]}

    return [
        patient("edge-dead-date", deceasedDateTime="2026-03-01"),  # alive for the indicators
        patient("edge-dead", deceasedBoolean=True),
        patient("edge-inactive", active=False),
        patient("edge-offset"), patient("edge-no-start"), patient("edge-ends"),
        # starts on 2026-11-23 in Beijing, which is 2026-11-22 in UTC
        contract("edge-c-offset", "edge-offset", {"start": "2026-11-23T00:30:00+08:00"}),
        contract("edge-c-no-start", "edge-no-start", {"end": "2027-01-01"}),
        contract("edge-c-ends", "edge-ends", {"start": "2025-01-01", "end": "2026-11-22T23:30:00-05:00"}),
        contract("edge-c-dead-date", "edge-dead-date", {"start": "2025-01-01", "end": "2027-12-31"}),
    ]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def repository(request, tmp_path_factory):
    url = fresh_database_url(request.param, request, tmp_path_factory)
    prepare_database(url)  # the IG's search parameters (key-population, care-team...)
    database = Database(url)
    repo = SqlRepository(database)  # no rules, no validation: the district as generated
    resources = [*generate_district(residents=RESIDENTS, as_of=AS_OF).resources(), *_edge_cases()]
    with repo.unit_of_work(write=True) as uow:
        for resource in resources:
            uow.save("PUT", resource["resourceType"], resource["id"], resource, None)
    database.analyze()
    yield repo
    database.dispose()


PERIODS = [Period(dt.date(2026, 1, 1), AS_OF), Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
           Period(dt.date(2026, 11, 22), dt.date(2026, 11, 22)), Period(dt.date(2024, 6, 1), dt.date(2026, 6, 30))]


def _without_date(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "date"}


@pytest.mark.parametrize("period", PERIODS, ids=lambda p: f"{p.start}..{p.end}")
def test_every_measure_from_the_index_equals_the_full_snapshot(repository, period):
    with repository.unit_of_work() as uow:
        fast = index_snapshot(uow)
        assert isinstance(fast, IndexSnapshot)
        full = DistrictSnapshot.load(uow)
        for row in MEASURES:
            for report_type in ("summary", "subject-list"):
                got = evaluate(uow, row, period, report_type=report_type, snapshot=fast)
                expected = evaluate(uow, row, period, report_type=report_type, snapshot=full)
                assert _without_date(got) == _without_date(expected), (row.id, report_type)


def test_the_edge_cases_count_as_the_snapshot_counts_them(repository):
    with repository.unit_of_work() as uow:
        fast = index_snapshot(uow)
        active = set(fast.active_patients())
        assert "Patient/edge-dead-date" in active
        assert not {"Patient/edge-dead", "Patient/edge-inactive"} & active
        assert fast.contract_in_force("Patient/edge-offset", dt.date(2026, 11, 22)) is None
        assert fast.contract_in_force("Patient/edge-offset", AS_OF) is not None
        assert fast.contract_in_force("Patient/edge-no-start", AS_OF) is None
        assert fast.contract_in_force("Patient/edge-ends", dt.date(2026, 11, 22)) is not None
        assert fast.contract_in_force("Patient/edge-ends", AS_OF) is None


class _PerTypeSearches:
    """The unit of work without its index session: ``$everything`` falls back to a search per type."""

    def __init__(self, uow) -> None:
        self._uow = uow

    def __getattr__(self, name: str):
        if name == "index_session":
            raise AttributeError(name)
        return getattr(self._uow, name)


def _everything(uow, patient_id: str) -> list:
    request = FhirRequest("GET", f"Patient/{patient_id}/$everything", query=[("_count", "1000")],
                          base_url="http://test/fhir")
    response = search_operations.everything(uow, request, "Patient", patient_id)
    assert response.status == 200
    return [e["fullUrl"] for e in response.resource["entry"]]


def test_everything_from_the_compartment_index_equals_the_per_type_searches(repository):
    with repository.unit_of_work() as uow:
        patients = [p["id"] for p in uow.scan("Patient")][:25]
        for pid in patients:
            fast = _everything(uow, pid)
            slow = _everything(_PerTypeSearches(uow), pid)
            assert fast == slow, pid
        assert max(len(_everything(uow, pid)) for pid in patients) > 5
