"""The adapters' one client of the Jiayi FHIR REST API (``requests`` sessions).

* One ``requests.Session`` per thread (the HL7 listener serves several connections at once).
* Transient answers are retried with exponential backoff: no connection, 429, 502, 503,
  504 and a 409 that says the database was busy (nothing was written, SPEC §6).  After the
  last attempt they raise :class:`ServerUnavailable`; any other 5xx raises it at once.
* 4xx raises :class:`ServerRefused` with the OperationOutcome (``post_bundle`` returns the
  status and body instead, for callers that isolate refused entries themselves).
* Authentication: a bearer token, or OAuth2 client credentials (the token is fetched from
  the token URL with ``requests``, cached until shortly before it expires, and fetched again
  once when the server answers 401).  See :func:`auth_from_options`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qsl

import requests

from fhir_server.core import jsonio
from fhir_server.core.errors import BadRequest

FHIR_JSON = "application/fhir+json"
FORM = "application/x-www-form-urlencoded"
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
_ANY_DEPTH = 10_000  # the server's own answers: no depth guard needed


class ServerRefused(Exception):
    """The server answered 4xx: the content is at fault."""

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
    """No answer, a 5xx or a transient refusal after the retries: nothing is known to be
    written, the same request may be sent again later."""


class AuthError(Exception):
    """The token endpoint refused the client credentials (or could not be reached)."""


def is_transient(response: requests.Response) -> bool:
    """429/502/503/504, or a 409 whose OperationOutcome says the database was busy."""
    if response.status_code in TRANSIENT_STATUSES:
        return True
    if response.status_code != 409:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    issues = body.get("issue", []) if isinstance(body, dict) else []
    return any(i.get("code") in ("transient", "lock-error") or "busy" in str(i.get("diagnostics", "")).lower()
               for i in issues)


class BearerToken(requests.auth.AuthBase):
    """A fixed bearer token."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request

    def refresh(self) -> bool:
        return False  # nothing to refresh: a 401 stays a 401


