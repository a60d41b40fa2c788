"""The console's FHIR client: every call goes through Jiayi's own FHIR API in-process, with
the signed-in user's bearer token.

The same :class:`~fhir_server.auth.Authenticator` that guards ``/fhir`` verifies the token on
every call and the same :class:`~fhir_server.interactions.router.Router` answers it (access
by relationship, audit, validation, the domain's write rules).  Only the HTTP encoding is
skipped: no back door, no second copy of a rule (docs/decisions.md "The console is a client
of the FHIR API, in-process").
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from fhir_server.auth import Authenticator
from fhir_server.core.errors import FHIRError
from fhir_server.interactions.context import FhirRequest
from fhir_server.interactions.router import Router


@dataclass
class Answer:
    status: int
    resource: dict | None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def entries(self) -> list[dict]:
        """The resources of a searchset (match and include)."""
        bundle = self.resource or {}
        return [e["resource"] for e in bundle.get("entry") or [] if isinstance(e.get("resource"), dict)]

    def message(self) -> str:
        """The diagnostics of an OperationOutcome (an error's explanation)."""
        issues = (self.resource or {}).get("issue") or []
        return "; ".join(i.get("diagnostics") or (i.get("details") or {}).get("text") or i.get("code", "")
                         for i in issues) or f"HTTP {self.status}"


class FhirClient:
    """``client.get("Patient?name=王")``, ``client.post("Contract/1/$renew", parameters)``."""

    def __init__(self, router: Router, authenticator: Authenticator, token: str | None,
                 base_url: str, remote_addr: str | None = None, at_once: bool = False) -> None:
        self.at_once = at_once  # a screen's independent calls may run together (views.common.together)
        self.router = router
        self.authenticator = authenticator
        self.token = token
        self.base_url = base_url
        self.remote_addr = remote_addr

    def get(self, url: str, max_age: int | None = None, only_if_cached: bool = False) -> Answer:
        """``max_age``: an answer that many seconds old will do (``Cache-Control: max-age``);
        ``only_if_cached``: only such an answer, else 504 at once (``Cache-Control: only-if-cached``)."""
        return self.call("GET", url, max_age=max_age, only_if_cached=only_if_cached)

    def search(self, url: str) -> list[dict]:
        """The resources a search finds; an error (403: out of the user's reach) finds none."""
        answer = self.get(url)
        return answer.entries() if answer.ok else []

    def read(self, reference: str | None) -> dict | None:
        if not reference or "/" not in reference:
            return None
        answer = self.get(reference)
        return answer.resource if answer.ok else None

    def post(self, url: str, body: dict) -> Answer:
        return self.call("POST", url, body)

    def put(self, url: str, body: dict) -> Answer:
        return self.call("PUT", url, body)

    def call(self, method: str, url: str, body: dict | None = None, max_age: int | None = None,
             only_if_cached: bool = False) -> Answer:
        parts = urlsplit(url)
        path = parts.path.strip("/")
        authorization = f"Bearer {self.token}" if self.token else None
        try:
            principal = self.authenticator.principal(authorization, self.remote_addr, path, self.base_url)
            request = FhirRequest(method=method, path=path, query=parse_qsl(parts.query, keep_blank_values=True),
                                  body=body, base_url=self.base_url, principal=principal, max_age=max_age,
                                  only_if_cached=only_if_cached)
            response = self.router.handle(request)
        except FHIRError as error:
            return Answer(error.status, error.outcome())
        return Answer(response.status, response.resource)
