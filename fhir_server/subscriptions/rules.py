"""The rules of a Subscription write (R4 Subscription), run inside its transaction.

- the criteria must be a search this server supports, the channel one it delivers
  (rest-hook to an http(s) endpoint, or websocket) and the payload one it sends: else 422;
- a client asks for a subscription (``requested``) or switches it ``off``; the server makes it
  ``active`` after the handshake and sets ``error``.  A client's ``active`` or ``error`` on a
  subscription not already in that state is taken as ``requested`` (amended, not refused);
- the writing client becomes the subscription's owner, whose reach bounds what it sees.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from fhir_server.auth import acting
from fhir_server.core.errors import Issue, Unprocessable
from fhir_server.repository.base import UnitOfWork, WriteEvent
from fhir_server.storage import outbox
from fhir_server.subscriptions import owner, records
from fhir_server.subscriptions.criteria import parse_criteria


def check_subscription(uow: UnitOfWork, event: WriteEvent) -> None:
    subscription = event.resource
    if event.res_type != "Subscription" or subscription is None:
        return
    parse_criteria(subscription.get("criteria"), uow.search_params())
    _check_channel(records.channel_of(subscription))
    writer = acting.current()
    if writer is None:
        return  # the server's own update (status, error)
    previous = event.previous.content if event.previous is not None else None
    status = records.status_of(subscription)
    if status in (records.ACTIVE, records.ERROR) and (
            records.status_of(previous) != status or _delivery_changed(previous, subscription)):
        subscription["status"] = records.REQUESTED
        subscription.pop("error", None)
    session = getattr(uow, "session", None)
    if session is not None:
        outbox.save_owner(session, event.res_id, owner.to_record(writer))


def after_subscription_write(changed: Callable[[], None]) -> Callable[[UnitOfWork, WriteEvent], None]:
    """Once committed, the active-subscription cache and the delivery worker hear of it; a
    deleted subscription's waiting notifications and owner go with it."""
    def hook(uow: UnitOfWork, event: WriteEvent) -> None:
        if event.res_type != "Subscription":
            return
        session = getattr(uow, "session", None)
        if event.resource is None and session is not None:
            outbox.forget(session, event.res_id)
        uow.after_commit(changed)
    return hook


def _delivery_changed(previous: dict | None, current: dict) -> bool:
    if previous is None:
        return True
    return previous.get("criteria") != current.get("criteria") or previous.get("channel") != current.get("channel")


def _check_channel(channel: records.Channel) -> None:
    issues = []
    if channel.type not in records.CHANNELS:
        issues.append(_issue(f"Subscription.channel.type '{channel.type}' is not supported here "
                             "(rest-hook and websocket are)", "Subscription.channel.type"))
    if channel.type == records.REST_HOOK:
        parts = urlsplit(channel.endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            issues.append(_issue("A rest-hook Subscription needs channel.endpoint, an http(s) URL",
                                 "Subscription.channel.endpoint"))
    if channel.payload not in records.PAYLOADS:
        issues.append(_issue(f"Subscription.channel.payload '{channel.payload[:60]}' is not supported here "
                             "(empty or application/fhir+json)", "Subscription.channel.payload"))
    if channel.backport is not None and channel.backport not in records.BACKPORT_CONTENTS:
        issues.append(_issue(f"payload content '{channel.backport}' is not one of empty, id-only, full-resource",
                             "Subscription.channel.payload.extension"))
    if issues:
        raise Unprocessable(issues)


def _issue(message: str, path: str) -> Issue:
    return Issue("not-supported" if "supported" in message else "value", message, expression=(path,))
