"""requests transport adapters for the adapters' real FHIR client (adapters.fhir_client):
one that answers from a Flask test client (API tests without a started server), and one that
plays a script of answers (unit tests of retries and faults)."""

from __future__ import annotations

import json

import requests
from requests.adapters import BaseAdapter

from adapters.fhir_client import FhirClient
from fhir_server.demo_feed import WsgiTransport

BASE = "http://testserver/fhir"


FlaskTransport = WsgiTransport  # the package's own (the demo's feed uses it too)


def flask_fhir_client(flask_client, log: list | None = None, **options) -> FhirClient:
    transport = FlaskTransport(flask_client, log)

    def session() -> requests.Session:
        s = requests.Session()
        s.mount("http://testserver", transport)
        return s

    return FhirClient(BASE, session_factory=session, **options)


class ScriptedTransport(BaseAdapter):
    """Answers each request with the next (status, body) of ``answers`` (an exception is raised);
    records the requests."""

    def __init__(self, answers: list) -> None:
        super().__init__()
        self.answers = list(answers)
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode() if body is not None else b""
        response.headers["Content-Type"] = "application/fhir+json"
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


def scripted_fhir_client(answers: list, base: str = "http://fhir.test/fhir",
                         **options) -> tuple[FhirClient, ScriptedTransport, list[float]]:
    """A client whose requests get ``answers`` in turn; (client, transport, the backoff sleeps)."""
    transport = ScriptedTransport(answers)
    sleeps: list[float] = []

    def session() -> requests.Session:
        s = requests.Session()
        s.mount("http://", transport)
        return s

    return FhirClient(base, session_factory=session, sleep=sleeps.append, **options), transport, sleeps
