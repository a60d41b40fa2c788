"""Import a public-health file into the FHIR server: read, normalise, validate, map, write.

Writes go through the server's REST API in transaction bundles of ``batch_size`` rows,
never into the database.  Every business object is written with a conditional or
id-stable PUT on its business identifier, so importing a file again changes nothing
and an interrupted import can simply be run again.

A bad record never sinks the good ones (``on_error="skip"``, the default): records are
validated locally first (JSON Schema); when the server refuses a bundle, the entry it
names is taken out and the rest is sent again, and when it names none the bundle is
split in halves until the refused record is alone.  ``on_error="reject"`` writes nothing
if any record is bad, and sends the whole file as one transaction (all or nothing).
"""

from __future__ import annotations

import copy
import csv
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..fhir_client import Auth, FhirClient
from . import import_audit, lookups, mapping, normalise, readers, tables
from .columns import JSON_ERROR, Columns
from .derived import FamilyDoctors

_ENTRY = re.compile(r"Bundle\.entry\[(\d+)\]")
CONCURRENT_RETRIES = 4  # a bundle refused because of a concurrent write (409 "... concurrent ...; retry") is sent again


@dataclass(slots=True)
class RowError:
    file: str
    row: int
    field: str
    value: str
    reason: str
    group: str | None = None  # the 协议编号 / 团队编号 of the bad row (multi-row forms)


@dataclass(slots=True)
class ImportResult:
    file: str
    record_type: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    households: int = 0
    errors: list[RowError] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # about the file (columns ignored)
    seconds: float = 0.0
    error_report: str | None = None

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        text = (f"{self.rows} rows of {tables.TITLES[self.record_type]} ({self.record_type}) from {self.file}: "
                f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
                f"rejected {self.rejected}")
        if self.households:
            text += f"; {self.households} households"
        return text + f" in {self.seconds:.1f} s ({self.rate:.0f} rows/s)"


def read_records(path: str | Path, record_type: str, fmt: str | None = None, *, strict_columns: bool = False,
                 notices: list[str] | None = None) -> tuple[list[tuple[int, dict]], list[RowError], int]:
    """(good (row, record) pairs, errors, number of rows) of a file, normalised and validated.
    Columns the form does not know are ignored and reported once in ``notices`` (unless
    ``strict_columns``: then each row with a value in one is refused)."""
    name = str(path)
    good, errors, count = [], [], 0
    columns = Columns(record_type, strict=strict_columns)
    for row, raw in readers.read(path, fmt):
        count += 1
        cells = columns.canonical(raw)
        if JSON_ERROR in cells:
            errors.append(RowError(name, row, "", "", cells[JSON_ERROR]))
            continue
        record, problems = normalise.normalise(record_type, cells)
        if problems and _doctor_left_blank(record_type, record, problems):
            problems = []  # the family doctor of the contract in force, when writing (derived.py)
        group = mapping.GROUP_KEYS.get(record_type)
        if problems:
            key = None
            if group:
                header = tables.form(record_type).by_key[group].header
                key = normalise.clean(next((v for k, v in cells.items() if k in (group, header)), None))
            errors += [RowError(name, row, p.field, "" if p.value is None else str(p.value), p.reason, key)
                       for p in problems]
        else:
            good.append((row, record))
    if notices is not None:
        notices.extend(columns.notices)
    return good, errors, count


def _doctor_left_blank(record_type: str, record: dict, problems: list) -> bool:
    """A follow-up whose one problem is that 随访医生 (and 随访医生编号) is blank."""
    if record_type not in mapping.VISIT_SYSTEMS or record.get("doctor_card"):
        return False
    header = tables.form(record_type).by_key["doctor"].header
    return all(p.field == header and not p.value for p in problems)


def write_error_report(path: str | Path, errors: list[RowError]) -> str:
    report = f"{path}.errors.csv"
    with open(report, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "row", "field", "value", "reason"])
        for e in sorted(errors, key=lambda e: e.row):
            writer.writerow([e.file, e.row, e.field, e.value, e.reason])
    return report


