"""What a run of a TestScript gives: each action's result, with the HTTP exchange behind it."""

from __future__ import annotations

from dataclasses import dataclass, field

PASS, FAIL, WARNING, ERROR, SKIP = "pass", "fail", "warning", "error", "skip"
MASK = "Bearer ********"
SECRET_HEADERS = ("authorization", "proxy-authorization", "cookie", "set-cookie")
BODY_LIMIT = 20_000  # characters of a body kept for the report


def masked(headers: dict[str, str]) -> dict[str, str]:
    """Headers as they may be shown: credentials never appear in a report."""
    return {k: (MASK if k.lower() == "authorization" else "********") if k.lower() in SECRET_HEADERS else v
            for k, v in headers.items()}


def clipped(text: str | None) -> str | None:
    if text is None or len(text) <= BODY_LIMIT:
        return text
    return text[:BODY_LIMIT] + f"\n… ({len(text) - BODY_LIMIT} more characters)"


@dataclass
class Exchange:
    """One request and its response (headers masked, bodies clipped)."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str | None = None
    error: str | None = None  # the connection failed

    def to_dict(self) -> dict:
        return {"method": self.method, "url": self.url, "requestHeaders": self.request_headers,
                "requestBody": self.request_body, "status": self.status, "responseHeaders": self.response_headers,
                "responseBody": self.response_body, "error": self.error}


@dataclass
class ActionResult:
    kind: str  # operation | assert
    label: str
    result: str
    message: str = ""
    exchange: Exchange | None = None


@dataclass
class TestResult:
    __test__ = False  # not a pytest test class

    id: str
    name: str
    requirement: dict[str, str]  # lang → text
    source: str
    actions: list[ActionResult] = field(default_factory=list)

    @property
    def result(self) -> str:
        results = {a.result for a in self.actions}
        for worst in (ERROR, FAIL):
            if worst in results:
                return FAIL
        if not self.actions or results == {SKIP}:
            return SKIP
        return PASS

    @property
    def failures(self) -> list[ActionResult]:
        return [a for a in self.actions if a.result in (FAIL, ERROR)]


@dataclass
class ScriptResult:
    script_id: str
    url: str
    title: dict[str, str]
    actor: str
    capability: str
    mandatory: bool
    setup: list[ActionResult] = field(default_factory=list)
    tests: list[TestResult] = field(default_factory=list)
    teardown: list[ActionResult] = field(default_factory=list)
    started: str = ""
    finished: str = ""

    @property
    def setup_failed(self) -> bool:
        return any(a.result in (FAIL, ERROR) for a in self.setup)

    @property
    def result(self) -> str:
        if self.setup_failed or any(t.result == FAIL for t in self.tests):
            return FAIL
        return PASS

    @property
    def score(self) -> float:
        return 100.0 * sum(t.result == PASS for t in self.tests) / len(self.tests) if self.tests else 0.0
