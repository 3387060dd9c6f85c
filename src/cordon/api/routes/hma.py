"""HMA-compatible routes, so that clients of Meta's Hasher-Matcher-Actioner work unchanged.

They answer exactly as HMA's ``/m/lookup`` and ``/c/bank/<bank>/signal`` do, behind Cordon's own
authentication: a bearer token only (``token_only``: a session cookie is refused, so a browser can
never be made to call them), the caller's permissions, and the access policy (only banks the
caller may read are looked up; only banks the caller's organisation owns can be added to).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Request
from fastapi import Query as QueryParam

from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem
from cordon.api.routing import CordonRouter
from cordon.api.state import actor_of, app_state
from cordon.banks import model as banks_model
from cordon.banks import repo as banks
from cordon.domain.permissions import Permission
from cordon.domain.tlp import Tlp
from cordon.matching import flows
from cordon.matching import repo as matching
from cordon.matching.model import Query
from cordon.matching.service import SIGNAL_TYPES, shared_matcher
from cordon.signals import types

router = CordonRouter(tags=["hma"])

_EXAMPLE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@router.get(
    "/m/lookup",
    permission=Permission.MATCH_QUERY,
    token_only=True,
    summary="HMA lookup: the banks a signal matches, with content ids and distances",
)
def lookup(
    request: Request,
    principal: CurrentPrincipal,
    signal_type: Annotated[str, QueryParam(description="`pdq`, `video_md5`, …")],
    signal: Annotated[str, QueryParam(description="The hash")],
    banks_: Annotated[
        str | None, QueryParam(alias="banks", description="Comma-separated bank names")
    ] = None,
) -> dict[str, list[dict[str, Any]]]:
    """``{"BANK": [{"bank_content_id": 1, "distance": "0"}]}``, as HMA answers: every match in
    banks you may read (suppressed ones too, as HMA has no negative banks; quarantined entries
    left out). The signal is recorded as a sighting of your organisation (AMBER+STRICT)."""
    if signal_type not in SIGNAL_TYPES:
        raise Problem(400, f"No such SignalType '{signal_type}'")
    try:
        value = types.get(signal_type).validate(signal)
    except ValueError as exc:
        raise Problem(400, f"invalid signal: {exc}") from None
    wanted = None if banks_ is None else {b.strip() for b in banks_.split(",") if b.strip()}
    state = app_state(request)
    matcher = shared_matcher(state.engine, state.clock, state.settings)
    with state.write() as conn:
        _, answer = flows.match_for_member(
            conn,
            matcher,
            state.clock,
            actor_of(request, principal),
            state.settings,
            principal,
            [Query(signal_type, value)],
            Tlp.AMBER_STRICT,
        )
    out: dict[str, list[dict[str, Any]]] = {}
    for hit in answer[0]:
        if wanted is not None and hit.bank_name not in wanted:
            continue
        out.setdefault(hit.bank_name, []).append(
            {"bank_content_id": hit.entry_id, "distance": str(hit.distance)}
        )
    return out


@router.post(
    "/c/bank/{bank_name}/signal",
    permission=Permission.BANK_WRITE,
    token_only=True,
    summary="HMA: add signals to a bank",
)
def add_signal(
    request: Request,
    principal: CurrentPrincipal,
    bank_name: str,
    body: Annotated[dict[str, Any], Body(examples=[{"pdq": _EXAMPLE}])],
) -> dict[str, Any]:
    """``{"pdq": "<hex>"}`` (one signal per type) adds each signal to the bank as an entry, as
    HMA does; the answer is HMA's: ``{"id": <entry id>, "signals": {"pdq": "<hex>"}}`` (with
    several signals, ``id`` is the first one's). Only your organisation's banks can be added to."""
    if not body:
        raise Problem(400, "No signals given")
    entries = []
    for name, value in body.items():
        if name not in SIGNAL_TYPES:
            raise Problem(400, f"No such signal type {name}")
        if not isinstance(value, str):
            raise Problem(400, f"Invalid {name} signal: a signal is text")
        try:
            entries.append(banks_model.EntryIn(signal_type=name, signal=value, source="hma"))
        except ValueError as exc:
            raise Problem(400, f"Invalid {name} signal: {exc}") from None
    state = app_state(request)
    actor = actor_of(request, principal)
    with state.write() as conn:
        try:
            target = banks.get_bank(conn, state.clock, principal, actor, bank_name)
        except banks.NotFound:
            target = None
        if target is None:
            raise Problem(404, f"bank '{bank_name}' not found")
        try:
            banks.add_entries(conn, state.clock, principal, actor, bank_name, entries)
        except banks.NotOwner as exc:
            raise Problem(403, str(exc)) from None
        except banks.BankError as exc:
            raise Problem(400, str(exc)) from None
        ids = matching.entry_ids(conn, target.id, [(e.signal_type, e.signal) for e in entries])
    return {"id": ids[0], "signals": {e.signal_type: e.signal for e in entries}}
