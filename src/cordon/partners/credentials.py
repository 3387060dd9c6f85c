"""Passwords (argon2id) and API tokens (only a keyed hash is stored)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

TOKEN_PREFIX = "cdn"  # noqa: S105  # the visible prefix of every token
_TOKEN_RE = re.compile(r"^cdn_([A-Za-z0-9]{16})_([A-Za-z0-9_-]{43})$")
MIN_PASSWORD_LENGTH = 12


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``; refuses passwords shorter than 12 characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``; False for a user without a password."""
    if not stored:
        # Spend the same time as a real check so that unknown users are not told apart.
        _hasher.hash("timing-equaliser-password")
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class NewToken:
    """A freshly made token: ``plaintext`` is shown once and never stored."""

    public_id: str
    plaintext: str
    secret_hash: bytes


def _alnum(n: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(n))


def token_secret_hash(key: bytes, secret: str) -> bytes:
    """HMAC-SHA256 of the token's secret under the deployment's token key."""
    return hmac.new(key, secret.encode(), hashlib.sha256).digest()


def new_token(key: bytes) -> NewToken:
    """Make a token ``cdn_<public id>_<secret>``."""
    public_id = _alnum(16)
    secret = secrets.token_urlsafe(32)
    return NewToken(
        public_id=public_id,
        plaintext=f"{TOKEN_PREFIX}_{public_id}_{secret}",
        secret_hash=token_secret_hash(key, secret),
    )


def parse_token(plaintext: str) -> tuple[str, str] | None:
    """Split a presented token into (public id, secret), or None when it is malformed."""
    match = _TOKEN_RE.match(plaintext.strip())
    if not match:
        return None
    return match.group(1), match.group(2)
