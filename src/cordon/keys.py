"""The key directory: secrets and signing keys, never in the database.

``cordon keys init`` creates it. Every file is mode 0600 and the folder 0700; Cordon refuses to
read a key that others can read.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

TOKEN_KEY = "token-hash.key"  # noqa: S105  # a file name, not a secret
AUDIT_SIGNING_KEY = "audit-signing.pem"
AUDIT_PUBLIC_KEY = "audit-signing.pub.pem"
SESSION_KEY = "session.key"
WEBHOOK_KEY = "notice-webhook.key"
#: The coalition's shared key for cross-deployment deconfliction (the same in every deployment).
DECONFLICTION_KEY = "deconfliction.key"


class KeyDirError(Exception):
    """A key is missing or unsafe; the message says which and what to do."""


@dataclass(frozen=True)
class Keys:
    """The secrets Cordon runs with."""

    token_hash_key: bytes
    session_key: bytes
    audit_signing_key: Ed25519PrivateKey

    @property
    def audit_public_key(self) -> Ed25519PublicKey:
        return self.audit_signing_key.public_key()

    @property
    def audit_key_id(self) -> str:
        """A short, stable name of the audit signing key: SHA-256 of its raw public key."""
        raw = self.audit_public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return hashlib.sha256(raw).hexdigest()[:16]


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def init_keys(key_dir: Path) -> list[Path]:
    """Create any key that is missing in ``key_dir``; never overwrite one. Returns new files."""
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(key_dir, 0o700)
    created: list[Path] = []
    for name in (TOKEN_KEY, SESSION_KEY, WEBHOOK_KEY):
        path = key_dir / name
        if not path.exists():
            _write_secret(path, secrets.token_bytes(32))
            created.append(path)
    private = key_dir / AUDIT_SIGNING_KEY
    if not private.exists():
        key = Ed25519PrivateKey.generate()
        _write_secret(
            private,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        created.append(private)
        public = key_dir / AUDIT_PUBLIC_KEY
        public.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        created.append(public)
    return created


def _read_secret(path: Path) -> bytes:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise KeyDirError(
            f"missing key {path}: run `cordon keys init` to create the key directory"
        ) from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyDirError(f"key {path} is readable by others: chmod 600 {path}")
    return path.read_bytes()


def load_keys(key_dir: Path) -> Keys:
    """Read every key Cordon needs from ``key_dir``."""
    token_key = _read_secret(key_dir / TOKEN_KEY)
    session_key = _read_secret(key_dir / SESSION_KEY)
    pem = _read_secret(key_dir / AUDIT_SIGNING_KEY)
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyDirError(f"{key_dir / AUDIT_SIGNING_KEY} is not an Ed25519 private key")
    if len(token_key) < 32 or len(session_key) < 32:
        raise KeyDirError(f"keys in {key_dir} are shorter than 32 bytes: recreate them")
    return Keys(token_hash_key=token_key, session_key=session_key, audit_signing_key=key)


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read an Ed25519 public key (PEM) such as ``audit-signing.pub.pem``."""
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise KeyDirError(f"{path} is not an Ed25519 public key")
    return key


def deconfliction_key_id(key: bytes) -> str:
    """A short public name of a coalition deconfliction key: 16 hex digits of its SHA-256."""
    return hashlib.sha256(b"cordon-deconfliction-key/v1\0" + key).hexdigest()[:16]


def load_deconfliction_key(key_dir: Path) -> bytes:
    """The coalition deconfliction key. Raises :class:`KeyDirError` saying how to get one."""
    path = key_dir / DECONFLICTION_KEY
    if not path.exists():
        raise KeyDirError(
            f"missing key {path}: run `cordon deconflict key generate` once in the coalition "
            "and `cordon deconflict key import FILE` in every other deployment"
        )
    key = _read_secret(path)
    if len(key) < 32:
        raise KeyDirError(f"{path} is shorter than 32 bytes: import the coalition key again")
    return key


def store_deconfliction_key(key_dir: Path, key: bytes | None = None) -> bytes:
    """Write the coalition deconfliction key (``key``, or 32 new random bytes) to the key
    directory, mode 0600. Refuses to replace one that exists. Returns the key."""
    if key is not None and len(key) < 32:
        raise KeyDirError("a deconfliction key has at least 32 bytes")
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = key_dir / DECONFLICTION_KEY
    if path.exists():
        raise KeyDirError(f"{path} exists: remove it first to replace the coalition key")
    data = key if key is not None else secrets.token_bytes(32)
    _write_secret(path, data)
    return data


BLOCKLIST_SIGNING_KEY = "blocklist-signing.pem"
BLOCKLIST_PUBLIC_KEY = "blocklist-signing.pub.pem"


def blocklist_signing_key(key_dir: Path) -> Ed25519PrivateKey:
    """The Ed25519 key that signs block-list manifests, made on first use (0600) together
    with its public key ``blocklist-signing.pub.pem``, which ISPs verify with."""
    private = key_dir / BLOCKLIST_SIGNING_KEY
    if not private.exists():
        if not key_dir.is_dir():
            raise KeyDirError(f"key directory {key_dir} does not exist: run `cordon keys init`")
        key = Ed25519PrivateKey.generate()
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            _write_secret(
                private,
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
            )
    loaded = serialization.load_pem_private_key(_read_secret(private), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise KeyDirError(f"{private} is not an Ed25519 private key")
    public = key_dir / BLOCKLIST_PUBLIC_KEY
    if not public.exists():
        public.write_bytes(
            loaded.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return loaded