class _Writer:
    """Sends units in transaction bundles and isolates the ones the server refuses."""

    def __init__(self, client: FhirClient, result: ImportResult) -> None:
        self.client = client
        self.result = result
        self.family_doctors = FamilyDoctors(client)

    def write(self, units: list[mapping.Unit]) -> list[mapping.Unit]:
        """Write the units that changed; count them all; return the ones now on the server."""
        priors = self._priors(units)
        fresh, same = self.split(units, priors)
        written: list[mapping.Unit] = list(same)
        self._send(self.resolve(fresh), priors, written)
        return written

    def split(self, units: list[mapping.Unit], priors: dict) -> tuple[list[mapping.Unit], list[mapping.Unit]]:
        """(units to send, units whose stored source hash equals theirs: unchanged, nothing sent)."""
        fresh, same = [], []
        for unit in units:
            prior = priors.get(unit.entries[0].lookup)
            if prior is not None and mapping.stored_hash(prior[1]) == unit.extra.get("hash"):
                same.append(unit)
                self.result.unchanged += len(unit.rows)
            else:
                fresh.append(unit)
        return fresh, same

    def resolve(self, units: list[mapping.Unit]) -> list[mapping.Unit]:
        """Conditional references (``Patient?identifier=sys|v``) → literal ones, in one search per
        type; a unit naming something that is neither on the server nor in the batch is refused here."""
        local = {e.url for u in units for e in u.entries if "?" in e.url and e.method == "PUT"}
        wanted: dict[str, set[str]] = {}
        for unit in units:
            for entry in unit.entries:
                for ref in _conditional_refs(entry.resource):
                    if ref not in local:
                        res_type, value = ref.split("?identifier=", 1)
                        wanted.setdefault(res_type, set()).add(value)
        found: dict[str, str] = {}
        for res_type, values in wanted.items():
            for value, rid in lookups.ids(self.client, res_type, sorted(values)).items():
                found[f"{res_type}?identifier={value}"] = f"{res_type}/{rid}"
        kept = []
        for unit in units:
            missing = sorted({ref for e in unit.entries for ref in _conditional_refs(e.resource)
                              if ref not in local and ref not in found})
            if missing:
                self._reject(unit, "not found: " + ", ".join(_describe(m) for m in missing))
                continue
            for entry in unit.entries:
                if any(True for _ in _conditional_refs(entry.resource)):
                    _rewrite(entry.resource, found)
            kept.append(unit)
        return self.family_doctors.fill(kept, lambda unit, reason: self._reject(unit, reason, "随访医生", ""))

    def _priors(self, units: list[mapping.Unit]) -> dict[tuple[str, str, str], tuple[str, dict]]:
        wanted: dict[tuple[str, str], list[str]] = {}
        for unit in units:  # the main resource only: it carries the hash of the whole object
            entry = unit.entries[0]
            if entry.lookup:
                res_type, param, value = entry.lookup
                wanted.setdefault((res_type, param), []).append(value)
        priors = {}
        for (res_type, param), values in wanted.items():
            for value, version in lookups.versions(self.client, res_type, param, values).items():
                priors[(res_type, param, value)] = version
        return priors

    def _bundle(self, units: list[mapping.Unit]) -> tuple[list[dict], list[mapping.Unit | None]]:
        entries: list[dict] = []
        owners: list[mapping.Unit | None] = []
        seen: set[str] = set()
        for unit in units:
            for key, entry in unit.support.items():
                if key not in seen:
                    seen.add(key)
                    entries.append(entry.bundle_entry())
                    owners.append(None)
        local = {e.url: e.full_url for u in units for e in u.entries if "?" in e.url and e.method == "PUT"}
        for unit in units:
            for entry in unit.entries:
                item = entry.bundle_entry()
                if local and _refers(item["resource"], local):
                    item["resource"] = _rewrite(copy.deepcopy(item["resource"]), local)
                entries.append(item)
                owners.append(unit)
        return entries, owners

    def _send(self, units: list[mapping.Unit], priors: dict, written: list[mapping.Unit]) -> None:
        if not units:
            return
        entries, owners = self._bundle(units)
        status, body = self._post(_transaction(entries))
        if status == 200 and body.get("resourceType") == "Bundle":
            self._count(units, body, priors)
            written.extend(units)
            return
        reason = _diagnostics(body, status)
        if len(units) == 1:
            self._reject(units[0], reason)
            return
        match = _ENTRY.search(reason)
        owner = owners[int(match[1])] if match and int(match[1]) < len(owners) else None
        if owner is not None and status < 500:
            self._reject(owner, _ENTRY.sub("", reason).lstrip(": "))
            self._send([u for u in units if u is not owner], priors, written)
            return
        half = len(units) // 2
        self._send(units[:half], priors, written)
        self._send(units[half:], priors, written)

    def _post(self, bundle: dict) -> tuple[int, dict]:
        """POST a transaction; again, after a pause, while the server answers that a concurrent
        write got in the way (bundles in flight side by side, ``--parallel``: nothing of the
        refused one was written)."""
        for attempt in range(CONCURRENT_RETRIES + 1):
            status, body = self.client.post_bundle(bundle, prefer="return=minimal")
            if status != 409 or "concurrent" not in _diagnostics(body, status) or attempt == CONCURRENT_RETRIES:
                return status, body
            time.sleep(0.1 * 2 ** attempt)
        return status, body

    def write_all(self, units: list[mapping.Unit]) -> bool:
        """All the units in one transaction (all or nothing); False, with the reason among the
        result's errors, when anything is refused."""
        priors = self._priors(units)
        fresh, _same = self.split(units, priors)
        fresh = self.resolve(fresh)
        if self.result.errors:
            return False
        if not fresh:
            return True
        entries, _ = self._bundle(fresh)
        status, body = self.client.post_bundle(_transaction(entries), prefer="return=minimal")
        if status != 200:
            self.result.errors.append(RowError(self.result.file, 0, "", "", "the server refused the file (all or "
                                               f"nothing): {_diagnostics(body, status)}"))
            return False
        self._count(fresh, body, priors)
        return True

    def _reject(self, unit: mapping.Unit, reason: str, field_name: str = "",
                prefix: str = "refused by the server: ") -> None:
        for row in unit.rows:
            self.result.errors.append(RowError(self.result.file, row, field_name, unit.label, prefix + reason))
        self.result.rejected += len(unit.rows)

    def _count(self, units: list[mapping.Unit], body: dict, priors: dict) -> None:
        """created: the main resource is new; updated: it existed (its hash differed, so it changed)."""
        responses = body.get("entry", [])
        index = len({k for u in units for k in u.support})
        for unit in units:
            response = (responses[index] if index < len(responses) else {}).get("response", {})
            index += len(unit.entries)
            version = (response.get("etag") or "").removeprefix("W/").strip('"')
            prior = priors.get(unit.entries[0].lookup)
            rows = len(unit.rows)
            if response.get("status", "")[:3] == "201" or prior is None:
                self.result.created += rows
            elif version == prior[0]:
                self.result.unchanged += rows
            else:
                self.result.updated += rows


