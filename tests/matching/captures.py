"""Captures for the matching tests: pictures served by a real HTTP server on loopback, hashed by
the crawler's own media code, stored by the crawler's own repository."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Connection

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import Settings, load_settings
from cordon.crawl import repo as captures
from cordon.crawl.capture import CapturePlan, CaptureResult, PageVersion
from cordon.crawl.evidence import PageRecord, build_warc
from cordon.crawl.fetcher import FetchResult, Hop
from cordon.crawl.media import MediaOutcome, hash_into
from cordon.domain.partners import Principal
from cordon.domain.tlp import Tlp
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from crawl.servers import RawHttpServer, send

#: Pictures are served from this loopback address (outside 127.0.0.0/16, which the fetcher
#: never allows).
HOST = "127.3.0.1"


class PictureServer:
    """Serves pictures from memory at ``/<name>``; counts requests."""

    def __init__(self) -> None:
        self.pictures: dict[str, bytes] = {}
        self.on_serve: Callable[[], None] | None = None

        def serve(sock: socket.socket, target: str, headers: dict[str, str]) -> None:
            if self.on_serve is not None:
                self.on_serve()
            data = self.pictures.get(target.split("?")[0])
            if data is None:
                send(sock, 404, b"gone")
            else:
                send(sock, 200, data, {"Content-Type": "image/jpeg"})

        self._serve = serve
        self.server = RawHttpServer(HOST, {})

    def put(self, path: str, data: bytes) -> str:
        self.pictures[path] = data
        self.server.routes[path] = self._serve
        return f"http://{HOST}:{self.server.port}{path}"

    def remove(self, path: str) -> None:
        self.pictures.pop(path, None)

    def settings(self, base: Settings | None = None, **matching: object) -> Settings:
        overrides: dict[str, object] = {
            "crawl": {"allow_networks": ["127.3.0.0/16"], "extra_ports": [self.server.port]},
        }
        if matching:
            overrides["matching"] = matching
        data = {} if base is None else base.model_dump(mode="json")
        for key, value in overrides.items():
            data[key] = {**data.get(key, {}), **value}  # type: ignore[dict-item]  # sections
        return load_settings(environ={}, overrides=data)

    def close(self) -> None:
        self.server.close()


def store_capture(
    conn: Connection,
    clock: FrozenClock,
    settings: Settings,
    reporter: Principal,
    page_url: str,
    pictures: list[tuple[str, bytes]],
    tlp: Tlp = Tlp.GREEN,
) -> int:
    """Report ``page_url`` and store a capture of it showing ``pictures`` ((url, bytes) pairs),
    hashed as the crawler hashes them. Returns the capture's id."""
    done = reports.submit(
        conn,
        clock,
        reporter,
        Actor.of(reporter, source="cli"),
        ReportIn(urls=[page_url], tlp=tlp),
        channel="cli",
    )
    url_id = done.report.urls[0].id
    now = clock.now()
    fetch = FetchResult(requested_url=page_url, outcome="ok", final_url=page_url, status=200)
    fetch.hops = [Hop(page_url, "192.0.2.10", 443, 200)]
    fetch.address, fetch.port = "192.0.2.10", 443
    fetch.headers = [("content-type", "text/html")]
    media = []
    for url, data in pictures:
        outcome = MediaOutcome(url=url, embed="img")
        hash_into(outcome, data, settings.crawl.max_image_pixels)
        media.append(outcome)
    result = CaptureResult(
        plan=CapturePlan(url_id, page_url, "first"),
        started_at=now,
        finished_at=now + timedelta(seconds=1),
        outcome="live",
        outcome_reason=None,
        gone_reason=None,
        base=fetch,
        versions=[PageVersion("base", fetch, [("User-Agent", "test")])],
        resolved={"shop.test": ["192.0.2.10"]},
        resolver="test",
        egress_profile=None,
        egress_proxy=None,
        media=media,
        indicators=[],
    )
    result.evidence, result.evidence_records = build_warc(
        at=now,
        info={"software": "test"},
        pages=[PageRecord("base", page_url, [], 200, "OK", "HTTP/1.1", [], b"<p>page</p>")],
        media=[m.hashes() for m in media],
        capture=result.summary(),
    )
    stored = captures.store_capture(conn, clock, Actor(source="stage"), result, settings)
    return stored.capture_id
