"""Real servers on loopback for notice tests: a webhook receiver and an SMTP sink (aiosmtpd)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

#: Webhook receivers bind here: loopback, outside 127.0.0.0/16 where Cordon listens, and
#: opened for webhooks only by the tests' settings.
WEBHOOK_NETWORK = "127.61.0.0/16"
WEBHOOK_HOST = "127.61.0.1"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """Records every POST; answers ``status`` (change it to make deliveries fail)."""

    url: str = ""
    status: int = 204
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.requests)


@contextmanager
def webhook_receiver(path: str = "/hooks/cordon") -> Iterator[WebhookReceiver]:
    """A webhook endpoint on WEBHOOK_HOST, for the duration of the block."""
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the http.server hook's name
            size = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(size)
            with receiver.lock:
                receiver.requests.append(
                    Received(self.path, {k: v for k, v in self.headers.items()}, body)
                )
                status = receiver.status
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((WEBHOOK_HOST, 0), Handler)
    receiver.url = f"http://{WEBHOOK_HOST}:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class SmtpSink:
    host: str = "127.0.0.1"
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.sink.messages.append(message)
        self.sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on loopback that keeps every message."""
    sink = SmtpSink()
    sink.port = _free_port(sink.host)
    controller = Controller(_Handler(sink), hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
