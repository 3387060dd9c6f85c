"""Fixtures for attribution tests: loopback DNS and RDAP servers (see servers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from attribution import servers
from attribution.servers import DnsServer, Loopback, RdapServer


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    """A DNS server on 127.0.0.1 (UDP and TCP, one port) answering from a zone the test fills."""
    with servers.dns_server() as server:
        yield server


@pytest.fixture
def rdap_server() -> Iterator[RdapServer]:
    """An RDAP server on 127.0.0.1 answering the routes the test sets (404 for the rest)."""
    with servers.rdap_server() as server:
        yield server


@pytest.fixture
def loopback(dns_server: DnsServer, rdap_server: RdapServer, tmp_path: Path) -> Loopback:
    """Both servers with a small hosting world in them, and databases and settings for it."""
    return servers.loopback(dns_server, rdap_server, tmp_path)