_NAMES = {mapping.ID_CARD: "身份证号", mapping.HEALTH_RECORD: "档案编号", mapping.TEAM_CODE: "团队编号",
          mapping.DOCTOR_CARD: "医生编号", mapping.USCC: "机构编码", mapping.HOUSEHOLD: "家庭档案编号",
          mapping.REFERRAL_NUMBER: "转诊单号"}


def _describe(ref: str) -> str:
    res_type, value = ref.split("?identifier=", 1)
    system, _, code = value.rpartition("|")
    return f"{res_type} with {_NAMES.get(system, system)} {code}"


def _conditional_refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "reference" and isinstance(v, str) and "?identifier=" in v:
                yield v
            elif isinstance(v, (dict, list)):
                yield from _conditional_refs(v)
    elif isinstance(node, list):
        for x in node:
            yield from _conditional_refs(x)


def _refers(node, local: dict) -> bool:
    if isinstance(node, dict):
        return any((k == "reference" and isinstance(v, str) and v in local) or _refers(v, local)
                   for k, v in node.items())
    if isinstance(node, list):
        return any(_refers(x, local) for x in node)
    return False


def _rewrite(node, local: dict):
    """Conditional references to a resource written in the same bundle → its fullUrl."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "reference" and isinstance(v, str) and v in local:
                node[k] = local[v]
            else:
                _rewrite(v, local)
    elif isinstance(node, list):
        for x in node:
            _rewrite(x, local)
    return node


def _transaction(entries: list[dict]) -> dict:
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _diagnostics(body: dict, status: int) -> str:
    issues = body.get("issue", []) if isinstance(body, dict) else []
    text = "; ".join(i.get("diagnostics") or i.get("details", {}).get("text") or i.get("code", "") for i in issues)
    return f"HTTP {status}: {text or 'no details'}"


def import_file(path: str | Path, record_type: str, server: str, *, batch_size: int = 200,
                on_error: str = "skip", fmt: str | None = None,
                progress: Callable[[int], None] | None = None, client: FhirClient | None = None,
                on_start: Callable[[int], None] | None = None, auth: Auth | None = None,
                strict_columns: bool = False, parallel: int = 1, audit: bool = True) -> ImportResult:
    """Import one file; returns the counts and every error (also written to ``<path>.errors.csv``).

    ``parallel``: bundles in flight at once (``--parallel N``; with ``on_error="skip"``), so the
    server prepares several while one is written; the counts and errors are the same as one
    at a time, in the order of the file.  ``audit``: the run is recorded on the server as an
    AuditEvent (``import_audit``: the counts and the first refused rows, no cell values)."""
    if on_error not in ("skip", "reject"):
        raise ValueError("on_error is 'skip' or 'reject'")
    tables.form(record_type)
    client = client or FhirClient(server, auth=auth, timeout=300.0)
    result = _import_file(path, record_type, client, batch_size, on_error, fmt, progress, on_start,
                          strict_columns, parallel)
    if audit:
        import_audit.record(client, result)
    return result


def _import_file(path: str | Path, record_type: str, client: FhirClient, batch_size: int, on_error: str,
                 fmt: str | None, progress: Callable[[int], None] | None, on_start: Callable[[int], None] | None,
                 strict_columns: bool, parallel: int) -> ImportResult:
    started = time.perf_counter()
    result = ImportResult(str(path), record_type)
    good, errors, result.rows = read_records(path, record_type, fmt, strict_columns=strict_columns,
                                             notices=result.notices)
    result.errors.extend(errors)
    if on_start:
        on_start(result.rows)
    if on_error == "reject" and errors:
        result.rejected = result.rows
        return _finish(result, path, started)
    rejected_before = len({e.row for e in errors})
    result.rejected += rejected_before
    good = _whole_objects(record_type, good, errors, result)
    if progress and rejected_before:
        progress(rejected_before)
    writer = _Writer(client, result)
    size = max(1, len(good) if on_error == "reject" else batch_size)
    households = _Households()
    if parallel > 1 and on_error == "skip":
        _write_parallel(client, result, _batches(record_type, good, size), parallel, households, progress)
        households.write(client, result, size)
        return _finish(result, path, started)
    for units in _batches(record_type, good, size):
        if on_error == "reject":
            if not writer.write_all(units):
                result.rejected = result.rows
                return _finish(result, path, started)
            written = units
        else:
            written = writer.write(units)
        households.add(written)
        if progress:
            progress(sum(len(u.rows) for u in units))
    households.write(client, result, size)
    return _finish(result, path, started)


def _write_parallel(client: FhirClient, result: ImportResult, batches: Iterator[list[mapping.Unit]], parallel: int,
                    households: _Households, progress: Callable[[int], None] | None) -> None:
    """Each batch written by its own writer on one of ``parallel`` threads (the client keeps a
    connection per thread); their counts and errors merged in the order of the batches."""

    def write(units: list[mapping.Unit]) -> tuple[ImportResult, list[mapping.Unit], int]:
        part = ImportResult(result.file, result.record_type)
        return part, _Writer(client, part).write(units), sum(len(u.rows) for u in units)

    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="jiayi-import") as pool:
        for part, written, rows in pool.map(write, batches):
            result.created += part.created
            result.updated += part.updated
            result.unchanged += part.unchanged
            result.rejected += part.rejected
            result.errors.extend(part.errors)
            households.add(written)
            if progress:
                progress(rows)


def _whole_objects(record_type: str, good: list[tuple[int, dict]], errors: list[RowError],
                   result: ImportResult) -> list[tuple[int, dict]]:
    """A multi-row object (contract, team) is written whole or not at all: the good rows of an
    object with a bad row, or whose rows disagree on the object's own fields, are refused too."""
    key = mapping.GROUP_KEYS.get(record_type)
    if not key:
        return good
    f = tables.form(record_type)
    bad_keys = {e.group for e in errors if e.group}
    for row, rec in good:
        if rec[key] in bad_keys:
            result.errors.append(RowError(result.file, row, f.by_key[key].header, rec[key],
                                          f"another row of {rec[key]} is bad, so it is not written"))
            result.rejected += 1
    good = [(row, rec) for row, rec in good if rec[key] not in bad_keys]
    objects: dict[str, list[tuple[int, dict]]] = {}
    for row, rec in good:
        objects.setdefault(rec[key], []).append((row, rec))
    for number, items in objects.items():
        problems = mapping.disagreements(record_type, [rec for _row, rec in items])
        if problems:
            field_key, first_value, value = problems[0]
            header = f.by_key[field_key].header
            for row, _rec in items:
                result.errors.append(RowError(result.file, row, header, str(value),
                                              f"the rows of {number} disagree on {header} "
                                              f"({first_value!r} / {value!r}); it is not written"))
            result.rejected += len(items)
            bad_keys.add(number)
    return [(row, rec) for row, rec in good if rec[key] not in bad_keys]


