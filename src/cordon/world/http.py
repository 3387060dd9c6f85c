"""A small, fast HTTP/1.1 server on asyncio: keep-alive, HEAD, Content-Length bodies.

It serves the world's sites, its RDAP server and its control endpoint. It is not a general web
server: no chunked request bodies, no HTTP/2, no upgrades, which the world does not need.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import cast
from urllib.parse import parse_qs, unquote, urlsplit

MAX_HEAD = 32 * 1024
MAX_BODY = 4 * 1024 * 1024
IDLE_SECONDS = 30.0


@dataclass(frozen=True)
class Request:
    """One parsed request. Header names are lower-case."""

    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    local_address: str
    tls: bool

    @property
    def host(self) -> str:
        """The Host header without port and trailing dot, lower-case."""
        host = self.headers.get("host", "").strip().lower()
        if host.startswith("["):
            return host.split("]")[0] + "]"
        return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


@dataclass
class Response:
    """A response; ``Content-Length`` and ``Connection`` are added when it is written."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = "text/html; charset=utf-8"

    def encode(self, *, head_only: bool, keep_alive: bool, date: str) -> bytes:
        reason = (
            HTTPStatus(self.status).phrase if self.status in HTTPStatus._value2member_map_ else ""
        )
        lines = [f"HTTP/1.1 {self.status} {reason}", f"Date: {date}"]
        if self.content_type:
            lines.append(f"Content-Type: {self.content_type}")
        lines.extend(f"{k}: {v}" for k, v in self.headers)
        lines.append(f"Content-Length: {len(self.body)}")
        lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if head_only else head + self.body


Handler = Callable[[Request], "Response | Awaitable[Response]"]


class HttpProtocol(asyncio.Protocol):
    """One connection; requests are answered in order."""

    def __init__(
        self, handler: Handler, date: Callable[[], str], tls: bool, on_error: Callable[[], None]
    ) -> None:
        self._handler = handler
        self._date = date
        self._tls = tls
        self._on_error = on_error
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._local = ""
        self._busy = False
        self._idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio's, but have the same methods.
        self._transport = cast(asyncio.Transport, transport)
        sockname = transport.get_extra_info("sockname")
        self._local = sockname[0] if sockname else ""
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._transport = None

    def _arm(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._idle = asyncio.get_running_loop().call_later(IDLE_SECONDS, self._close)

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._arm()
        if not self._busy:
            self._process()

    def _process(self) -> None:
        while self._transport is not None and not self._busy:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD:
                    self._fail(431)
                return
            parsed = self._parse(bytes(self._buffer[:end]))
            if parsed is None:
                return
            method, target, version, headers = parsed
            if "transfer-encoding" in headers:
                self._fail(411)
                return
            try:
                length = int(headers.get("content-length", "0") or "0")
            except ValueError:
                self._fail(400)
                return
            if length < 0 or length > MAX_BODY:
                self._fail(413)
                return
            if len(self._buffer) < end + 4 + length:
                return
            body = bytes(self._buffer[end + 4 : end + 4 + length])
            del self._buffer[: end + 4 + length]
            split = urlsplit(target)
            request = Request(
                method=method,
                target=target,
                path=unquote(split.path) or "/",
                query=parse_qs(split.query),
                headers=headers,
                body=body,
                local_address=self._local,
                tls=self._tls,
            )
            connection = headers.get("connection", "").lower()
            keep = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
            try:
                result = self._handler(request)
            except Exception:
                self._on_error()
                result = Response(500, b"<h1>500 Internal Server Error</h1>")
            if isinstance(result, Response):
                self._write(result, method, keep)
            else:
                self._busy = True
                task = asyncio.ensure_future(result)
                task.add_done_callback(functools.partial(self._finish, method=method, keep=keep))
                return

    def _finish(self, task: asyncio.Future[Response], method: str, keep: bool) -> None:
        self._busy = False
        try:
            response = task.result()
        except Exception:
            self._on_error()
            response = Response(500, b"<h1>500 Internal Server Error</h1>")
        self._write(response, method, keep)
        self._process()

    def _write(self, response: Response, method: str, keep: bool) -> None:
        if self._transport is None:
            return
        self._transport.write(
            response.encode(head_only=method == "HEAD", keep_alive=keep, date=self._date())
        )
        if not keep:
            self._transport.close()
            self._transport = None

    def _parse(self, head: bytes) -> tuple[str, str, str, dict[str, str]] | None:
        try:
            text = head.decode("latin-1")
            request_line, *lines = text.split("\r\n")
            method, target, version = request_line.split(" ")
        except ValueError:
            self._fail(400)
            return None
        if version not in ("HTTP/1.1", "HTTP/1.0") or not target.startswith("/"):
            self._fail(400)
            return None
        headers: dict[str, str] = {}
        for line in lines:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                self._fail(400)
                return None
            headers[name.lower()] = value.strip()
        return method, target, version, headers

    def _fail(self, status: int) -> None:
        self._write(Response(status, f"<h1>{status}</h1>".encode()), "GET", keep=False)


async def listen(
    handler: Handler,
    sock: socket.socket,
    date: Callable[[], str],
    *,
    ssl_context: ssl.SSLContext | None = None,
    on_error: Callable[[], None] = lambda: None,
) -> asyncio.Server:
    """Serve ``handler`` on an already bound and listening socket."""
    loop = asyncio.get_running_loop()
    tls = ssl_context is not None
    return await loop.create_server(
        lambda: HttpProtocol(handler, date, tls, on_error),
        sock=sock,
        ssl=ssl_context,
        ssl_handshake_timeout=10.0 if tls else None,
    )
