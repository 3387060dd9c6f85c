"""Transport: HTTP/2 over TLS with the certificate recorded, TLS verified against configured CA
files, and egress profiles through HTTP CONNECT and SOCKS5 proxies on loopback that are only
ever asked for checked addresses."""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import anyio
import h2.config
import h2.connection
import h2.events
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from cordon.clock import FrozenClock
from cordon.crawl.capture import CaptureOptions, CapturePlan, take_capture
from cordon.crawl.fetcher import CrawlConfigError, Fetcher, FetcherConfig, FetchResult
from cordon.world.tls import SiteCertificates, make_ca
from crawl.servers import TRAP_ADDRESS, Loopback, Proxy

H2_ADDRESS = "127.20.0.3"
PAGE = b"<html><head><title>h2</title></head><body><p>served over HTTP/2</p></body></html>"


def _serve_h2(sock: ssl.SSLSocket) -> None:
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
    )
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    while True:
        data = sock.recv(65536)
        if not data:
            return
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                conn.send_headers(
                    event.stream_id,
                    [
                        (":status", "200"),
                        ("content-type", "text/html"),
                        ("content-length", str(len(PAGE))),
                    ],
                )
                conn.send_data(event.stream_id, PAGE, end_stream=True)
        sock.sendall(conn.data_to_send())


class H2Server:
    """A TLS server speaking HTTP/2 only (the h2 library), one page for every path."""

    def __init__(self, certificates: SiteCertificates, name: str) -> None:
        context = certificates.context(name)
        context.set_alpn_protocols(["h2"])

        class _Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with (
                    suppress(OSError, ssl.SSLError),
                    context.wrap_socket(self.request, server_side=True) as sock,
                ):
                    _serve_h2(sock)

        class _Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = _Server((H2_ADDRESS, 0), _Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.1,), daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def h2_site(
    loopback: Loopback, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[H2Server, Path, bytes]]:
    ca_pem, ca_key = make_ca(99)
    folder = tmp_path_factory.mktemp("ca")
    (folder / "ca.pem").write_bytes(ca_pem)
    certificates = SiteCertificates(99, ca_pem, ca_key)
    server = H2Server(certificates, "h2site.test")
    loopback.zone.add("h2site.test", "A", H2_ADDRESS)
    loopback.zone.add("wrongname.test", "A", H2_ADDRESS)
    yield server, folder / "ca.pem", certificates.certificate_pem("h2site.test")
    server.close()


def _fetch(fetcher: Fetcher, url: str) -> FetchResult:
    async def run() -> FetchResult:
        async with fetcher.session() as session:
            return await session.fetch(url)

    return anyio.run(run)


def test_http2_over_tls_with_the_certificate_recorded(
    loopback: Loopback, h2_site: tuple[H2Server, Path, bytes]
) -> None:
    server, ca_file, cert_pem = h2_site
    settings = loopback.settings(http2=True, ca_files=[str(ca_file)], extra_ports=[server.port])
    result = _fetch(
        Fetcher(FetcherConfig.from_settings(settings)), f"https://h2site.test:{server.port}/"
    )
    assert result.outcome == "ok", result.reason
    assert result.http_version == "HTTP/2"
    assert result.body == PAGE
    assert result.address == H2_ADDRESS
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert result.tls is not None
    assert result.tls.subject == "CN=h2site.test"
    assert "Cordon World CA 99" in result.tls.issuer
    assert result.tls.sha256 == cert.fingerprint(hashes.SHA256()).hex()
    assert result.tls.names == ("h2site.test", "www.h2site.test")
    assert result.tls.version in ("TLSv1.2", "TLSv1.3")


def test_a_certificate_for_another_name_fails_verification(
    loopback: Loopback, h2_site: tuple[H2Server, Path, bytes]
) -> None:
    server, ca_file, _ = h2_site
    settings = loopback.settings(http2=True, ca_files=[str(ca_file)], extra_ports=[server.port])
    result = _fetch(
        Fetcher(FetcherConfig.from_settings(settings)), f"https://wrongname.test:{server.port}/"
    )
    assert result.outcome == "failed"
    assert result.reason is not None
    assert "TLS verification failed" in result.reason


def test_without_the_ca_file_the_certificate_is_not_trusted(
    loopback: Loopback, h2_site: tuple[H2Server, Path, bytes]
) -> None:
    server, _, _ = h2_site
    settings = loopback.settings(http2=True, extra_ports=[server.port])
    result = _fetch(
        Fetcher(FetcherConfig.from_settings(settings)), f"https://h2site.test:{server.port}/"
    )
    assert result.outcome == "failed"
    assert "TLS verification failed" in (result.reason or "")


@pytest.mark.parametrize("kind", ["http", "socks5"])
def test_an_egress_proxy_is_asked_only_for_checked_addresses(loopback: Loopback, kind: str) -> None:
    proxy = Proxy(kind, *(("crawler", "s3cret") if kind == "socks5" else (None, None)))
    try:
        creds = "crawler:s3cret@" if kind == "socks5" else ""
        settings = loopback.settings(
            egress_profiles=[
                f"nl={kind}://{creds}127.0.0.1:{proxy.port}",
                "direct=http://127.0.0.1:1",
            ],
            egress_profile="nl",
        )
        fetcher = Fetcher(FetcherConfig.from_settings(settings))
        options = CaptureOptions.from_settings(settings)
        plan = CapturePlan(1, f"http://allowed.test:{loopback.trap.port}/ok", "first")
        result = anyio.run(take_capture, fetcher, plan, FrozenClock(), options)
        assert result.outcome == "live", result.outcome_reason
        assert result.egress_profile == "nl"
        assert result.egress_proxy == f"{kind}://127.0.0.1:{proxy.port}"  # never the password
        assert set(proxy.asked) == {(TRAP_ADDRESS, loopback.trap.port)}
        # A denied address is refused before the proxy hears of it.
        blocked = _fetch(fetcher, f"http://loopback.test:{loopback.canary.port}/")
        assert blocked.outcome == "blocked"
        assert set(proxy.asked) == {(TRAP_ADDRESS, loopback.trap.port)}
        assert loopback.canary.connections == 0
    finally:
        proxy.close()


def test_an_unknown_egress_profile_is_a_clear_error(loopback: Loopback) -> None:
    settings = loopback.settings(egress_profiles=["nl=http://127.0.0.1:3128"], egress_profile="us")
    with pytest.raises(CrawlConfigError, match="'us' is not in egress_profiles"):
        FetcherConfig.from_settings(settings)


def test_the_pinned_backend_never_resolves_a_name(loopback: Loopback) -> None:
    """Without a pin the backend refuses: nothing but the fetcher's checked answer is used."""
    import httpcore

    from cordon.crawl.fetcher import PinnedBackend, PolicyRefused

    backend = PinnedBackend((), (), None)

    async def run() -> None:
        with pytest.raises(PolicyRefused):
            await backend.connect_tcp("localhost", loopback.canary.port)

    anyio.run(run)
    assert backend.connects == 0
    assert isinstance(PolicyRefused("x"), httpcore.ConnectError)
    assert socket.gethostbyname("localhost")  # the system would have resolved it
