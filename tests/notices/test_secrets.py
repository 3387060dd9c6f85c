"""Webhook secrets are derived from the key directory and never stored."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cordon.notices.secrets import (
    WEBHOOK_KEY,
    SecretError,
    endpoint_secret,
    fingerprint,
    webhook_master_key,
)


def test_the_master_key_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="missing key"):
        webhook_master_key(tmp_path)
    first = webhook_master_key(tmp_path, create=True)
    assert len(first) == 32
    assert (tmp_path / WEBHOOK_KEY).stat().st_mode & 0o777 == 0o600
    assert webhook_master_key(tmp_path, create=True) == first


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    webhook_master_key(tmp_path, create=True)
    os.chmod(tmp_path / WEBHOOK_KEY, 0o644)
    with pytest.raises(SecretError, match="readable by others"):
        webhook_master_key(tmp_path)


def test_secrets_differ_per_endpoint_and_version_and_are_stable() -> None:
    master = bytes(range(32))
    a1, a2, b1 = (
        endpoint_secret(master, 1, 1),
        endpoint_secret(master, 1, 2),
        endpoint_secret(master, 2, 1),
    )
    assert len({a1, a2, b1}) == 3
    assert endpoint_secret(master, 1, 1) == a1
    assert a1.startswith("whsec_")
    assert fingerprint(a1) != fingerprint(a2)
    assert len(fingerprint(a1)) == 16
    assert fingerprint(a1) not in a1
