"""Webhook secrets: derived, never stored.

A webhook is signed with HMAC-SHA256, so Cordon must hold the secret itself when it sends; a
hash of it (as for API tokens) would not do. Instead of keeping secrets in the database,
every endpoint's secret is derived from one master key in the key directory
(``notice-webhook.key``, mode 0600) and the endpoint's id and ``secret_version``:

    secret = "whsec_" + base64url(HMAC-SHA256(master, "cordon-webhook/v1/<endpoint id>/<version>"))

The database holds only the version and a fingerprint (the first 16 hex digits of the
secret's SHA-256), so a copy of the database reveals no secret. Rotating bumps the version.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from cordon.keys import WEBHOOK_KEY

SECRET_PREFIX = "whsec_"  # noqa: S105  # a prefix, not a secret


class SecretError(Exception):
    """The webhook master key is missing or unsafe; the message says what to do."""


def _read(path: Path) -> bytes:
    info = path.stat()
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(f"key {path} is readable by others: chmod 600 {path}")
    data = path.read_bytes()
    if len(data) < 32:
        raise SecretError(f"key {path} is shorter than 32 bytes: remove it to make a new one")
    return data


def webhook_master_key(key_dir: Path, *, create: bool = False) -> bytes:
    """The master key of webhook secrets; with ``create``, made (0600) when it is missing.

    Raises :class:`SecretError` when it is missing (and not to be created) or unsafe.
    """
    return master_key(key_dir, WEBHOOK_KEY, create=create)


def master_key(key_dir: Path, name: str, *, create: bool = False) -> bytes:
    """The 32-byte key ``name`` of the key directory; with ``create``, made (0600) when it is
    missing. Raises :class:`SecretError` when it is missing (and not to be created) or unsafe.
    """
    path = key_dir / name
    if path.exists():
        return _read(path)
    if not create:
        raise SecretError(
            f"missing key {path}: run `cordon keys init` (or register a webhook endpoint)"
        )
    if not key_dir.is_dir():
        raise SecretError(f"key directory {key_dir} does not exist: run `cordon keys init`")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return _read(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(32))
    return _read(path)


def endpoint_secret(master: bytes, endpoint_id: int, version: int) -> str:
    """The signing secret of one webhook endpoint at one version."""
    message = f"cordon-webhook/v1/{endpoint_id}/{version}".encode()
    digest = hmac.new(master, message, hashlib.sha256).digest()
    return SECRET_PREFIX + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def fingerprint(secret: str) -> str:
    """A short public name of a secret: it tells which secret is in use and reveals nothing."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]
