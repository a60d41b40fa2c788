"""The measured cases, one line each (SPEC §8): what to request, and which floor it is held to.

A case's ``build`` gets the run's :class:`Context` and returns a request factory
(``i -> (method, path, body, headers)``), or a string saying why it cannot run here.  The runner
sends one request first: a case the server does not answer (an operation not built yet) is
reported as "n/a (not available)" and keeps its row.  Adding a search, an operation or a KPI
evaluation is one more line in ``CASES``.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import orjson

from benchmarks.dataset import BP_PANEL, ID_NUMBER, Samples
from benchmarks.load import Client, Request, RequestFactory
from fhir_server.core.national_ids import make_id


@dataclass
class Context:
    samples: Samples
    client: Client  # for probing what the server supports
    as_of: dt.date


Builder = Callable[[Context], "RequestFactory | str"]


@dataclass(frozen=True)
class Case:
    name: str
    floor: str | None  # "read" | "write" | None
    build: Builder


def get(path: str, **params: str) -> Request:
    query = urlencode(params, safe="/:$,", quote_via=quote) if params else ""
    return ("GET", path + ("?" + query if query else ""), None, {})


def each(values: Sequence, make: Callable[..., Request]) -> RequestFactory | str:
    """Requests cycling over ``values`` (the district's samples)."""
    if not values:
        return "n/a (the district has no data for this case at this size)"
    return lambda i: make(values[i % len(values)])


def top(counter: Counter, n: int = 20) -> list:
    return [key for key, _ in counter.most_common(n)]


def create_patient(ctx: Context) -> RequestFactory | str:
    templates = ctx.samples.patients

    def make(i: int) -> Request:
        body = copy.deepcopy(templates[i % len(templates)])
        body.pop("id", None)
        serial = abs(i) + 1
        born = dt.date(1940, 1, 1) + dt.timedelta(days=serial % 20000)
        number = make_id("990199", born, 400 + (serial // 20000) % 99, body.get("gender", "male"))
        body["identifier"] = [{"use": "official", "system": ID_NUMBER, "value": number}]
        body["birthDate"] = born.isoformat()
        return ("POST", "/Patient", orjson.dumps(body), {"Prefer": "return=minimal"})

    return make if templates else "n/a (no residents)"


def update_patient(ctx: Context) -> RequestFactory | str:
    templates = ctx.samples.patients
    stamp = int(dt.datetime.now().timestamp()) % 10_000

    def make(i: int) -> Request:
        body = copy.deepcopy(templates[i % len(templates)])
        body["telecom"] = [{"system": "phone", "value": f"100{stamp:04d}{abs(i) % 10_000:04d}", "use": "mobile"}]
        return ("PUT", f"/Patient/{body['id']}", orjson.dumps(body), {"Prefer": "return=minimal"})

    return make if templates else "n/a (no residents)"


def team_contracts(ctx: Context, include: bool = False) -> RequestFactory | str:
    """Contracts in force for a team: the IG's care-team SearchParameter when the server has it,
    else the team lead as the residents' general practitioner (a chained search)."""
    teams = top(ctx.samples.team_contracts)
    if not teams:
        return "n/a (no executed contracts)"
    extra = {"_include": "Contract:subject"} if include else {}
    for name in ("care-team", "team"):
        status, _ = ctx.client.send(*get("/Contract", status="executed", **{name: teams[0]}, _count="1")[:2],
                                    headers={"Prefer": "handling=strict"})
        if status == 200:
            return each(teams, lambda t, name=name: get("/Contract", status="executed", **{name: t}, **extra))
    leads = [ctx.samples.team_leads[t] for t in teams if t in ctx.samples.team_leads]
    return each(leads, lambda lead: get("/Contract", status="executed",
                                        **{"patient.general-practitioner": lead}, **extra))


def observations(ctx: Context) -> RequestFactory | str:
    since = (ctx.samples.first_bp or f"{ctx.as_of.year - 1}-01-01")
    patients = top(ctx.samples.bp_observations, 200)
    return each(patients, lambda p: get("/Observation", subject=p, code="|".join(BP_PANEL),
                                        date=f"ge{since}", _sort="-date"))


CASES: list[Case] = [
    Case("read Patient/[id]", "read", lambda c: each(c.samples.patient_ids, lambda p: get(f"/Patient/{p}"))),
    Case("create Patient", "write", create_patient),
    Case("update Patient", "write", update_patient),
    Case("search resident by ID number", "read",
         lambda c: each(c.samples.id_numbers, lambda v: get("/Patient", identifier=f"{ID_NUMBER}|{v}"))),
    Case("search contracts in force for a team", "read", team_contracts),
    Case("search referrals waiting for a hospital", "read",
         lambda c: each(top(c.samples.waiting_tasks), lambda o: get("/Task", owner=o, status="requested"))),
    Case("search a patient's BP since date, sorted", "read", observations),
    Case("search contracts + _include=Contract:subject", "read", lambda c: team_contracts(c, include=True)),
    Case("Patient/[id]/$everything", "read",
         lambda c: each(top(c.samples.bp_observations, 200), lambda p: get(f"/{p}/$everything"))),
    Case("KPI $evaluate-measure coverage (whole district)", "read",
         lambda c: each(["jiayi-coverage"], lambda m: get(f"/Measure/{m}/$evaluate-measure",
                                                          periodStart=f"{c.as_of.year}-01-01",
                                                          periodEnd=c.as_of.isoformat()))),
    Case("KPI $evaluate-measure return rate (whole district)", "read",
         lambda c: each(["jiayi-return-rate"], lambda m: get(f"/Measure/{m}/$evaluate-measure",
                                                             periodStart=f"{c.as_of.year}-01-01",
                                                             periodEnd=c.as_of.isoformat()))),
]

FLOOR_CASES: dict[str, Builder] = {
    "read": lambda c: each(c.samples.patient_ids, lambda p: ("GET", f"/Patient/{p}", None, {})),
    "write": lambda c: (lambda i: ("POST", "/Patient",
                                   orjson.dumps(c.samples.patients[i % len(c.samples.patients)]), {})),
}


def _base_validation() -> Callable[[dict], object] | str:
    from fhir_server.validation.resource import validate_resource

    return lambda r: validate_resource(r, r["resourceType"])


def _profile_validation(target: str, profile: str) -> Callable[[], Callable[[dict], object] | str]:
    """The StructureDefinition-driven validator, once it exists at ``target`` (module:function,
    called as ``function(resource, profile)``)."""
    def load() -> Callable[[dict], object] | str:
        import importlib

        module, _, name = target.partition(":")
        try:
            function = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            return "n/a (not available)"
        return lambda r: function(r, profile)
    return load


def _write_rules() -> Callable[[dict], object] | str:
    """What the write path checks beyond the structure for every resource: the base R4 error
    invariants (compiled) and the core extension definitions (issue 16 §4)."""
    from fhir_server.validation import Validator, ig

    validator = Validator(ig.conformance())
    if not hasattr(validator, "base_write_issues"):
        return "n/a (not available)"
    return validator.base_write_issues


# in-process validation rate over a sample of every resource type of the district
VALIDATIONS: list[tuple[str, str | None, Callable[[], Callable[[dict], object] | str]]] = [
    ("validate base R4 (resources/s)", None, _base_validation),
    ("validate write rules: invariants + extensions (resources/s)", None, _write_rules),
    ("validate jiayi-contract (resources/s)", "Contract",
     _profile_validation("fhir_server.validation.profiles:validate_profile",
                         "https://jiayi.dev/fhir/StructureDefinition/jiayi-contract")),
]
