"""Building response Bundles: searchset, history, batch-response, transaction-response."""

from __future__ import annotations

from urllib.parse import urlencode

from fhir_server.core.instants import fhir_instant
from fhir_server.repository.base import StoredResource

STATUS_TEXT = {200: "200 OK", 201: "201 Created", 204: "204 No Content", 304: "304 Not Modified",
               400: "400 Bad Request", 404: "404 Not Found", 409: "409 Conflict", 410: "410 Gone",
               412: "412 Precondition Failed", 422: "422 Unprocessable Entity"}


def status_line(status: int) -> str:
    return STATUS_TEXT.get(status, str(status))


def bundle(bundle_type: str, entries: list[dict], total: int | None = None, links: list[dict] | None = None) -> dict:
    result: dict = {"resourceType": "Bundle", "type": bundle_type}
    if total is not None:
        result["total"] = total
    if links:
        result["link"] = links
    if entries:
        result["entry"] = entries
    return result


def link(relation: str, base_url: str, path: str, items: list[tuple[str, str]]) -> dict:
    query = urlencode(items)
    url = f"{base_url}/{path}".rstrip("/") + (f"?{query}" if query else "")
    return {"relation": relation, "url": url}


def full_url(base_url: str, stored: StoredResource) -> str:
    return f"{base_url}/{stored.res_type}/{stored.res_id}"


def history_entry(base_url: str, stored: StoredResource) -> dict:
    method = stored.method
    url = stored.res_type if method == "POST" else f"{stored.res_type}/{stored.res_id}"
    entry: dict = {"fullUrl": full_url(base_url, stored)}
    if stored.content is not None:
        entry["resource"] = stored.content
    entry["request"] = {"method": method, "url": url}
    entry["response"] = {
        "status": status_line(201 if stored.version == 1 else 204 if stored.deleted else 200),
        "etag": stored.etag,
        "lastModified": fhir_instant(stored.last_updated),
    }
    return entry
