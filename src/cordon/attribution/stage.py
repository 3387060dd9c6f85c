"""The ``attribute`` pipeline stage: attribute a reported URL's host and store what was found.

Subjects are URLs (``url`` work items). The stage keeps one :class:`Attributor` (and so its DNS
and RDAP caches and rate limits) for as long as the worker runs. Whatever DNS, the IP databases
or RDAP answer, the item ends with a stored observation whose failures say what went wrong; the
stage raises only when the URL itself is gone (dead letter) or the database fails.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Connection

from cordon.attribution import repo
from cordon.attribution.attributor import Attributor, Target, parse_target
from cordon.attribution.cdn import CdnDataError
from cordon.attribution.jurisdiction import bases_of, decide
from cordon.attribution.model import Failure, HostAttribution
from cordon.audit.log import Actor
from cordon.clock import Clock
from cordon.config import Settings
from cordon.pipeline.repo import WorkItem
from cordon.pipeline.runner import Permanent, Retry, StageContext
from cordon.plugins import hookimpl


def _crashed(target: Target, clock: Clock, basis: str, exc: BaseException) -> HostAttribution:
    """An observation that says the attribution itself broke (a bug, or an answer no check
    foresaw): recorded rather than lost, so the URL shows the failure."""
    return HostAttribution(
        target=target.text,
        host=target.host,
        registrable_domain=target.registrable_domain,
        is_ip=target.is_ip,
        observed_at=clock.now(),
        basis="connection" if basis == "connection" else "dns",
        failures=(
            Failure("attribution", target.host, "internal", f"{type(exc).__name__}: {exc}"[:500]),
        ),
    )


def attribute_url(
    conn: Connection,
    attributor: Attributor,
    clock: Clock,
    actor: Actor,
    url_id: int,
    *,
    host: str | None = None,
    address: str | None = None,
    headers: Mapping[str, str] | None = None,
    capture_id: int | None = None,
) -> repo.Stored:
    """Attribute URL ``url_id`` and store the observation, its routing and any hop, in the
    caller's transaction.

    ``host`` (the host a crawler ended at, after redirects), ``address`` (the address it
    connected to), the response ``headers`` and the ``capture_id`` say what a crawler saw.
    Without them, the URL's newest live capture that has not been attributed yet is used (the
    crawler queues the URL after each one); without such a capture, DNS decides. Raises
    ``LookupError`` when the URL does not exist.
    """
    stored_url = repo.url_target(conn, url_id)
    if stored_url is None:
        raise LookupError(f"no URL with id {url_id}")
    seen_at = None
    if host is None and address is None and capture_id is None:
        seen = repo.unattributed_capture(conn, url_id)
        if seen is not None:
            host, address, headers = seen.final_host, seen.connected_address, seen.headers
            capture_id, seen_at = seen.id, seen.finished_at
    name = (host or stored_url.host).lower().rstrip(".")
    if host is None:
        target = Target(stored_url.url, name, stored_url.registrable_domain, _is_ip(name))
    else:
        parsed = parse_target(name)
        target = Target(stored_url.url, parsed.host, parsed.registrable_domain, parsed.is_ip)
    try:
        found = attributor.attribute(target, address=address, headers=headers)
    except Exception as exc:  # the stage must record, not crash, whatever the answers were
        found = _crashed(target, clock, "connection" if address else "dns", exc)
    if seen_at is not None:
        # The observation is of when the crawler connected, not of when it was attributed.
        found = replace(found, observed_at=seen_at)
    decision = decide(bases_of(found), repo.partners(conn))
    return repo.store(conn, clock, actor, url_id, found, decision, capture_id=capture_id)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


#: How long items wait when the configuration is broken.
CONFIG_RETRY = timedelta(minutes=5)


class AttributeStage:
    """Attributes each reported URL's host (stage ``attribute``, subjects ``url``)."""

    name = repo.STAGE

    def __init__(self, attributor: Attributor | None = None) -> None:
        """With ``attributor``, the stage uses it (and its caches) whatever the settings."""
        self._attributor = attributor
        self._fixed = attributor is not None
        self._settings: Settings | None = None
        self._lock = threading.Lock()

    def attributor(self, settings: Settings, clock: Clock) -> Attributor:
        """The attributor for these settings, made once."""
        with self._lock:
            if self._fixed and self._attributor is not None:
                return self._attributor
            if self._attributor is None or self._settings is not settings:
                if self._attributor is not None:
                    self._attributor.close()
                self._attributor = Attributor(settings, clock)
                self._settings = settings
            return self._attributor

    def close(self) -> None:
        """Release the attributor's files and connections."""
        with self._lock:
            if self._attributor is not None:
                self._attributor.close()
            self._attributor = None

    def process(self, conn: Connection, ctx: StageContext, item: WorkItem) -> None:
        if item.subject_kind != "url":
            raise Permanent(f"the attribute stage takes URLs, not {item.subject_kind!r}")
        try:
            attributor = self.attributor(ctx.settings, ctx.clock)
        except CdnDataError as exc:
            # A configuration error, not the item's fault: wait for it to be fixed.
            raise Retry(f"configuration: {exc}", after=CONFIG_RETRY) from None
        try:
            attribute_url(conn, attributor, ctx.clock, ctx.actor, item.subject_id)
        except LookupError as exc:
            raise Permanent(str(exc)) from None


@hookimpl
def cordon_stages() -> list[AttributeStage]:
    """Cordon's own stages from this package."""
    return [AttributeStage()]
