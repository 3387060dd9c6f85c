"""The running world's state: its clock, where each site is served, what has been taken down.

Everything runs in the server's one event loop thread, so no locks are needed. Scheduled events
(domain hops, delayed desk actions) fire on the world's clock: whenever the clock moves and
before any request is answered.
"""

from __future__ import annotations

import functools
import heapq
import ipaddress
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cordon.world.model import GroundTruth, Hosting, Provider, Site

TakedownBy = Literal["host", "cdn", "registrar"]


class WorldClock:
    """The world's own time: frozen unless advanced, or running ``speed`` times faster.

    A frozen clock (speed 0, the default) moves only through :meth:`advance` and :meth:`set`,
    which is what tests want; the demo runs it accelerated.
    """

    def __init__(self, start: datetime, speed: float = 0.0) -> None:
        if speed < 0:
            raise ValueError("speed must not be negative")
        self._start = start.astimezone(UTC)
        self._speed = speed
        self._origin = time.monotonic()
        self._skew = timedelta(0)

    @property
    def speed(self) -> float:
        """How many world seconds pass per wall-clock second (0: frozen)."""
        return self._speed

    def now(self) -> datetime:
        """The world's current time."""
        elapsed = (time.monotonic() - self._origin) * self._speed if self._speed else 0.0
        return self._start + self._skew + timedelta(seconds=elapsed)

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta``; a clock never runs backwards."""
        if delta < timedelta(0):
            raise ValueError("a clock never runs backwards")
        self._skew += delta
        return self.now()

    def set(self, when: datetime) -> datetime:
        """Jump to ``when``, which must not be earlier than now."""
        now = self.now()
        if when.tzinfo is None:
            raise ValueError("time must carry a time zone")
        if when < now:
            raise ValueError("a clock never runs backwards")
        self._skew += when - now
        return self.now()


@dataclass
class Vhost:
    """One domain configured on one server: live, or redirecting to the site's new domain."""

    domain: str
    site: Site
    hosting: Hosting
    mode: Literal["live", "redirect"] = "live"
    host_down: bool = False
    cdn_down: bool = False

    @property
    def edge(self) -> str | None:
        """The CDN edge address in front of it, if any."""
        return self.hosting.cdn_address if self.hosting.cdn else None

    @property
    def public_address(self) -> str:
        """The address the domain resolves to."""
        return self.edge or self.hosting.address


@dataclass
class DomainState:
    """A registered (or not yet, or no longer registered) domain."""

    name: str
    site: Site
    registrar: str
    registered_at: datetime
    active: bool
    hold: bool = False
    vhost: Vhost | None = None

    @property
    def resolves(self) -> bool:
        """Whether the world's DNS answers for it."""
        return self.active and not self.hold


@dataclass(order=True)
class _Scheduled:
    at: datetime
    seq: int
    action: Callable[[], None] = field(compare=False)
    label: str = field(compare=False)


@dataclass
class Event:
    """Something that changed in the world, at a world time."""

    index: int
    at: datetime
    kind: str
    site: str | None
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "index": self.index,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "site": self.site,
            "detail": self.detail,
        }


