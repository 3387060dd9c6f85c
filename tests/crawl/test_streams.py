"""The crawler's network streams (``cordon.crawl.transport``) on asyncio's loop and on uvloop:
large bodies arrive whole through back-pressure, a connection the server closed while idle is
never offered for reuse, refusals and silences become httpcore's errors."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import httpcore
import pytest

from cordon.crawl.transport import HIGH_WATER, connect_address

LOOPS = [pytest.param(False, id="asyncio"), pytest.param(True, id="uvloop")]


class OneShotServer:
    """Accepts connections on loopback and runs ``handler`` on each, in a thread."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._handler = handler
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                self._handler(conn)

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[socket.socket], None]], OneShotServer]]:
    servers: list[OneShotServer] = []

    def start(handler: Callable[[socket.socket], None]) -> OneShotServer:
        servers.append(OneShotServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _run(uvloop: bool, fn: Callable[[], Awaitable[Any]]) -> Any:
    return anyio.run(fn, backend_options={"use_uvloop": uvloop})


@pytest.mark.parametrize("uvloop", LOOPS)
def test_a_body_many_times_the_buffer_arrives_whole(uvloop: bool, serve: Any) -> None:
    body = hashlib.sha256(b"seed").digest() * (HIGH_WATER // 8)  # 8 × the buffer limit

    def handler(conn: socket.socket) -> None:
        conn.recv(100)
        conn.sendall(body)

    server = serve(handler)

    async def fetch() -> bytes:
        stream = await connect_address("127.0.0.1", server.port, 5)
        await stream.write(b"GET", 5)
        received = bytearray()
        await anyio.sleep(0.2)  # the server fills the buffer past its limit meanwhile
        while chunk := await stream.read(65536, 5):
            received += chunk
        await stream.aclose()
        return bytes(received)

    assert _run(uvloop, fetch) == body


@pytest.mark.parametrize("uvloop", LOOPS)
def test_a_connection_closed_by_the_server_while_idle_is_readable(uvloop: bool, serve: Any) -> None:
    server = serve(lambda conn: None)  # accepts, then closes at once

    async def check() -> bytes:
        stream = await connect_address("127.0.0.1", server.port, 5)
        with anyio.fail_after(5):  # what httpcore asks of an idle connection before reuse
            while not stream.get_extra_info("is_readable"):
                await anyio.sleep(0.01)
        rest = await stream.read(10, 1)
        await stream.aclose()
        return rest

    assert _run(uvloop, check) == b""


@pytest.mark.parametrize("uvloop", LOOPS)
def test_nothing_listening_is_a_refused_connect_error(uvloop: bool) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()

    async def connect() -> None:
        await connect_address("127.0.0.1", port, 5)

    with pytest.raises(httpcore.ConnectError) as caught:
        _run(uvloop, connect)
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


@pytest.mark.parametrize("uvloop", LOOPS)
def test_a_silent_server_is_a_read_timeout(uvloop: bool, serve: Any) -> None:
    release = threading.Event()
    server = serve(lambda conn: release.wait(5))

    async def read() -> None:
        stream = await connect_address("127.0.0.1", server.port, 5)
        try:
            await stream.read(10, 0.2)
        finally:
            await stream.aclose()

    try:
        with pytest.raises(httpcore.ReadTimeout):
            _run(uvloop, read)
    finally:
        release.set()


@pytest.mark.parametrize("uvloop", LOOPS)
def test_a_name_is_refused_not_resolved(uvloop: bool) -> None:
    async def connect() -> None:
        await connect_address("localhost", 80, 1)

    with pytest.raises(httpcore.ConnectError, match="not an IP address"):
        _run(uvloop, connect)
