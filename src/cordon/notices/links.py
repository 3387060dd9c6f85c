"""Signed links in e-mailed notices: a partner without a Cordon login answers or checks a
notice through a link that carries its own proof.

A token is ``<base64url(payload)>.<base64url(HMAC-SHA256(key, payload))>`` where the payload is
``cordon-link/v1/<notice id>/<answer or "view">/<expiry as unix seconds>``. The key is
``notice-link.key`` in the key directory (32 random bytes, mode 0600, made on first use); it
never leaves Cordon, so only Cordon can make a token, and a token names one notice, one
answer and an expiry. ``view`` tokens show a notice's URLs and where it stands (the
verification link of each URL in an e-mail); answer tokens record that answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from cordon.notices.secrets import SecretError, master_key

LINK_KEY = "notice-link.key"
VIEW = "view"
_PREFIX = "cordon-link/v1"


class LinkError(ValueError):
    """A token that is malformed, forged or expired; the message says which."""


@dataclass(frozen=True)
class LinkClaim:
    """What a valid token allows: one answer (or a view) of one notice until ``expires``."""

    notice_id: int
    answer: str
    expires: datetime


def link_key(key_dir: Path) -> bytes:
    """The signing key of links (made 0600 on first use). Raises :class:`SecretError`."""
    return master_key(key_dir, LINK_KEY, create=True)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(key: bytes, notice_id: int, answer: str, expires: datetime) -> str:
    """A token allowing ``answer`` (or :data:`VIEW`) on ``notice_id`` until ``expires``."""
    payload = f"{_PREFIX}/{notice_id}/{answer}/{int(expires.timestamp())}".encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def read_token(key: bytes, token: str, *, now: datetime) -> LinkClaim:
    """Check a token's signature and expiry; return what it allows.

    Raises :class:`LinkError` naming what is wrong.
    """
    body, sep, sig = token.strip().partition(".")
    if not sep:
        raise LinkError("the link token is malformed")
    try:
        payload = _unb64(body)
        given = _unb64(sig)
    except (ValueError, TypeError):
        raise LinkError("the link token is malformed") from None
    expected = hmac.new(key, payload, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, given):
        raise LinkError("the link token's signature does not verify")
    parts = payload.decode("ascii", "replace").split("/")
    if len(parts) != 5 or "/".join(parts[:2]) != _PREFIX:
        raise LinkError("the link token is malformed")
    try:
        notice_id, expiry = int(parts[2]), int(parts[4])
    except ValueError:
        raise LinkError("the link token is malformed") from None
    expires = datetime.fromtimestamp(expiry, UTC)
    if now >= expires:
        raise LinkError(f"the link expired at {expires.isoformat()}")
    return LinkClaim(notice_id=notice_id, answer=parts[3], expires=expires)


def link_url(base_url: str, token: str) -> str:
    """The address of the signed-link page for ``token`` under ``base_url``."""
    return f"{base_url.rstrip('/')}/v1/notices/respond?token={quote(token)}"


__all__ = [
    "LINK_KEY",
    "VIEW",
    "LinkClaim",
    "LinkError",
    "SecretError",
    "link_key",
    "link_url",
    "make_token",
    "read_token",
]