class WorldState:
    """The mutable world: sites, domains, accounts, events, all on :class:`WorldClock`."""

    def __init__(self, truth: GroundTruth, clock: WorldClock) -> None:
        self.truth = truth
        self.clock = clock
        self.providers: dict[str, Provider] = {p.id: p for p in truth.providers}
        self.cdn_edges: set[str] = set()
        self.domains: dict[str, DomainState] = {}
        self.vhosts: dict[str, list[Vhost]] = {}  # site id -> its vhosts, current first
        self.accounts_closed: set[str] = set()
        self.events: list[Event] = []
        self.version = 0  # bumped on every change; caches key on it
        self.requests: dict[str, int] = {}
        self._queue: list[_Scheduled] = []
        self._seq = itertools.count()
        self._listeners: list[Callable[[], None]] = []
        self._used_addresses: set[str] = set()
        self._address_iters: dict[str, Iterator[str]] = {}
        for site in truth.sites:
            vhost = Vhost(site.domain, site, site.hosting)
            self.vhosts[site.id] = [vhost]
            self.domains[site.domain] = DomainState(
                site.domain, site, site.registrar, site.registered_at, True, vhost=vhost
            )
            self._used_addresses.add(site.hosting.address)
            if site.hosting.cdn_address:
                self.cdn_edges.add(site.hosting.cdn_address)
            for number, hop in enumerate(site.hops):
                self.domains[hop.domain] = DomainState(
                    hop.domain, site, hop.registrar, hop.at, False
                )
                self._used_addresses.add(hop.hosting.address)
                self.schedule(
                    hop.at,
                    functools.partial(self._hop, site, number),
                    f"hop {site.id} to {hop.domain}",
                )
        self.accounts = {f"{a.psp}:{a.account}": a for a in truth.accounts}
        self.account_ids = {a.account: f"{a.psp}:{a.account}" for a in truth.accounts}
        self.tick()

    # ------------------------------------------------------------------ changes

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every change (the server reopens or closes listeners)."""
        self._listeners.append(callback)

    def _changed(self) -> None:
        self.version += 1
        for callback in self._listeners:
            callback()

    def record(self, kind: str, site: str | None, **detail: Any) -> Event:
        """Append an event at the current world time."""
        event = Event(len(self.events), self.clock.now(), kind, site, detail)
        self.events.append(event)
        return event

    def schedule(self, at: datetime, action: Callable[[], None], label: str) -> None:
        """Run ``action`` once the world's clock reaches ``at``."""
        heapq.heappush(self._queue, _Scheduled(at, next(self._seq), action, label))

    def tick(self) -> None:
        """Run every scheduled action that is due, in time order."""
        now = self.clock.now()
        while self._queue and self._queue[0].at <= now:
            heapq.heappop(self._queue).action()

    def advance(self, delta: timedelta) -> datetime:
        """Advance the clock and run what became due."""
        self.clock.advance(delta)
        self.tick()
        return self.clock.now()

    def set_time(self, when: datetime) -> datetime:
        """Jump the clock forward to ``when`` and run what became due."""
        self.clock.set(when)
        self.tick()
        return self.clock.now()

    def pending(self) -> list[dict[str, str]]:
        """Scheduled actions not yet due."""
        return [{"at": s.at.isoformat(), "what": s.label} for s in sorted(self._queue)]

    # ------------------------------------------------------------------ lookups

    def site(self, key: str) -> Site:
        """The site with this id or domain (``www.`` allowed); KeyError if none."""
        try:
            return self.truth.site(key)
        except KeyError:
            return self.truth.site(key.lower().rstrip(".").removeprefix("www."))

    def current(self, site: Site) -> Vhost:
        """The live vhost of a site."""
        return self.vhosts[site.id][0]

    def domain_for(self, name: str) -> DomainState | None:
        """The registered domain that ``name`` is or is under."""
        name = name.lower().rstrip(".")
        while True:
            state = self.domains.get(name)
            if state is not None:
                return state
            if "." not in name:
                return None
            name = name.split(".", 1)[1]

    def served_addresses(self) -> set[str]:
        """Addresses that accept connections now: every address with a vhost still up there,
        every CDN edge and every payment provider."""
        out = set(self.cdn_edges)
        out.update(p.address for p in self.truth.payment_providers)
        for vhosts in self.vhosts.values():
            for vhost in vhosts:
                if not vhost.host_down:
                    out.add(vhost.hosting.address)
        return out

    def all_addresses(self) -> set[str]:
        """Every address the world may ever serve on."""
        out = set(self.cdn_edges) | set(self._used_addresses)
        out.update(p.address for p in self.truth.payment_providers)
        return out

    # ------------------------------------------------------------------ actions

    def _hop(self, site: Site, number: int) -> None:
        hop = site.hops[number]
        old = self.vhosts[site.id]
        previous = old[0]
        new = Vhost(hop.domain, site, hop.hosting)
        if hop.old_domain == "redirect":
            previous.mode = "redirect"
            keep = [previous]
        else:
            self.domains[previous.domain].active = False
            keep = []
        self.vhosts[site.id] = [new, *keep, *old[1:]]
        domain = self.domains[hop.domain]
        domain.active = True
        domain.vhost = new
        self.record(
            "hop",
            site.id,
            from_domain=previous.domain,
            to_domain=hop.domain,
            provider=hop.hosting.provider,
            address=hop.hosting.address,
            old_domain=hop.old_domain,
        )
        self._changed()

    def take_down(self, key: str, by: TakedownBy, *, cause: str = "control") -> Event:
        """Take a site down as its host, its CDN or its registrar would."""
        site = self.site(key)
        vhost = self.current(site)
        if by == "host":
            provider = vhost.hosting.provider
            for v in self.vhosts[site.id]:
                if v.hosting.provider == provider:
                    v.host_down = True
            event = self.record("takedown", site.id, by=by, provider=provider, cause=cause)
        elif by == "cdn":
            if vhost.hosting.cdn is None:
                raise ValueError(f"{vhost.domain} is not behind a CDN")
            vhost.cdn_down = True
            event = self.record("takedown", site.id, by=by, provider=vhost.hosting.cdn, cause=cause)
        elif by == "registrar":
            domain = self.domains[vhost.domain]
            domain.hold = True
            event = self.record(
                "takedown",
                site.id,
                by=by,
                registrar=domain.registrar,
                domain=domain.name,
                cause=cause,
            )
        else:
            raise ValueError(f"unknown takedown kind {by!r}")
        self._changed()
        return event

    def hold_domain(self, name: str, *, cause: str) -> Event:
        """Put one domain on registrar hold: it stops resolving."""
        domain = self.domains[name]
        domain.hold = True
        event = self.record(
            "takedown",
            domain.site.id,
            by="registrar",
            registrar=domain.registrar,
            domain=name,
            cause=cause,
        )
        self._changed()
        return event

    def take_down_vhosts(self, site: Site, provider: str, *, cdn: bool, cause: str) -> Event:
        """Take a site's vhosts at ``provider`` down (as origin host, or as CDN)."""
        for v in self.vhosts[site.id]:
            if cdn and v.hosting.cdn == provider:
                v.cdn_down = True
            elif not cdn and v.hosting.provider == provider:
                v.host_down = True
        event = self.record(
            "takedown", site.id, by="cdn" if cdn else "host", provider=provider, cause=cause
        )
        self._changed()
        return event

    def bring_back(self, key: str) -> Event:
        """Undo every takedown of a site: its host, CDN and registrar serve it again."""
        site = self.site(key)
        for v in self.vhosts[site.id]:
            v.host_down = False
            v.cdn_down = False
        for name in site.domains():
            self.domains[name].hold = False
        event = self.record("restored", site.id)
        self._changed()
        return event

    def move(self, key: str, provider_id: str, address: str | None = None) -> Event:
        """Move a site's live domain to another hosting provider (a fresh address there).

        A site behind the CDN stays behind it; only its origin moves.
        """
        site = self.site(key)
        provider = self.providers.get(provider_id)
        if provider is None or provider.kind != "hosting":
            raise ValueError(f"{provider_id!r} is not a hosting provider of this world")
        if address is None:
            address = self._free_address(provider)
        elif not any(
            ipaddress.ip_address(address) in ipaddress.ip_network(b.cidr)
            for b in self.truth.blocks
            if b.id in provider.blocks
        ):
            raise ValueError(f"{address} is not in a block of {provider_id}")
        vhost = self.current(site)
        before = vhost.hosting.provider
        vhost.hosting = vhost.hosting.model_copy(
            update={"provider": provider_id, "address": address}
        )
        vhost.host_down = False
        self._used_addresses.add(address)
        event = self.record(
            "move", site.id, from_provider=before, provider=provider_id, address=address
        )
        self._changed()
        return event

    def _free_address(self, provider: Provider) -> str:
        it = self._address_iters.get(provider.id)
        if it is None:
            blocks = [b for b in self.truth.blocks if b.id in provider.blocks]
            # Moved sites take addresses from the top of the block, clear of generated ones.
            it = (
                str(ip)
                for block in blocks
                for ip in reversed(list(ipaddress.IPv4Network(block.cidr))[-4096:-1])
                if ip.packed[-1] not in (0, 255)
            )
            self._address_iters[provider.id] = it
        for address in it:
            if address not in self._used_addresses:
                return address
        raise ValueError(f"{provider.id} has no free address left")

    def close_account(self, account: str, *, cause: str) -> Event:
        """Close a merchant account (``PSP:ACCOUNT``): its checkout page answers 410."""
        if account not in self.accounts:
            raise KeyError(account)
        self.accounts_closed.add(account)
        event = self.record("account_closed", None, account=account, cause=cause)
        self._changed()
        return event

    def reopen_account(self, account: str) -> Event:
        """Reopen a closed merchant account."""
        if account not in self.accounts:
            raise KeyError(account)
        self.accounts_closed.discard(account)
        event = self.record("account_reopened", None, account=account)
        self._changed()
        return event

    # ------------------------------------------------------------------ views

    def site_state(self, key: str) -> dict[str, Any]:
        """What is true of a site right now, JSON-ready."""
        site = self.site(key)
        vhosts = self.vhosts[site.id]
        live = vhosts[0]
        domain = self.domains[live.domain]
        return {
            "site": site.id,
            "domain": live.domain,
            "resolves": domain.resolves,
            "up": domain.resolves and not live.host_down and not live.cdn_down,
            "vhosts": [
                {
                    "domain": v.domain,
                    "mode": v.mode,
                    "provider": v.hosting.provider,
                    "address": v.hosting.address,
                    "cdn": v.hosting.cdn,
                    "cdn_address": v.hosting.cdn_address,
                    "host_down": v.host_down,
                    "cdn_down": v.cdn_down,
                }
                for v in vhosts
            ],
            "domains": [
                {
                    "name": name,
                    "registrar": self.domains[name].registrar,
                    "active": self.domains[name].active,
                    "hold": self.domains[name].hold,
                }
                for name in site.domains()
            ],
            "accounts_closed": sorted(
                a for a in site.identifiers.accounts if a in self.accounts_closed
            ),
        }
