"""The control endpoint: JSON over HTTP on 127.0.0.1, for tests and the demo.

| method and path | body | does |
| --- | --- | --- |
| GET /status | | clock, ports, counts |
| GET /clock | | the world's time |
| POST /clock/advance | {"seconds": N} | moves the clock forward, runs what is due |
| POST /clock/set | {"now": ISO 8601} | jumps the clock forward |
| GET /sites/{id or domain} | | where the site is served and what is down |
| POST /sites/{key}/down | {"by": "host" or "cdn" or "registrar"} | takes it down |
| POST /sites/{key}/up | | undoes every takedown |
| POST /sites/{key}/move | {"provider": ID, "address": optional} | moves its origin |
| POST /accounts/{PSP:ACCOUNT}/close, /reopen | | closes or reopens a merchant account |
| GET /messages?since=N | | the SMTP sink's messages from index N |
| GET /events?since=N | | the world's events from index N |
| GET /pending | | scheduled events not yet due |
| GET /requests | | page requests per Host so far |
| POST /shutdown | | stops the world |
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cordon.world.http import Request, Response
from cordon.world.smtp import Sink
from cordon.world.state import WorldState


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _json(status: int, body: object) -> Response:
    return Response(status, json.dumps(body).encode(), content_type="application/json")


class Control:
    """Handles control requests against the running world."""

    def __init__(
        self,
        state: WorldState,
        sink: Sink,
        status: Callable[[], dict[str, Any]],
        shutdown: Callable[[], None],
    ) -> None:
        self.state = state
        self.sink = sink
        self.status = status
        self.shutdown = shutdown

    def handle(self, request: Request) -> Response:
        """Answer one control request; errors are JSON ``{"error": message}``."""
        try:
            return _json(200, self._route(request))
        except ControlError as exc:
            return _json(exc.status, {"error": str(exc)})

    def _body(self, request: Request) -> dict[str, Any]:
        if not request.body:
            return {}
        try:
            body = json.loads(request.body)
        except ValueError as exc:
            raise ControlError(400, f"body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ControlError(400, "body must be a JSON object")
        return body

    def _since(self, request: Request) -> int:
        raw = request.query.get("since", ["0"])[0]
        if not raw.isdigit():
            raise ControlError(400, f"since must be a whole number, not {raw!r}")
        return int(raw)

    def _route(self, request: Request) -> object:
        state = self.state
        state.tick()
        parts = [p for p in request.path.split("/") if p]
        method = request.method
        if method == "GET" and parts == ["status"]:
            return self.status()
        if method == "GET" and parts == ["clock"]:
            return {"now": state.clock.now().isoformat(), "speed": state.clock.speed}
        if method == "POST" and parts == ["clock", "advance"]:
            seconds = self._body(request).get("seconds")
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
                raise ControlError(400, "seconds must be a number of seconds, at least 0")
            return {"now": state.advance(timedelta(seconds=seconds)).isoformat()}
        if method == "POST" and parts == ["clock", "set"]:
            raw = self._body(request).get("now")
            try:
                when = datetime.fromisoformat(str(raw))
                return {"now": state.set_time(when).isoformat()}
            except ValueError as exc:
                raise ControlError(400, f"now: {exc}") from exc
        if len(parts) >= 2 and parts[0] == "sites":
            return self._site(request, parts[1], parts[2:])
        if method == "POST" and len(parts) == 3 and parts[0] == "accounts":
            ref = parts[1]
            if ref not in state.accounts:
                raise ControlError(404, f"no merchant account {ref!r} in this world")
            if parts[2] == "close":
                return state.close_account(ref, cause="control").to_json()
            if parts[2] == "reopen":
                return state.reopen_account(ref).to_json()
        if method == "GET" and parts == ["messages"]:
            return [m.to_json() for m in self.sink.messages[self._since(request) :]]
        if method == "GET" and parts == ["events"]:
            return [e.to_json() for e in state.events[self._since(request) :]]
        if method == "GET" and parts == ["pending"]:
            return state.pending()
        if method == "GET" and parts == ["requests"]:
            return dict(sorted(state.requests.items()))
        if method == "POST" and parts == ["shutdown"]:
            self.shutdown()
            return {"stopping": True}
        raise ControlError(404, f"no control endpoint {method} {request.path}")

    def _site(self, request: Request, key: str, rest: list[str]) -> object:
        state = self.state
        try:
            state.site(key)
        except KeyError:
            raise ControlError(404, f"no site {key!r} in this world") from None
        if request.method == "GET" and not rest:
            return state.site_state(key)
        if request.method != "POST" or len(rest) != 1:
            raise ControlError(404, f"no control endpoint {request.method} {request.path}")
        body = self._body(request)
        try:
            if rest[0] == "down":
                by = body.get("by", "host")
                if by not in ("host", "cdn", "registrar"):
                    raise ControlError(400, "by must be host, cdn or registrar")
                state.take_down(key, by)
            elif rest[0] == "up":
                state.bring_back(key)
            elif rest[0] == "move":
                provider = body.get("provider")
                address = body.get("address")
                if not isinstance(provider, str):
                    raise ControlError(400, "provider must name a hosting provider id")
                state.move(key, provider, address if isinstance(address, str) else None)
            else:
                raise ControlError(404, f"no site action {rest[0]!r}")
        except ValueError as exc:
            raise ControlError(400, str(exc)) from exc
        return state.site_state(key)
