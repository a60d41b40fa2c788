"""An export read back (``jiayi load DIR``): the NDJSON files of a Bulk Data export, or the ones
its manifest lists, written into a database with their ids, so that references still hold.

This is a restore, not new clinical input: each resource is checked against base R4 (a bad
line is reported with its file and line number and skipped), but the domain's write rules do
not run, since what they would derive is in the export already.  A resource already stored
with the same content is left alone, so loading twice changes nothing.  Files are read line by
line and written in transactions of :data:`BATCH` resources.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

from fhir_server.bulk.files import ERRORS
from fhir_server.core import jsonio
from fhir_server.repository.base import same_content
from fhir_server.repository.sql import SqlRepository
from fhir_server.storage.db import Database
from fhir_server.storage.migrate import upgrade
from fhir_server.validation import validate_resource

BATCH = 500


def export_files(source: str | Path) -> list[Path]:
    """The NDJSON files of a folder (error files aside), or those a manifest file lists."""
    path = Path(source)
    if path.is_dir():
        return sorted(p for p in path.glob("*.ndjson") if not p.name.startswith(ERRORS + "-"))
    if path.suffix == ".ndjson":
        return [path]
    manifest = jsonio.loads(path.read_bytes())
    return [path.parent / Path(unquote(urlparse(o["url"]).path)).name for o in manifest.get("output") or []]


def load_export(source: str | Path, database_url: str, echo: Callable[[str], None] = print) -> dict[str, int]:
    database = Database(database_url)
    upgrade(database.engine)
    repository = SqlRepository(database)  # no write hooks: see the module doc
    counts: dict[str, int] = {}
    try:
        for file in export_files(source):
            for batch in _batches(file, echo):
                with repository.unit_of_work(write=True) as uow:
                    uow.prefetch((r["resourceType"], r["id"]) for r in batch)
                    for resource in batch:
                        res_type, res_id = resource["resourceType"], resource["id"]
                        previous = uow.get(res_type, res_id)
                        if previous is None or previous.deleted or not same_content(previous.content or {}, resource):
                            uow.save("PUT", res_type, res_id, resource, previous)
                        counts[res_type] = counts.get(res_type, 0) + 1
    finally:
        database.dispose()
    return counts


def _batches(file: Path, echo: Callable[[str], None]) -> Iterator[list[dict]]:
    batch: list[dict] = []
    with open(file, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            resource = _resource(raw, f"{file.name}:{number}", echo)
            if resource is not None:
                batch.append(resource)
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def _resource(raw: bytes, where: str, echo: Callable[[str], None]) -> dict | None:
    if not raw.strip():
        return None
    try:
        resource = jsonio.loads(raw)
    except Exception as exc:  # noqa: BLE001 - any unreadable line is reported and skipped
        echo(f"{where}: not JSON ({exc}); skipped")
        return None
    if not isinstance(resource, dict) or not isinstance(resource.get("id"), str):
        echo(f"{where}: not a resource with an id; skipped")
        return None
    errors = [i for i in validate_resource(resource, str(resource.get("resourceType"))) if i.is_error]
    if errors:
        echo(f"{where}: {resource.get('resourceType')}/{resource['id']} is not valid R4 "
             f"({errors[0].diagnostics}); skipped")
        return None
    return resource