def _batches(record_type: str, good: list[tuple[int, dict]], size: int) -> Iterator[list[mapping.Unit]]:
    """The units to write, about ``size`` rows at a time (a multi-row object never split)."""
    if not mapping.GROUP_KEYS.get(record_type):
        for start in range(0, len(good), size):
            yield mapping.units(record_type, good[start:start + size])
        return
    current: list[mapping.Unit] = []
    count = 0
    for unit in mapping.units(record_type, good):
        current.append(unit)
        count += len(unit.rows)
        if count >= size:
            yield current
            current, count = [], 0
    if current:
        yield current


class _Households:
    """The households (家庭档案) of the residents written, written last as Groups."""

    def __init__(self) -> None:
        self.members: dict[str, list] = {}
        self.rows: dict[str, list[int]] = {}

    def add(self, written: list[mapping.Unit]) -> None:
        for unit in written:
            if "household" in unit.extra:
                number, id_number, relation, name = unit.extra["household"]
                self.members.setdefault(number, []).append((id_number, relation, name))
                self.rows.setdefault(number, []).extend(unit.rows)

    def write(self, client: FhirClient, result: ImportResult, size: int) -> None:
        if not self.members:
            return
        group_units = [mapping.household(self.rows[n], n, m) for n, m in self.members.items()]
        counter = ImportResult(result.file, result.record_type)
        writer = _Writer(client, counter)
        for start in range(0, len(group_units), max(1, size)):
            writer.write(group_units[start:start + size])
        result.households = counter.created + counter.updated + counter.unchanged
        for e in counter.errors:
            e.reason = f"household {e.value}: {e.reason}"
            e.field = "家庭档案编号"
        result.errors.extend(counter.errors)


def _finish(result: ImportResult, path: str | Path, started: float) -> ImportResult:
    result.seconds = time.perf_counter() - started
    report = Path(f"{path}.errors.csv")
    if result.errors:
        result.error_report = write_error_report(path, result.errors)
    elif report.exists():
        report.unlink()
    return result
