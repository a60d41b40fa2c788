"""Search-related operations: ``$reindex``, ``Patient/$everything``, ``$meta``, ``$meta-add``,
``$meta-delete`` (R4 OperationDefinitions Patient-everything, Resource-meta, -meta-add,
-meta-delete; ``$reindex`` is this server's, SPEC §2.3)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from fhir_server import search as engine
from fhir_server.core.budget import checkpoint
from fhir_server.core.errors import BadRequest, Issue, TooCostly, operation_outcome
from fhir_server.core.numbers import bounded_int
from fhir_server.core.references import reference_strings
from fhir_server.interactions.bundles import bundle, link
from fhir_server.interactions.common import current_or_raise, require_type
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.operations.parameters import OperationInput
from fhir_server.operations.registry import Operation
from fhir_server.repository.base import StoredResource, UnitOfWork
from fhir_server.search.registry import compartment_params
from fhir_server.search.sql import compartment as compartment_sql
from fhir_server.search.values import ValueError_, date_range

JIAYI_OPERATION = "https://jiayi.dev/fhir/OperationDefinition/"
R4_OPERATION = "http://hl7.org/fhir/OperationDefinition/"
CARE_TEAM_EXTENSION = "https://jiayi.dev/fhir/StructureDefinition/jiayi-contract-care-team"
EVERYTHING_DEFAULT_COUNT = 100
EVERYTHING_MAX = 10_000  # resources one $everything may gather
EVERYTHING_MAX_PATIENTS = 100  # patients one type-level Patient/$everything may cover
_FETCH = 1000  # per search while gathering
Key = tuple[str, str]
# Compartment types whose references are not followed: an AuditEvent names whatever a read
# returned (a team's contracts, other residents' records), not the resident's care.
NO_HOP = frozenset({"AuditEvent"})


# --- $reindex ----------------------------------------------------------------------------------

def reindex(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
    if res_type and res_id:
        current_or_raise(uow, res_type, res_id)
    count = uow.reindex(res_type, res_id)
    scope = f"{res_type}/{res_id}" if res_id else res_type or "all resource types"
    outcome = operation_outcome([Issue("informational", f"Reindexed {count} resource(s) ({scope})",
                                       severity="information")])
    return FhirResponse(200, {"resourceType": "Parameters", "parameter": [
        {"name": "count", "valueInteger": count},
        {"name": "outcome", "resource": outcome},
    ]})


# --- $meta, $meta-add, $meta-delete -----------------------------------------------------------

def meta(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
    if res_type and res_id:
        found = _meta_part(current_or_raise(uow, res_type, res_id).content or {})
    else:
        found = uow.meta_in_use(res_type)
    return _meta_response(found)


def meta_add(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
    return _change_meta(uow, request, res_type or "", res_id or "", add=True)


def meta_delete(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
    return _change_meta(uow, request, res_type or "", res_id or "", add=False)


def _change_meta(uow: UnitOfWork, request: FhirRequest, res_type: str, res_id: str, add: bool) -> FhirResponse:
    given = OperationInput(request).require("meta")
    if not isinstance(given, dict):
        raise BadRequest("Parameter 'meta' must be a Meta (valueMeta)", expression=["meta"])
    current = current_or_raise(uow, res_type, res_id, for_update=True)
    resource = dict(current.content or {})
    old = dict(resource.get("meta") or {})
    new = _added(old, given) if add else _deleted(old, given)
    if new == old:
        return _meta_response(_meta_part(resource))
    resource["meta"] = new
    for key in ("profile", "tag", "security"):
        if not new.get(key):
            new.pop(key, None)
    stored = uow.save("PUT", res_type, res_id, resource, current)
    return _meta_response(_meta_part(stored.content or {}))


def _codings(value: object, name: str) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        raise BadRequest(f"meta.{name} must be a list of Coding", expression=[f"meta.{name}"])
    return value


def _profiles(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
        raise BadRequest("meta.profile must be a list of canonical URLs", expression=["meta.profile"])
    return value


def _same(a: dict, b: dict) -> bool:
    return (a.get("system") or "") == (b.get("system") or "") and (a.get("code") or "") == (b.get("code") or "")


def _added(old: dict, given: dict) -> dict:
    new = dict(old)
    profiles = list(old.get("profile") or [])
    profiles += [p for p in _profiles(given.get("profile")) if p not in profiles]
    if profiles:
        new["profile"] = profiles
    for key in ("security", "tag"):
        codings = list(old.get(key) or [])
        for coding in _codings(given.get(key), key):
            if not any(_same(coding, c) for c in codings):
                codings.append(coding)
        if codings:
            new[key] = codings
    return new


def _deleted(old: dict, given: dict) -> dict:
    new = dict(old)
    removed = set(_profiles(given.get("profile")))
    if "profile" in old:
        new["profile"] = [p for p in old["profile"] if p not in removed]
    for key in ("security", "tag"):
        gone = _codings(given.get(key), key)
        if key in old:
            new[key] = [c for c in old[key] if not any(_same(c, g) for g in gone)]
    return {k: v for k, v in new.items() if v != []}


def _meta_part(resource: dict) -> dict:
    meta = resource.get("meta") or {}
    return {k: meta[k] for k in ("versionId", "lastUpdated", "profile", "security", "tag") if k in meta}


def _meta_response(found: dict) -> FhirResponse:
    return FhirResponse(200, {"resourceType": "Parameters", "parameter": [{"name": "return", "valueMeta": found}]})


# --- Patient/$everything --------------------------------------------------------------------

def everything(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
    """The patient, their compartment, what it refers to, and the family-doctor records around it:
    contracts whose subject they are (and the team named by ``jiayi-contract-care-team``), Tasks
    focused on their referrals, Provenance of any of it.  Paged by ``_count`` over a stable order
    (the patient first, then by type and id)."""
    args = _EverythingArgs(request)
    if res_id is None:
        patients = [m.res_id for m in _search_all(uow, "Patient", [], limit=EVERYTHING_MAX_PATIENTS + 1)]
        if len(patients) > EVERYTHING_MAX_PATIENTS:
            raise TooCostly(f"Patient/$everything covers at most {EVERYTHING_MAX_PATIENTS} patients; "
                            "use Patient/[id]/$everything")
    else:
        patients = [current_or_raise(uow, "Patient", res_id).res_id]
    gathered: dict[Key, StoredResource | object] = {}
    for pid in patients:
        checkpoint()
        _gather(uow, pid, gathered)
    keys = sorted(gathered, key=lambda k: (k[0] != "Patient" or k[1] not in patients, k[0], k[1]))
    keys = [k for k in keys if _wanted(args, k, gathered[k])]
    page = keys[args.offset:args.offset + args.count]
    _load_contents(uow, page, gathered)
    entries = [{"fullUrl": f"{request.base_url}/{k[0]}/{k[1]}", "resource": _content(gathered[k]),
                "search": {"mode": "match"}} for k in page]
    path = f"Patient/{res_id}/$everything" if res_id else "Patient/$everything"
    return FhirResponse(200, bundle("searchset", entries, len(keys), _everything_links(request, path, args, len(keys))))


class _EverythingArgs:
    def __init__(self, request: FhirRequest) -> None:
        params = OperationInput(request)
        body = (request.body if isinstance(request.body, dict) and request.body.get("resourceType") == "Parameters"
                else {})

        def values(name: str) -> list[str]:
            found = [v for k, v in request.query if k == name]
            for p in (body or {}).get("parameter", []):
                if isinstance(p, dict) and p.get("name") == name:
                    found += [str(v) for k, v in p.items() if k.startswith("value")]
            return found

        self.items = [(k, v) for k, v in request.query if k in ("_since", "_type", "_count")]
        since = values("_since")
        try:
            self.since: datetime | None = date_range(since[0])[0] if since else None
        except ValueError_:
            raise BadRequest(f"'_since' must be an instant, not '{since[0]}'", expression=["_since"]) from None
        self.types = {t.strip() for v in values("_type") for t in v.split(",") if t.strip()}
        for t in self.types:
            require_type(t)
        self.count = _integer(values("_count"), "_count", EVERYTHING_DEFAULT_COUNT, maximum=1000)
        self.offset = _integer(values("_offset") or values(engine.PAGE_PARAM), "_offset", 0)
        for name in ("start", "end"):
            value = params.value(name)
            if value is not None:
                try:
                    date_range(str(value))
                except ValueError_:
                    raise BadRequest(f"'{name}' must be a date", expression=[name]) from None


def _integer(values: list[str], name: str, default: int, maximum: int | None = None) -> int:
    if not values:
        return default
    number = bounded_int(values[0])
    if number is None:
        raise BadRequest(f"'{name}' must be a non-negative integer", expression=[name])
    return min(number, maximum) if maximum else number


def _wanted(args: _EverythingArgs, key: Key, found: object) -> bool:
    if args.types and key[0] not in args.types:
        return False
    return args.since is None or _updated(found) >= args.since


def _updated(found: object) -> datetime:
    value = getattr(found, "last_updated", None)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    try:
        return date_range(str((_content(found).get("meta") or {}).get("lastUpdated", "")))[0]
    except ValueError_:
        return datetime.min


def _content(found: object) -> dict:
    return getattr(found, "content", None) or {}


def _search_all(uow: UnitOfWork, res_type: str, items: list[tuple[str, str]],
                compartment: tuple[str, str] | None = None, limit: int = EVERYTHING_MAX) -> list:
    count = min(_FETCH, limit)
    request = engine.parse_search(res_type, [*items, ("_count", str(count)), ("_total", "none")],
                                  compartment=compartment, registry=uow.search_params())
    found, page = [], uow.search(request)
    found.extend(page.matches)
    while page.next_page and len(found) < limit:
        checkpoint()
        page = uow.search(request, page.next_page)
        found.extend(page.matches)
    return found


def _gather(uow: UnitOfWork, patient_id: str, gathered: dict[Key, object]) -> None:
    def add(rows: Iterable) -> None:
        for row in rows:
            gathered.setdefault((row.res_type, row.res_id), row)
        if len(gathered) > EVERYTHING_MAX:
            raise TooCostly(f"$everything would return more than {EVERYTHING_MAX} resources; use _type or _since")

    index_session = getattr(uow, "index_session", None)
    if index_session is not None:
        _gather_from_index(uow, index_session(), patient_id, gathered, add)
        return
    patient = uow.get("Patient", patient_id)
    if patient is not None and not patient.deleted:
        add([patient])
    for compartment_type in compartment_params("Patient"):
        add(_search_all(uow, compartment_type, [], compartment=("Patient", patient_id)))
    add(_search_all(uow, "Contract", [("subject", f"Patient/{patient_id}")]))
    referrals = [f"ServiceRequest/{k[1]}" for k in list(gathered) if k[0] == "ServiceRequest"]
    for chunk in _chunks(referrals):
        add(_search_all(uow, "Task", [("focus", ",".join(chunk))]))
    records = list(gathered)
    _add_references(uow, records, gathered, add)
    targets = [f"{t}/{i}" for t, i in gathered if t != "Provenance"]
    for chunk in _chunks(targets):
        add(_search_all(uow, "Provenance", [("target", ",".join(chunk))]))


def _gather_from_index(uow: UnitOfWork, session, patient_id: str, gathered: dict[Key, object], add) -> None:
    """The same records as the per-type searches below, read from the reference index in a
    handful of statements (the compartment in one; a search per compartment type cost 67).

    The compartment's members are read as keys (type, id, lastUpdated); the documents are read
    for those whose references are followed and, by :func:`_load_contents`, for the page: a
    resident's AuditEvents (one per read of their record, each naming up to 100 resources,
    ~30 kB) were parsed on every ``$everything`` whatever the page, 0.3–0.5 s of CPU for a
    resident read a few hundred times."""
    registry = uow.search_params()
    pairs = [(t, code) for t, codes in compartment_params("Patient").items() for code in codes
             if registry.get(t, code) is not None] + [("Contract", "subject")]
    add(compartment_sql.rows(session, [("Patient", patient_id)]))
    members = sorted(compartment_sql.member_keys(session, "Patient", [patient_id], pairs), key=_row_key)
    add(compartment_sql.rows(session, [_row_key(m) for m in members if m.res_type not in NO_HOP]))
    add(members)  # the rest as keys (setdefault: the rows read above stay)
    referrals = sorted(k for k in gathered if k[0] == "ServiceRequest")
    add(sorted(compartment_sql.referrers(session, "Task", "focus", referrals), key=_row_key))
    records = list(gathered)
    missing = sorted(_references_of(gathered[key] for key in records if key[0] not in NO_HOP) - gathered.keys())
    add(compartment_sql.rows(session, missing))
    targets = [k for k in gathered if k[0] != "Provenance"]
    add(compartment_sql.referrers(session, "Provenance", "target", targets))


def _row_key(row) -> Key:
    return (row.res_type, row.res_id)


def _add_references(uow: UnitOfWork, records: list[Key], gathered: dict[Key, object], add) -> None:
    """One hop of references from the gathered records (practitioners, organisations, the
    contract's care team, locations...); other patients are not pulled in."""
    wanted = _references_of(gathered[key] for key in records if key[0] not in NO_HOP) - gathered.keys()
    found = []
    for res_type, res_id in sorted(wanted):
        stored = uow.get(res_type, res_id)
        if stored is not None and not stored.deleted:
            found.append(stored)
    add(found)


def _references_of(found: Iterable[object]) -> set[Key]:
    """The ``Type/id`` references (relative ones only, Patients left out) anywhere in the
    documents of ``found``; each distinct reference string judged once."""
    strings: set[str] = set()
    for item in found:
        strings.update(reference_strings(_content(item)))
    keys: set[Key] = set()
    for ref in strings:
        if ref.count("/") == 1 and not ref.startswith(("#", "urn:", "http")):
            res_type, res_id = ref.split("/")
            if res_type and res_id and res_type != "Patient":
                keys.add((res_type, res_id))
    return keys


def _load_contents(uow: UnitOfWork, page: list[Key], gathered: dict[Key, object]) -> None:
    """The documents of the page's resources gathered as keys only (in one statement per type)."""
    wanted = [key for key in page if getattr(gathered[key], "content", None) is None]
    index_session = getattr(uow, "index_session", None)
    if not wanted or index_session is None:
        return
    for row in compartment_sql.rows(index_session(), wanted):
        gathered[_row_key(row)] = row


def _chunks(values: list[str], size: int = 50) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _everything_links(request: FhirRequest, path: str, args: _EverythingArgs, total: int) -> list[dict]:
    base = [*args.items]
    if not any(k == "_count" for k, _ in base):
        base.append(("_count", str(args.count)))
    links = [link("self", request.base_url, path, [*base, ("_offset", str(args.offset))])]
    if args.offset:
        links.append(link("first", request.base_url, path, [*base, ("_offset", "0")]))
        previous = max(0, args.offset - args.count)
        links.append(link("previous", request.base_url, path, [*base, ("_offset", str(previous))]))
    if args.offset + args.count < total:
        links.append(link("next", request.base_url, path, [*base, ("_offset", str(args.offset + args.count))]))
    return links


OPERATIONS = [
    Operation("reindex", reindex, JIAYI_OPERATION + "reindex", system=True, type_level=True, instance=True,
              affects_state=True),
    Operation("everything", everything, R4_OPERATION + "Patient-everything", type_level=True, instance=True,
              resource_types=("Patient",)),
    Operation("meta", meta, R4_OPERATION + "Resource-meta", system=True, type_level=True, instance=True),
    Operation("meta-add", meta_add, R4_OPERATION + "Resource-meta-add", instance=True, affects_state=True),
    Operation("meta-delete", meta_delete, R4_OPERATION + "Resource-meta-delete", instance=True, affects_state=True),
]
