"""Keyset paging and counting, the same for every list route.

Every listing in Cordon pages newest first by id: a route passes the filter its query parameters
built, the repository's ``list_page`` and how to show one record; the answer carries
``next_before_id`` for the next page (``None`` on the last one). Listing may audit the read
(sensitive records), so it runs in a write transaction; counting only reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from fastapi import Request
from sqlalchemy import Connection

from cordon.api.state import actor_of, app_state
from cordon.audit.log import Actor
from cordon.clock import Clock
from cordon.domain.partners import Principal

F = TypeVar("F", contravariant=True)
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Lister(Protocol[F, T_co]):
    """A repository's ``list_page``: newest first, at most ``limit``, ids below ``before_id``."""

    def __call__(
        self,
        conn: Connection,
        clock: Clock,
        principal: Principal,
        actor: Actor,
        f: F,
        *,
        limit: int,
        before_id: int | None,
    ) -> Sequence[T_co]: ...


class Counter(Protocol[F]):
    """A repository's ``count``: how many records under ``f`` the principal may see."""

    def __call__(self, conn: Connection, principal: Principal, f: F) -> int: ...


def page(
    request: Request,
    principal: Principal,
    lister: Lister[F, T],
    f: F,
    *,
    limit: int,
    before_id: int | None,
    show: Callable[[T], Mapping[str, Any]],
) -> dict[str, Any]:
    """One page of ``lister``'s records as ``{"items": [...], "next_before_id": ...}``."""
    state = app_state(request)
    with state.write() as conn:
        records = lister(
            conn,
            state.clock,
            principal,
            actor_of(request, principal),
            f,
            limit=limit,
            before_id=before_id,
        )
        items = [dict(show(r)) for r in records]
    return {
        "items": items,
        "next_before_id": items[-1]["id"] if len(items) == limit else None,
    }


def count(request: Request, principal: Principal, counter: Counter[F], f: F) -> dict[str, int]:
    """``{"count": n}``: the records under ``f`` the principal may see."""
    state = app_state(request)
    with state.read() as conn:
        return {"count": counter(conn, principal, f)}
