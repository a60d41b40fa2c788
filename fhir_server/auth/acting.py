"""Who the current write is made for: the principal of the request being handled, or None for
the server's own work (a background job, the subscription delivery worker).

Set by the interaction router around each request; read by write rules that must remember
the writer (a Subscription records its owner, whose reach limits what it is notified of).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from fhir_server.auth.principal import Principal

_current: ContextVar[Principal | None] = ContextVar("jiayi_acting_principal", default=None)


def current() -> Principal | None:
    return _current.get()


@contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    token = _current.set(principal)
    try:
        yield
    finally:
        _current.reset(token)
