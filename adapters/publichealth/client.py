"""The FHIR REST client of the adapter (requests): transactions, searches with paging."""

from __future__ import annotations

from collections.abc import Iterator

import requests

FHIR_JSON = "application/fhir+json"


class ServerError(Exception):
    """The server could not be reached or answered something that is not FHIR."""


class Client:
    def __init__(self, base_url: str, timeout: float = 300.0, session: requests.Session | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": FHIR_JSON})

    def _request(self, method: str, url: str, **kwargs) -> requests.Response:
        try:
            return self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ServerError(f"cannot reach the FHIR server at {self.base}: {exc}") from None

    def transaction(self, entries: list[dict]) -> tuple[int, dict]:
        """POST a transaction Bundle; (HTTP status, response body: Bundle or OperationOutcome)."""
        body = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        response = self._request("POST", self.base, json=body,
                                 headers={"Content-Type": FHIR_JSON, "Prefer": "return=minimal"})
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, {"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "exception", "diagnostics": response.text[:500]}]}

    def search(self, res_type: str, params: dict | list, post: bool = False) -> Iterator[dict]:
        """Every entry of a search, following the ``next`` links."""
        if post:
            response = self._request("POST", f"{self.base}/{res_type}/_search", data=params,
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        else:
            response = self._request("GET", f"{self.base}/{res_type}", params=params)
        while True:
            if response.status_code != 200:
                raise ServerError(f"search {res_type} failed with HTTP {response.status_code}: {response.text[:300]}")
            page = response.json()
            yield from page.get("entry", [])
            link = next((x["url"] for x in page.get("link", []) if x.get("relation") == "next"), None)
            if not link:
                return
            response = self._request("GET", link)

    def ids(self, res_type: str, values: list[str]) -> dict[str, str]:
        """identifier 'sys|value' → id of the one resource with it (ambiguous ones left out)."""
        out: dict[str, str] = {}
        seen: dict[str, int] = {}
        for start in range(0, len(values), 100):
            chunk = values[start:start + 100]
            wanted = set(chunk)
            params = {"identifier": ",".join(chunk), "_count": str(len(chunk) * 2), "_elements": "identifier"}
            for entry in self.search(res_type, params, post=True):
                res = entry.get("resource") or {}
                for ident in res.get("identifier", []):
                    key = f"{ident.get('system')}|{ident.get('value')}"
                    if key in wanted:
                        seen[key] = seen.get(key, 0) + 1
                        out[key] = res["id"]
        return {k: v for k, v in out.items() if seen[k] == 1}

    def versions(self, res_type: str, param: str, values: list[str]) -> dict[str, tuple[str, dict]]:
        """value → (versionId, resource) of the resources that exist now (identifier 'sys|value' or _id)."""
        out: dict[str, tuple[str, dict]] = {}
        for start in range(0, len(values), 100):
            chunk = values[start:start + 100]
            wanted = set(chunk)
            params = {param: ",".join(chunk), "_count": str(len(chunk) * 2)}
            for entry in self.search(res_type, params, post=True):
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
