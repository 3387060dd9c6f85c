"""What the application holds for its lifetime: settings, clock, database, keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import Connection, Engine

from cordon.audit.log import Actor
from cordon.clock import Clock
from cordon.config import Settings
from cordon.domain.partners import Principal
from cordon.keys import Keys
from cordon.store import db


@dataclass
class AppState:
    settings: Settings
    clock: Clock
    engine: Engine
    keys: Keys

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One writing transaction, committed before the response is sent."""
        with db.write(self.engine) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with db.read(self.engine) as conn:
            yield conn


def app_state(request: Request) -> AppState:
    state = request.app.state.cordon
    assert isinstance(state, AppState)
    return state


def actor_of(request: Request, principal: Principal | None, purpose: str | None = None) -> Actor:
    """The audit actor of this request: who, with which token, from which address."""
    return Actor.of(
        principal,
        source=getattr(request.state, "audit_source", "api"),
        request_id=getattr(request.state, "request_id", None),
        client_ip=request.client.host if request.client else None,
        purpose=purpose or request.headers.get("X-Cordon-Purpose"),
    )
