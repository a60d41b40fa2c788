"""Hospitals configured as HL7 v2 endpoints (``endpoints.json``).

::

    {"application": "JIAYI", "facility": "JIAYI",
     "endpoints": [{"name": "city-hospital", "host": "10.0.0.5", "port": 2575,
                    "application": "CITYHIS", "facility": "CITYHOSP",
                    "organizations": [{"system": "https://jiayi.dev/fhir/sid/uscc", "value": "..."}],
                    "charset": "UNICODE UTF-8", "version": "2.5"}],
     "retry": {"first": 5, "max": 600},
     "lenient": false,
     "allowed_senders": [{"application": "CITYHIS", "facility": "CITYHOSP"}, {"facility": "NINGHE-CHC"}],
     "tls": {"cert": "/etc/jiayi/mllp.crt", "key": "/etc/jiayi/mllp.key"},
     "limits": {"max_connections": 256, "max_per_peer": 16, "frame_timeout": 60, "idle_timeout": 300}}

``organizations`` are the identifiers of the Organizations the endpoint receives referrals
for (a Task owned by one of them is sent there as REF^I12); ``application``/``facility``
are its MSH-5/MSH-6 when Jiayi writes to it, and how its own messages name it (MSH-3/MSH-4).

``lenient`` (global, or per endpoint for the messages it sends): a value that is not valid
for its data type is dropped with an ERR warning (AA) instead of refusing the message (AE).
``allowed_senders``: when present, only messages whose MSH-3/MSH-4 match one entry (facility,
and application when given) are processed; others get AR.  Absent: every sender is accepted.
``tls``: serve MLLP over TLS with this PEM certificate and key.  ``limits``: the listener's
connection caps and frame deadline (see ``mllp.Limits``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Endpoint:
    name: str
    host: str
    port: int
    application: str = ""
    facility: str = ""
    organizations: list[dict] = field(default_factory=list)
    charset: str = "UNICODE UTF-8"
    version: str = "2.5"
    lenient: bool | None = None  # None: the listener's setting

    def serves(self, identifiers: list[dict]) -> bool:
        return any(i.get("system") == o.get("system") and i.get("value") == o.get("value")
                   for i in identifiers for o in self.organizations)

    def sent(self, sending_application: str, sending_facility: str) -> bool:
        """Whether a message with this MSH-3/MSH-4 comes from this endpoint."""
        if self.facility:
            return sending_facility == self.facility and (not self.application or
                                                          sending_application == self.application)
        return bool(self.application) and sending_application == self.application


@dataclass(frozen=True)
class SenderRule:
    """One entry of the allow-list: MSH-4 (and MSH-3 when given)."""
    facility: str = ""
    application: str = ""

    def matches(self, sending_application: str, sending_facility: str) -> bool:
        if self.facility and sending_facility != self.facility:
            return False
        if self.application and sending_application != self.application:
            return False
        return bool(self.facility or self.application)

    @classmethod
    def parse(cls, text: str) -> SenderRule:
        """``FACILITY`` or ``APPLICATION^FACILITY`` (as in MSH-3^MSH-4 order) from the command line."""
        application, _, facility = text.rpartition("^")
        return cls(facility=facility.strip(), application=application.strip())


@dataclass
class Config:
    application: str = "JIAYI"
    facility: str = "JIAYI"
    endpoints: list[Endpoint] = field(default_factory=list)
    retry_first: float = 5.0
    retry_max: float = 600.0
    lenient: bool = False
    allowed_senders: list[SenderRule] | None = None  # None: everyone
    tls_cert: str | None = None
    tls_key: str | None = None
    limits: dict = field(default_factory=dict)

    def accepts(self, sending_application: str, sending_facility: str) -> bool:
        if self.allowed_senders is None:
            return True
        return any(rule.matches(sending_application, sending_facility) for rule in self.allowed_senders)

    def lenient_for(self, sending_application: str, sending_facility: str) -> bool:
        endpoint = self.sender_endpoint(sending_application, sending_facility)
        if endpoint is not None and endpoint.lenient is not None:
            return endpoint.lenient
        return self.lenient

    def by_name(self, name: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.name == name), None)

    def sender_endpoint(self, sending_application: str, sending_facility: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.sent(sending_application, sending_facility)), None)


def load(path: str | Path | None) -> Config:
    if path is None:
        return Config()
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    endpoints = [Endpoint(name=e["name"], host=e["host"], port=int(e["port"]), application=e.get("application", ""),
                          facility=e.get("facility", ""), organizations=e.get("organizations", []),
                          charset=e.get("charset", "UNICODE UTF-8"), version=e.get("version", "2.5"),
                          lenient=e.get("lenient"))
                 for e in data.get("endpoints", [])]
    retry = data.get("retry", {})
    allowed = data.get("allowed_senders")
    tls = data.get("tls") or {}
    return Config(application=data.get("application", "JIAYI"), facility=data.get("facility", "JIAYI"),
                  endpoints=endpoints, retry_first=float(retry.get("first", 5)), retry_max=float(retry.get("max", 600)),
                  lenient=bool(data.get("lenient", False)),
                  allowed_senders=None if allowed is None else [
                      SenderRule(facility=a.get("facility", ""), application=a.get("application", ""))
                      for a in allowed],
                  tls_cert=tls.get("cert"), tls_key=tls.get("key"), limits=dict(data.get("limits") or {}))
