"""What the importer asks the server before writing: the ids and versions of resources it
names by business identifier, in chunks of 100 values, by POST ``_search`` (so the 身份证号
and 档案编号 stay out of URLs and access logs)."""

from __future__ import annotations

from ..fhir_client import FhirClient

CHUNK = 100


def ids(client: FhirClient, res_type: str, values: list[str]) -> dict[str, str]:
    """identifier 'sys|value' → id of the one resource with it (ambiguous ones left out)."""
    out: dict[str, str] = {}
    seen: dict[str, int] = {}
    for start in range(0, len(values), CHUNK):
        chunk = values[start:start + CHUNK]
        wanted = set(chunk)
        params = {"identifier": ",".join(chunk), "_count": str(len(chunk) * 2), "_elements": "identifier"}
        for entry in client.pages(res_type, params):
            res = entry.get("resource") or {}
            for ident in res.get("identifier", []):
                key = f"{ident.get('system')}|{ident.get('value')}"
                if key in wanted:
                    seen[key] = seen.get(key, 0) + 1
                    out[key] = res["id"]
    return {k: v for k, v in out.items() if seen[k] == 1}


def versions(client: FhirClient, res_type: str, param: str, values: list[str]) -> dict[str, tuple[str, dict]]:
    """value → (versionId, resource) of the resources that exist now (identifier 'sys|value' or _id)."""
    out: dict[str, tuple[str, dict]] = {}
    for start in range(0, len(values), CHUNK):
        chunk = values[start:start + CHUNK]
        wanted = set(chunk)
        params = {param: ",".join(chunk), "_count": str(len(chunk) * 2)}
        for entry in client.pages(res_type, params):
            res = entry.get("resource") or {}
            version = (res.get("meta") or {}).get("versionId", "")
            if param == "_id":
                out[str(res.get("id"))] = (version, res)
            else:
                for ident in res.get("identifier", []):
                    key = f"{ident.get('system')}|{ident.get('value')}"
                    if key in wanted:
                        out[key] = (version, res)
    return out
