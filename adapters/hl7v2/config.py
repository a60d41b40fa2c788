"""Hospitals configured as HL7 v2 endpoints (``endpoints.json``).

::

    {"application": "JIAYI", "facility": "JIAYI",
     "endpoints": [{"name": "city-hospital", "host": "10.0.0.5", "port": 2575,
                    "application": "CITYHIS", "facility": "CITYHOSP",
                    "organizations": [{"system": "https://jiayi.dev/fhir/sid/uscc", "value": "..."}],
                    "charset": "UNICODE UTF-8", "version": "2.5"}],
     "retry": {"first": 5, "max": 600}}

``organizations`` are the identifiers of the Organizations the endpoint receives referrals
for (a Task owned by one of them is sent there as REF^I12); ``application``/``facility``
are its MSH-5/MSH-6 when Jiayi writes to it, and how its own messages name it (MSH-3/MSH-4).
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

    def serves(self, identifiers: list[dict]) -> bool:
        return any(i.get("system") == o.get("system") and i.get("value") == o.get("value")
                   for i in identifiers for o in self.organizations)

    def sent(self, sending_application: str, sending_facility: str) -> bool:
        """Whether a message with this MSH-3/MSH-4 comes from this endpoint."""
        if self.facility:
            return sending_facility == self.facility and (not self.application or
                                                          sending_application == self.application)
        return bool(self.application) and sending_application == self.application


@dataclass
class Config:
    application: str = "JIAYI"
    facility: str = "JIAYI"
    endpoints: list[Endpoint] = field(default_factory=list)
    retry_first: float = 5.0
    retry_max: float = 600.0

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
                          charset=e.get("charset", "UNICODE UTF-8"), version=e.get("version", "2.5"))
                 for e in data.get("endpoints", [])]
    retry = data.get("retry", {})
    return Config(application=data.get("application", "JIAYI"), facility=data.get("facility", "JIAYI"),
                  endpoints=endpoints, retry_first=float(retry.get("first", 5)), retry_max=float(retry.get("max", 600)))
