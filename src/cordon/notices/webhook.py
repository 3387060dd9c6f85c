"""Signed webhooks: how a notice is POSTed to a partner, and how the partner checks it.

Every request carries::

    Content-Type: application/json
    Cordon-Delivery: <delivery key>          (the same for every retry of one round)
    Cordon-Notice: <notice id>
    Cordon-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

To verify: split the header at ``,`` and ``=``; compute HMAC-SHA256 with the endpoint's secret
over the ASCII decimal timestamp, a full stop and the raw body bytes exactly as received;
compare with ``v1`` in constant time; refuse a timestamp more than five minutes from your
clock. :func:`verify_signature` does this and needs nothing but the standard library.

The address a webhook goes to is checked like a crawled URL's (``cordon.domain.netpolicy``):
private, loopback and metadata addresses are refused unless ``notices.webhook_allow_networks``
opens them, and plain ``http`` is accepted only inside those networks. Redirects are not
followed.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx

from cordon.domain import netpolicy

SIGNATURE_HEADER = "Cordon-Signature"
DELIVERY_HEADER = "Cordon-Delivery"
NOTICE_HEADER = "Cordon-Notice"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """A webhook signature that does not verify; the message says why."""


class WebhookRefused(ValueError):
    """A webhook target the address policy refuses, or that is no http(s) URL."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Cordon-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Check a ``Cordon-Signature`` header; return its timestamp.

    Raises :class:`SignatureError` when the header is malformed, the timestamp is further than
    ``tolerance`` seconds from ``now``, or no ``v1`` signature matches.
    """
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError(f"malformed signature header part {part!r}")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        raise SignatureError("signature header has no numeric t=") from None
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"timestamp {timestamp} is more than {tolerance} s from now")
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected, given) for given in fields.get("v1", [])):
        raise SignatureError("no v1 signature matches the body")
    return timestamp


def check_url(url: str) -> str:
    """Syntax check of a webhook URL (http or https, a host, no credentials); returns it."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        _ = parts.port  # raises on a bad port
    except ValueError as exc:
        raise WebhookRefused(f"webhook URL {url!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise WebhookRefused(f"webhook URL {url!r} must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise WebhookRefused("webhook URL must not carry credentials")
    return url.strip()


def _resolve(host: str, port: int) -> list[str]:
    literal = netpolicy.parse_host_address(host)
    if literal is not None:
        return [str(literal)]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise WebhookRefused(f"webhook host {host!r} does not resolve: {exc}") from None
    return sorted({str(info[4][0]) for info in infos})


def check_target(url: str, allow: Sequence[netpolicy.IPNetwork]) -> list[str]:
    """Resolve the URL's host and apply the address policy; return the addresses.

    Raises :class:`WebhookRefused` naming the reason.
    """
    parts = urlsplit(check_url(url))
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = _resolve(host, port)
    except netpolicy.InvalidAddress as exc:
        raise WebhookRefused(str(exc)) from None
    decision = netpolicy.check_addresses(addresses, allow)
    if not decision.allowed:
        raise WebhookRefused(f"address policy refuses {host}: {decision.reason}")
    if parts.scheme == "http":
        import ipaddress

        inside = all(any(ipaddress.ip_address(a) in net for net in allow) for a in addresses)
        if not inside:
            raise WebhookRefused(
                "plain http is allowed only to networks in notices.webhook_allow_networks; "
                "use https"
            )
    return addresses


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    allow: Sequence[netpolicy.IPNetwork],
) -> int:
    """POST ``body`` to ``url`` after the address check; return the HTTP status.

    Raises :class:`WebhookRefused` for a refused target and ``httpx.HTTPError`` for a
    transport failure. The response body is not read.
    """
    check_target(url, allow)
    with (
        httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
        client.stream("POST", url, content=body, headers=headers) as response,
    ):
        return response.status_code
