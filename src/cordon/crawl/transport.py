"""The crawler's network streams: asyncio transports under httpcore's connection layer.

httpcore's own backends wrap every socket and TLS session in Python stream objects; the
crawler makes several thousand requests a minute, and that wrapping cost more CPU than the
requests themselves. These streams hand bytes straight between httpcore and the event loop's
transports, and TLS to the event loop's own implementation (``loop.start_tls``; in C under
uvloop, which ``cordon crawl`` runs on).

Connections go only to an address given as such (:func:`connect_address` never resolves a
name); :func:`connect_name` is for an operator's configured proxy.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from ipaddress import ip_address
from typing import Any, Final, cast

import anyio
import httpcore

HIGH_WATER: Final = 256 * 1024
"""Bytes buffered from the network before reading pauses until the reader catches up."""


class _Protocol(asyncio.Protocol):
    """Collects what arrives, wakes one reader, and pauses the socket when the buffer is full."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.reading_paused = False
        self.writing_paused = False
        self._reader: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None

    # ---------------------------------------------------------------- asyncio's side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio's, but have the same methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if exc is not None:
            self.error = exc
        self._wake_reader()
        self._wake_drain()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake_drain()

    def _wake_reader(self) -> None:
        waiter, self._reader = self._reader, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_drain(self) -> None:
        waiter, self._drain = self._drain, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ---------------------------------------------------------------- the stream's side

    async def wait_readable(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._reader = waiter
        await waiter

    async def wait_drained(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._drain = waiter
        await waiter


class Stream(httpcore.AsyncNetworkStream):
    """One connection, plain or TLS, as httpcore reads and writes it."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            try:
                with anyio.fail_after(timeout):
                    await protocol.wait_readable()
            except TimeoutError:
                raise httpcore.ReadTimeout(f"nothing to read within {timeout} s") from None
        buffer = protocol.buffer
        if buffer:
            if len(buffer) <= max_bytes:
                data = bytes(buffer)
                buffer.clear()
            else:
                data = bytes(buffer[:max_bytes])
                del buffer[:max_bytes]
            if protocol.reading_paused and len(buffer) <= HIGH_WATER // 4:
                protocol.reading_paused = False
                self._transport.resume_reading()
            return data
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__)
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if protocol.error is not None or self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        if protocol.writing_paused:
            try:
                with anyio.fail_after(timeout):
                    while protocol.writing_paused and not protocol.eof:
                        await protocol.wait_drained()
            except TimeoutError:
                raise httpcore.WriteTimeout(f"could not write within {timeout} s") from None
            if protocol.error is not None:
                raise httpcore.WriteError(str(protocol.error))

    async def aclose(self) -> None:
        # Closed at once: nothing is waiting to be written when httpcore closes a connection,
        # and a TLS close_notify exchange would keep the socket open for a server that may
        # never answer.
        self._transport.abort()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            with anyio.fail_after(timeout):
                transport = await loop.start_tls(
                    self._transport,
                    self._protocol,
                    ssl_context,
                    server_hostname=server_hostname,
                    ssl_handshake_timeout=timeout,
                )
        except TimeoutError:
            self._transport.abort()
            raise httpcore.ConnectTimeout(f"TLS handshake took longer than {timeout} s") from None
        except (ssl.SSLError, ssl.CertificateError, OSError, ConnectionError) as exc:
            self._transport.abort()
            raise httpcore.ConnectError(f"TLS handshake failed: {exc}") from exc
        if transport is None:  # the peer closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self._protocol.transport = transport
        return Stream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # Asked of an idle kept connection: readable means the server closed it (or sent
            # something unasked), and the connection must not be reused.
            protocol = self._protocol
            return protocol.eof or bool(protocol.buffer) or self._transport.is_closing()
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


async def connect_address(address: str, port: int, timeout: float | None) -> Stream:
    """A TCP connection to the IP address ``address`` (never a name: nothing is resolved)."""
    try:
        family = socket.AF_INET6 if ip_address(address).version == 6 else socket.AF_INET
    except ValueError:
        raise httpcore.ConnectError(f"{address!r} is not an IP address") from None
    loop = asyncio.get_running_loop()
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with anyio.fail_after(timeout):
            await loop.sock_connect(sock, (address, port))
        transport, protocol = await loop.create_connection(_Protocol, sock=sock)
    except TimeoutError:
        sock.close()
        raise httpcore.ConnectTimeout(f"connecting to {address}:{port} timed out") from None
    except OSError as exc:
        sock.close()
        raise httpcore.ConnectError(f"connecting to {address}:{port}: {exc}") from exc
    except BaseException:
        sock.close()
        raise
    return Stream(transport, protocol)


async def connect_name(host: str, port: int, timeout: float | None) -> Stream:
    """A TCP connection to ``host`` resolved by the system: only for a configured proxy."""
    loop = asyncio.get_running_loop()
    try:
        with anyio.fail_after(timeout):
            transport, protocol = await loop.create_connection(_Protocol, host, port)
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
    except OSError as exc:
        raise httpcore.ConnectError(f"connecting to {host}:{port}: {exc}") from exc
    return Stream(transport, protocol)
