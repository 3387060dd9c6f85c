"""Fixtures for the money tests: loopback servers (webhook, SMTP) and settings reaching them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cordon.config import Settings, load_settings
from notices.servers import (
    WEBHOOK_NETWORK,
    SmtpSink,
    WebhookReceiver,
    smtp_sink,
    webhook_receiver,
)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as s:
        yield s


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as r:
        yield r


@pytest.fixture
def notice_settings(fresh_db: str, key_dir: Path, sink: SmtpSink) -> Settings:
    return load_settings(
        environ={},
        overrides={
            "database_url": fresh_db,
            "key_dir": str(key_dir),
            "smtp": {"host": sink.host, "port": sink.port, "starttls": False},
            "notices": {"webhook_allow_networks": [WEBHOOK_NETWORK]},
        },
    )
