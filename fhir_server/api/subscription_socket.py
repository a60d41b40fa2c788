"""The websocket channel of R4 Subscriptions at ``/ws/subscriptions`` (flask-sock).

R4 (subscription.html, websocket channel): the client sends ``bind <id>`` and the server
answers ``bound <id>``, then ``ping <id>`` each time the subscription is notified.  Browsers
cannot set an Authorization header on a websocket, so with authentication on the client first
sends ``bind-with-token <access token>`` (the same bearer token it uses for the API); the
binding is allowed when that principal may read the Subscription, as a read of it would be.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, request
from flask_sock import Sock

from fhir_server.auth import Authenticator
from fhir_server.auth.principal import ANONYMOUS
from fhir_server.core.errors import FHIRError
from fhir_server.interactions.context import FhirRequest
from fhir_server.interactions.router import Router

PATH = "/ws/subscriptions"


def url(base_url: str) -> str:
    """The channel's address beside the FHIR base (``https://h/fhir`` → ``wss://h/ws/subscriptions``)."""
    parts = urlsplit(base_url)
    return urlunsplit(("wss" if parts.scheme == "https" else "ws", parts.netloc, PATH, "", ""))


def register(app: Flask, hub, router: Router, authenticator: Authenticator) -> None:
    sock = Sock(app)

    @sock.route(PATH)
    def _subscriptions(ws) -> None:
        base = (app.config["JIAYI"].base_url or request.url_root.rstrip("/") + "/fhir")
        principal = replace(ANONYMOUS, remote_addr=request.remote_addr) if authenticator.development else None
        send = ws.send
        try:
            while True:
                words = str(ws.receive() or "").split()
                if len(words) == 2 and words[0] == "bind-with-token":
                    try:
                        principal = authenticator.principal(f"Bearer {words[1]}", request.remote_addr,
                                                            "Subscription", base)
                        ws.send("token accepted")
                    except FHIRError as refused:
                        ws.send(f"error {refused}")
                elif len(words) == 2 and words[0] == "bind":
                    ws.send(_bind(router, hub, principal, base, words[1], send))
                else:
                    ws.send("error expected 'bind <subscription id>' or 'bind-with-token <access token>'")
        finally:
            hub.unbind(send)


def _bind(router: Router, hub, principal, base: str, subscription_id: str, send) -> str:
    if principal is None:
        return "error send 'bind-with-token <access token>' first"
    try:
        response = router.handle(FhirRequest("GET", f"Subscription/{subscription_id}", base_url=base,
                                             principal=principal))
    except FHIRError as refused:
        return f"error {refused}"
    channel = (response.resource or {}).get("channel") or {}
    if response.status != 200 or channel.get("type") != "websocket":
        return f"error Subscription/{subscription_id} is not a websocket subscription"
    hub.bind(subscription_id, send)
    return f"bound {subscription_id}"
