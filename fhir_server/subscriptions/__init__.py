"""R4 Subscriptions (SPEC §4 "Subscriptions", §7): after-commit matching and reliable delivery.

```
criteria.py      Subscription.criteria → the search engine's SearchRequest; does a written resource match
rules.py         the Subscription write rules (criteria, channel, payload, status, owner)
enqueue.py       the write hook: matched notifications into the outbox, in the write's transaction
schedule.py      the retry policy (exponential back-off, capped, for a configurable period)
notification.py  what a notification carries (empty, the resource, the Backport IG's Bundles)
channels.py      rest-hook (HTTP POST) and websocket (bound clients of this process)
delivery.py      the worker: handshakes, leases, in-order delivery, status and error
owner.py         the owner principal; on delivery the resource must be within its reach
```

:class:`Subscriptions` is what the app holds: :meth:`install` puts the write hooks into a
repository, ``delivery.start()`` / ``delivery.stop()`` run the worker thread.
"""

from __future__ import annotations

from fhir_server.repository.base import Hooks
from fhir_server.subscriptions import rules
from fhir_server.subscriptions.channels import RestHook, WebSocketHub
from fhir_server.subscriptions.delivery import Delivery
from fhir_server.subscriptions.enqueue import ActiveSubscriptions, Enqueuer
from fhir_server.subscriptions.schedule import RetryPolicy

__all__ = ["Delivery", "RetryPolicy", "Subscriptions"]


class Subscriptions:
    def __init__(self, repository, *, retry_hours: float = 24.0, timeout: float = 10.0,
                 poll_seconds: float = 1.0, base_url: str | None = None, clock=None) -> None:
        self.active = ActiveSubscriptions()
        self.hub = WebSocketHub()
        extra = {"clock": clock} if clock is not None else {}
        self.delivery = Delivery(repository, RetryPolicy.of_hours(retry_hours), RestHook(timeout), self.hub,
                                 base_url or "http://localhost/fhir", poll_seconds=poll_seconds,
                                 on_status=self.active.invalidate, **extra)
        self.enqueuer = Enqueuer(self.active, self.delivery.wake)

    @classmethod
    def from_settings(cls, repository, settings) -> Subscriptions:
        return cls(repository, retry_hours=settings.subscription_retry_hours,
                   timeout=settings.subscription_timeout, poll_seconds=settings.subscription_poll_seconds,
                   base_url=settings.base_url)

    def install(self, hooks: Hooks) -> None:
        """The Subscription rules among the checks; matching after every write."""
        hooks.before_write.append(rules.check_subscription)
        hooks.after_write.append(rules.after_subscription_write(self._subscription_changed))
        hooks.after_write.append(self.enqueuer.after_write)

    def _subscription_changed(self) -> None:
        self.active.invalidate()
        self.delivery.subscription_changed()  # a requested one is handshaken at once