class ClientCredentials(requests.auth.AuthBase):
    """OAuth2 client credentials grant (RFC 6749 §4.4), the token cached until it expires."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, scope: str | None = None,
                 timeout: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.timeout = timeout
        self.clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def token(self) -> str:
        with self._lock:
            if self._token is None or self.clock() >= self._expires:
                self._fetch()
            assert self._token is not None
            return self._token

    def refresh(self) -> bool:
        with self._lock:
            self._token = None
        return True

    def _fetch(self) -> None:
        data = {"grant_type": "client_credentials"}
        if self.scope:
            data["scope"] = self.scope
        try:
            response = requests.post(self.token_url, data=data, auth=(self.client_id, self.client_secret),
                                     headers={"Accept": "application/json"}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise AuthError(f"cannot reach the token endpoint {self.token_url}: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not body.get("access_token"):
            reason = body.get("error_description") or body.get("error") or f"HTTP {response.status_code}"
            raise AuthError(f"the token endpoint refused the client credentials: {reason}")
        self._token = str(body["access_token"])
        lifetime = float(body.get("expires_in") or 300)
        self._expires = self.clock() + max(lifetime - 30, lifetime / 2)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request


Auth = BearerToken | ClientCredentials


def auth_from_options(token: str | None = None, client_id: str | None = None, client_secret: str | None = None,
                      token_url: str | None = None, scope: str | None = None) -> Auth | None:
    """The authentication the CLI options (or their environment variables) ask for."""
    if token:
        return BearerToken(token)
    given = [x for x in (client_id, client_secret, token_url) if x]
    if not given:
        return None
    if len(given) != 3:
        raise ValueError("client credentials need all three of --client-id, --client-secret and --token-url "
                         "(or JIAYI_CLIENT_ID, JIAYI_CLIENT_SECRET, JIAYI_TOKEN_URL)")
    return ClientCredentials(str(token_url), str(client_id), str(client_secret), scope)


class FhirClient:
    def __init__(self, base_url: str, *, auth: Auth | None = None, timeout: float = 60.0, retries: int = 3,
                 backoff: float = 0.5, sleep: Callable[[float], None] = time.sleep,
                 session_factory: Callable[[], requests.Session] = requests.Session) -> None:
        self.base = base_url.rstrip("/")
        self.auth = auth
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self._session_factory = session_factory
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._session_factory()
            session.headers.update({"Accept": FHIR_JSON})
            if self.auth is not None:
                session.auth = self.auth
            self._local.session = session
        return session

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base}/{path.lstrip('/')}" if path \
            else self.base

    # --- the one request loop -------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """The response, after retrying transient failures; raises ServerUnavailable when they last."""
        url = self.url(path)
        refreshed = False
        attempt = 0
        while True:
            try:
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.RequestException as exc:
                reason = f"{type(exc).__name__}: cannot reach the FHIR server at {self.base}"
                response = None
            if response is not None and response.status_code == 401 and not refreshed and self.auth is not None \
                    and self.auth.refresh():
                refreshed = True
                continue
            if response is not None and not is_transient(response):
                return response
            if response is not None:
                reason = f"HTTP {response.status_code}: {_short(response)}"
            if attempt >= self.retries:
                raise ServerUnavailable(reason)
            self.sleep(self._delay(attempt, response))
            attempt += 1

    def _delay(self, attempt: int, response: requests.Response | None) -> float:
        after = response.headers.get("Retry-After", "") if response is not None else ""
        if after.isdigit():
            return min(float(after), 30.0)
        return self.backoff * (2 ** attempt)

    def json(self, method: str, path: str, **kwargs) -> dict:
        """The JSON body of a 2xx answer; 4xx → ServerRefused, 5xx → ServerUnavailable."""
        response = self.request(method, path, **kwargs)
        if response.status_code >= 500:
            raise ServerUnavailable(f"HTTP {response.status_code}: {_short(response)}")
        body = _body(response)
        if response.status_code >= 400:
            raise ServerRefused(response.status_code, body if body.get("resourceType") == "OperationOutcome" else None,
                                f"HTTP {response.status_code}: {_short(response)}")
        return body

    # --- interactions ----------------------------------------------------------------------
    def get(self, path: str) -> dict:
        return self.json("GET", path)

    def read(self, reference: str) -> dict | None:
        try:
            return self.json("GET", reference)
        except ServerRefused as exc:
            if exc.status in (404, 410):
                return None
            raise

    def update(self, resource: dict, version: str | None = None) -> dict:
        headers = {"Content-Type": FHIR_JSON}
        if version:
            headers["If-Match"] = f'W/"{version}"'
        path = f"{resource['resourceType']}/{resource['id']}"
        return self.json("PUT", path, data=jsonio.dumps(resource), headers=headers)

    def create(self, resource: dict) -> dict:
        """POST a new resource to its type; the created resource (4xx → ServerRefused)."""
        return self.json("POST", resource["resourceType"], data=jsonio.dumps(resource),
                         headers={"Content-Type": FHIR_JSON})

    def transaction(self, bundle: dict) -> dict:
        """POST a Bundle to the base; the response Bundle (4xx → ServerRefused)."""
        return self.json("POST", "", data=jsonio.dumps(bundle), headers={"Content-Type": FHIR_JSON})

    def post_bundle(self, bundle: dict, prefer: str | None = None) -> tuple[int, dict]:
        """POST a Bundle; (HTTP status, body: a Bundle or an OperationOutcome).  Transient
        failures are retried and then raise ServerUnavailable; other answers are returned."""
        headers = {"Content-Type": FHIR_JSON}
        if prefer:
            headers["Prefer"] = prefer
        response = self.request("POST", "", data=jsonio.dumps(bundle), headers=headers)
        body = _body(response)
        if not body:
            body = {"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "exception", "diagnostics": _short(response)}]}
        return response.status_code, body

    def pages(self, resource_type: str, params: dict | list | None = None, post: bool = True) -> Iterator[dict]:
        """Every entry of a search, following the ``next`` links.  ``post``: POST ``_search`` with a
        form body, so search values (身份证号...) stay out of URLs and access logs."""
        if post:
            page = self.json("POST", f"{resource_type}/_search", data=params or {},
                             headers={"Content-Type": FORM})
        else:
            page = self.json("GET", resource_type, params=params)
        while True:
            yield from page.get("entry", [])
            link = next((x["url"] for x in page.get("link", []) if x.get("relation") == "next"), None)
            if not link:
                return
            page = self.json("GET", link)

    def search(self, query: str, post: bool = True) -> list[dict]:
        """The matches (not includes) of ``Type?params`` over all pages."""
        resource_type, _, params = query.partition("?")
        pairs = parse_qsl(params, keep_blank_values=True)
        return [e["resource"] for e in self.pages(resource_type, pairs, post=post)
                if e.get("search", {}).get("mode", "match") == "match" and "resource" in e]


def _body(response: requests.Response) -> dict:
    """The JSON body (decimals keep their text, as the server wrote them), or {}."""
    try:
        body = jsonio.loads(response.content, max_depth=_ANY_DEPTH) if response.content else {}
    except BadRequest:
        return {}
    return body if isinstance(body, dict) else {}


def _short(response: requests.Response) -> str:
    return response.text[:300]
