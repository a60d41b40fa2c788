"""The adapter's view of the Jiayi server: FHIR REST over HTTP (requests), nothing else.

One ``requests.Session`` per thread (the listener serves several connections at once).
"""

from __future__ import annotations

import threading

import requests

FHIR_JSON = "application/fhir+json"


class ServerRefused(Exception):
    """The server answered 4xx: the content is at fault (the message gets AE)."""

    def __init__(self, status: int, outcome: dict | None, text: str) -> None:
        self.status = status
        self.outcome = outcome or {}
        super().__init__(text)

    def diagnostics(self) -> list[tuple[str, list[str]]]:
        out = []
        for issue in self.outcome.get("issue", []):
            text = issue.get("diagnostics") or issue.get("details", {}).get("text") or issue.get("code", "")
            out.append((text, issue.get("expression", []) or issue.get("location", [])))
        return out or [(str(self), [])]


class ServerUnavailable(Exception):
    """No answer, or 5xx: nothing is known to be written; the sender should retry (AR, not remembered)."""


class FhirServer:
    def __init__(self, base_url: str, timeout: float = 60.0, headers: dict[str, str] | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        self.headers = {"Accept": FHIR_JSON, **(headers or {})}
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update(self.headers)
            self._local.session = session
        return session

    def _request(self, method: str, url: str, **kwargs) -> dict:
        if not url.startswith("http"):
            url = f"{self.base}/{url.lstrip('/')}"
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ServerUnavailable(f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 500:
            raise ServerUnavailable(f"HTTP {response.status_code}: {response.text[:300]}")
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {}
        if response.status_code >= 400:
            raise ServerRefused(response.status_code, body if body.get("resourceType") == "OperationOutcome" else None,
                                f"HTTP {response.status_code}: {response.text[:300]}")
        return body

    def get(self, url: str) -> dict:
        return self._request("GET", url)

    def transaction(self, bundle: dict) -> dict:
        return self._request("POST", "", json=bundle, headers={"Content-Type": FHIR_JSON})

    def read(self, reference: str) -> dict | None:
        try:
            return self._request("GET", reference)
        except ServerRefused as exc:
            if exc.status in (404, 410):
                return None
            raise

    def search(self, query: str) -> list[dict]:
        """All matches of ``Type?params`` (following next links)."""
        out: list[dict] = []
        url: str | None = query
        while url:
            page = self._request("GET", url)
            out.extend(e["resource"] for e in page.get("entry", []) if e.get("search", {}).get("mode", "match")
                       == "match" and "resource" in e)
            url = next((link["url"] for link in page.get("link", []) if link.get("relation") == "next"), None)
        return out

    def update(self, resource: dict, version: str | None = None) -> dict:
        headers = {"Content-Type": FHIR_JSON}
        if version:
            headers["If-Match"] = f'W/"{version}"'
        return self._request("PUT", f"{resource['resourceType']}/{resource['id']}", json=resource, headers=headers)
