"""The channels a notification goes out on: rest-hook (an HTTP POST to the subscriber) and
websocket (a ``ping`` to the clients bound to the subscription in this process).

A channel either delivers or raises :class:`DeliveryFailed` with a reason the subscription's
``error`` can show; the outbox decides what happens next.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import urllib3

from fhir_server.subscriptions.notification import Notification
from fhir_server.subscriptions.records import Channel

log = logging.getLogger("jiayi.subscriptions")


class DeliveryFailed(Exception):
    """The subscriber did not take the notification (unreachable, timed out, not 2xx)."""


class RestHook:
    """POST to ``channel.endpoint`` with ``channel.header`` as given (R4: "Name: value" each).

    urllib3 (what requests is built on) with a keep-alive pool per endpoint host: the worker
    spends its CPU beside the serving threads, so a notification costs one cheap POST."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._pool = urllib3.PoolManager(num_pools=50, maxsize=2, retries=False,
                                         timeout=urllib3.Timeout(total=timeout))

    def send(self, channel: Channel, notification: Notification) -> None:
        headers = _headers(channel.headers)
        if notification.content_type:
            headers.setdefault("Content-Type", notification.content_type)
        try:
            response = self._pool.request("POST", channel.endpoint, body=notification.body or b"", headers=headers,
                                          redirect=False, preload_content=True)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise DeliveryFailed(f"{type(exc).__name__} posting to the endpoint") from None
        if not 200 <= response.status < 300:
            raise DeliveryFailed(f"the endpoint answered HTTP {response.status}")


def _headers(lines: tuple[str, ...]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep and name.strip() and "\n" not in line and "\r" not in line:
            headers[name.strip()] = value.strip()
    return headers


class WebSocketHub:
    """The websocket clients bound to subscriptions in this process (R4 websocket channel:
    ``bind <id>`` → ``bound <id>``, then ``ping <id>`` per notification)."""

    def __init__(self) -> None:
        self._bound: dict[str, set[Callable[[str], None]]] = {}
        self._lock = threading.Lock()

    def bind(self, subscription_id: str, send: Callable[[str], None]) -> None:
        with self._lock:
            self._bound.setdefault(subscription_id, set()).add(send)

    def unbind(self, send: Callable[[str], None]) -> None:
        with self._lock:
            for sends in self._bound.values():
                sends.discard(send)

    def ping(self, subscription_id: str) -> int:
        """``ping <id>`` to every client bound here; how many got it.  A websocket notifies the
        clients connected when it happens: with none, the notification is not kept."""
        with self._lock:
            sends = list(self._bound.get(subscription_id, ()))
        delivered = 0
        for send in sends:
            try:
                send(f"ping {subscription_id}")
                delivered += 1
            except Exception:  # noqa: BLE001 - a closed socket: forget it, the others still get theirs
                self.unbind(send)
        return delivered
