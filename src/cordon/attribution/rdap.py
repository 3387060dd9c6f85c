"""RDAP: IP network, domain and autonomous-system lookups through the RFC 9224 bootstrap.

Answers (RFC 9083) are read for the holder of a network and its abuse contact (the entity with
role ``abuse``, from its vCard e-mail and telephone), and for a domain's registrar and the
registrar's abuse contact. Answers are cached for ``rdap.cache_seconds`` on Cordon's clock, and
requests to each server are held to ``rdap.rate_limit``.

Whatever a server sends (an answer too big, nested too deep, not JSON, without entities, late
or never) ends in a :class:`~cordon.attribution.model.Failure` with a message; nothing raises.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pycountry

from cordon.attribution.model import (
    Contact,
    Failure,
    RdapAutnum,
    RdapDomain,
    RdapNetwork,
    Registrar,
)
from cordon.attribution.ratelimit import RateLimiter, parse_rate
from cordon.clock import Clock
from cordon.config import RdapSettings

#: Where Cordon's own copy of IANA's bootstrap files lives (used when no folder is configured).
SHIPPED_BOOTSTRAP = Path(__file__).parent / "data" / "rdap-bootstrap"
BOOTSTRAP_FILES = ("dns.json", "ipv4.json", "ipv6.json", "asn.json")
#: Nesting deeper than this is refused: RFC 9083 answers are a few levels deep.
MAX_DEPTH = 32
#: Entities looked at in one answer at most.
MAX_ENTITIES = 200
#: Redirects followed for one request.
MAX_REDIRECTS = 3
#: A 404 is remembered at most this long, whatever ``rdap.cache_seconds`` says.
NOT_FOUND_SECONDS = 3600
#: A 429 without Retry-After blocks its server this long; a Retry-After is capped at the second.
BLOCK_SECONDS = 60.0
MAX_BLOCK_SECONDS = 3600.0
CACHE_ENTRIES = 20_000
ACCEPT = "application/rdap+json, application/json;q=0.9"


class BootstrapError(ValueError):
    """A bootstrap file is unreadable or not in RFC 9224 form; the message names the file."""


# --------------------------------------------------------------------------- bootstrap


@dataclass(frozen=True)
class BootstrapFile:
    """One bootstrap file as ``cordon doctor`` reports it."""

    name: str
    path: Path
    ok: bool
    publication: str | None = None
    services: int = 0
    problem: str | None = None


@dataclass(frozen=True)
class Bootstrap:
    """The four RFC 9224 registries: which RDAP server answers for which name, range, ASN."""

    folder: Path
    dns: tuple[tuple[str, tuple[str, ...]], ...] = ()
    ipv4: tuple[tuple[ipaddress.IPv4Network, tuple[str, ...]], ...] = ()
    ipv6: tuple[tuple[ipaddress.IPv6Network, tuple[str, ...]], ...] = ()
    asn: tuple[tuple[int, int, tuple[str, ...]], ...] = ()
    files: tuple[BootstrapFile, ...] = ()

    def problem(self, name: str) -> str | None:
        """Why the registry in file ``name`` cannot be used, if it cannot."""
        for f in self.files:
            if f.name == name and not f.ok:
                return f.problem
        return None

    def domain_servers(self, domain: str) -> tuple[str, ...]:
        """Servers for ``domain``: the entry with the most labels matching its end."""
        labels = domain.lower().rstrip(".").split(".")
        best: tuple[int, tuple[str, ...]] = (0, ())
        for entry, urls in self.dns:
            parts = entry.split(".")
            if len(parts) > best[0] and labels[-len(parts) :] == parts:
                best = (len(parts), urls)
        return best[1]

    def ip_servers(self, address: str) -> tuple[str, ...]:
        """Servers for ``address``: the longest registered prefix holding it."""
        ip = ipaddress.ip_address(address)
        best: tuple[int, tuple[str, ...]] = (-1, ())
        table: Sequence[tuple[Any, tuple[str, ...]]] = self.ipv4 if ip.version == 4 else self.ipv6
        for net, urls in table:
            if ip in net and net.prefixlen > best[0]:
                best = (net.prefixlen, urls)
        return best[1]

    def asn_servers(self, asn: int) -> tuple[str, ...]:
        """Servers for ``asn``."""
        for start, end, urls in self.asn:
            if start <= asn <= end:
                return urls
        return ()


def _services(path: Path) -> tuple[list[tuple[list[str], tuple[str, ...]]], str | None]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BootstrapError(f"{path} cannot be read: {exc.strerror or exc}") from exc
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BootstrapError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), list):
        raise BootstrapError(f"{path} is not an RFC 9224 bootstrap file: no 'services' list")
    out: list[tuple[list[str], tuple[str, ...]]] = []
    for index, service in enumerate(doc["services"]):
        # A service is [entries, urls]; the object-tags registry puts contacts first.
        if not isinstance(service, list) or len(service) < 2:
            raise BootstrapError(f"{path}: services[{index}] is not [entries, urls]")
        entries, urls = service[-2], service[-1]
        if not all(isinstance(x, str) for x in entries) or not all(
            isinstance(u, str) for u in urls
        ):
            raise BootstrapError(f"{path}: services[{index}] holds something other than text")
        usable = tuple(u for u in urls if u.startswith(("https://", "http://")))
        if usable:
            out.append((list(entries), usable))
    publication = doc.get("publication")
    return out, publication if isinstance(publication, str) else None


def load_bootstrap(folder: Path) -> Bootstrap:
    """Read the bootstrap files in ``folder``. A missing or broken file disables its registry
    (lookups of that kind fail saying so) without disabling the others."""
    files: list[BootstrapFile] = []
    dns_: list[tuple[str, tuple[str, ...]]] = []
    v4: list[tuple[ipaddress.IPv4Network, tuple[str, ...]]] = []
    v6: list[tuple[ipaddress.IPv6Network, tuple[str, ...]]] = []
    asn: list[tuple[int, int, tuple[str, ...]]] = []
    for name in BOOTSTRAP_FILES:
        path = folder / name
        if not path.is_file():
            files.append(BootstrapFile(name, path, False, problem=f"{path} does not exist"))
            continue
        try:
            services, publication = _services(path)
            for entries, urls in services:
                for entry in entries:
                    if name == "dns.json":
                        dns_.append((entry.lower().strip(".").encode("idna").decode(), urls))
                    elif name == "ipv4.json":
                        v4.append((ipaddress.IPv4Network(entry, strict=False), urls))
                    elif name == "ipv6.json":
                        v6.append((ipaddress.IPv6Network(entry, strict=False), urls))
                    else:
                        low, _, high = entry.partition("-")
                        asn.append((int(low), int(high or low), urls))
        except BootstrapError as exc:
            files.append(BootstrapFile(name, path, False, problem=str(exc)))
            continue
        except (ValueError, UnicodeError) as exc:
            problem = f"{path} has an entry that is not valid for {name}: {exc}"
            files.append(BootstrapFile(name, path, False, problem=problem))
            continue
        files.append(BootstrapFile(name, path, True, publication, len(services)))
    return Bootstrap(folder, tuple(dns_), tuple(v4), tuple(v6), tuple(asn), tuple(files))


def bootstrap_folder(settings: RdapSettings) -> Path:
    """The configured bootstrap folder, else Cordon's own copy."""
    return settings.bootstrap_dir if settings.bootstrap_dir is not None else SHIPPED_BOOTSTRAP


def choose_server(urls: Sequence[str]) -> str | None:
    """HTTPS first (RFC 9224 §3), else the first URL given."""
    for url in urls:
        if url.startswith("https://"):
            return url
    return urls[0] if urls else None


# --------------------------------------------------------------------------- parsing


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when ``value`` nests lists and objects more than ``limit`` levels deep."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))
    return False


def _text(value: Any, limit: int = 255) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:limit]
    return None


def _roles(entity: dict[str, Any]) -> list[str]:
    roles = entity.get("roles")
    if not isinstance(roles, list):
        return []
    return [r.lower() for r in roles if isinstance(r, str)]


def _children(entity: dict[str, Any]) -> list[dict[str, Any]]:
    found = entity.get("entities")
    if not isinstance(found, list):
        return []
    return [e for e in found if isinstance(e, dict)]


def walk_entities(obj: dict[str, Any]) -> Iterator[tuple[dict[str, Any], int]]:
    """Every entity under ``obj``, breadth first, with its depth (1: top level); at most
    :data:`MAX_ENTITIES`."""
    queue = [(e, 1) for e in _children(obj)]
    seen = 0
    while queue and seen < MAX_ENTITIES:
        entity, depth = queue.pop(0)
        seen += 1
        yield entity, depth
        if depth < 8:
            queue.extend((child, depth + 1) for child in _children(entity))


def _country_code(text: str | None) -> str | None:
    if not text:
        return None
    value = text.strip()
    if len(value) == 2 and pycountry.countries.get(alpha_2=value.upper()) is not None:
        return value.upper()
    try:
        return str(pycountry.countries.lookup(value).alpha_2)
    except LookupError:
        return None


def contact_of(entity: dict[str, Any]) -> Contact:
    """The name, e-mail, telephone and country in an entity's jCard (RFC 7095)."""
    name = email = phone = country = None
    card = entity.get("vcardArray")
    props: list[Any] = []
    if isinstance(card, list) and len(card) == 2 and isinstance(card[1], list):
        props = card[1][:200]
    for prop in props:
        if not isinstance(prop, list) or len(prop) < 4 or not isinstance(prop[0], str):
            continue
        key, params, value = prop[0].lower(), prop[1], prop[3]
        if key == "fn" and name is None:
            name = _text(value)
        elif key == "email" and email is None:
            email = _text(value, 320)
            if email is not None:
                email = email.removeprefix("mailto:")
        elif key == "tel" and phone is None:
            phone = _text(value, 64)
            if phone is not None:
                phone = phone.removeprefix("tel:")
        elif key == "adr" and country is None:
            if isinstance(params, dict):
                country = _country_code(_text(params.get("cc")))
            if country is None and isinstance(value, list) and len(value) == 7:
                country = _country_code(_text(value[6]))
    return Contact(_text(entity.get("handle")), name, email, phone, country)


def _with_role(obj: dict[str, Any], role: str) -> dict[str, Any] | None:
    for entity, depth in walk_entities(obj):
        if depth == 1 and role in _roles(entity):
            return entity
    for entity, _ in walk_entities(obj):
        if role in _roles(entity):
            return entity
    return None


def abuse_contact(obj: dict[str, Any], holder: dict[str, Any] | None) -> Contact | None:
    """The abuse contact that reaches someone: an ``abuse`` entity with an e-mail or phone,
    preferring one inside ``holder``, then one at the top level, then any."""
    candidates: list[dict[str, Any]] = []
    if holder is not None:
        candidates += [e for e, _ in walk_entities(holder) if "abuse" in _roles(e)]
    everything = list(walk_entities(obj))
    candidates += [e for e, d in everything if d == 1 and "abuse" in _roles(e)]
    candidates += [e for e, _ in everything if "abuse" in _roles(e)]
    for entity in candidates:
        contact = contact_of(entity)
        if contact.email or contact.phone:
            return contact
    return None


def _holder(obj: dict[str, Any]) -> dict[str, Any] | None:
    return _with_role(obj, "registrant") or _with_role(obj, "administrative")


def parse_network(obj: dict[str, Any], source: str) -> RdapNetwork:
    """An RFC 9083 IP network answer."""
    holder = _holder(obj)
    return RdapNetwork(
        handle=_text(obj.get("handle")),
        name=_text(obj.get("name")),
        start=_text(obj.get("startAddress"), 45),
        end=_text(obj.get("endAddress"), 45),
        country=_country_code(_text(obj.get("country"))),
        holder=contact_of(holder) if holder is not None else None,
        abuse=abuse_contact(obj, holder),
        source=source,
    )


def parse_autnum(obj: dict[str, Any], asn: int, source: str) -> RdapAutnum:
    """An RFC 9083 autonomous system answer."""
    holder = _holder(obj)
    return RdapAutnum(
        asn=asn,
        name=_text(obj.get("name")),
        country=_country_code(_text(obj.get("country"))),
        holder=contact_of(holder) if holder is not None else None,
        abuse=abuse_contact(obj, holder),
        source=source,
    )


def _event(obj: dict[str, Any], action: str) -> str | None:
    events = obj.get("events")
    if isinstance(events, list):
        for event in events[:50]:
            if isinstance(event, dict) and event.get("eventAction") == action:
                return _text(event.get("eventDate"), 64)
    return None


def parse_domain(obj: dict[str, Any], name: str, source: str) -> RdapDomain:
    """An RFC 9083 domain answer: the registrar (``registrar`` entity, its IANA id and the
    ``abuse`` entity inside it, as the ICANN RDAP profile asks) and the name servers."""
    registrar_entity = _with_role(obj, "registrar")
    registrar: Registrar | None = None
    if registrar_entity is not None:
        contact = contact_of(registrar_entity)
        iana_id: int | None = None
        ids = registrar_entity.get("publicIds")
        if isinstance(ids, list):
            for item in ids[:20]:
                if isinstance(item, dict) and "iana" in str(item.get("type", "")).lower():
                    ident = str(item.get("identifier", "")).strip()
                    if ident.isdigit() and len(ident) < 10:
                        iana_id = int(ident)
                        break
        abuse = None
        for entity, _ in walk_entities(registrar_entity):
            if "abuse" in _roles(entity):
                candidate = contact_of(entity)
                if candidate.email or candidate.phone:
                    abuse = candidate
                    break
        registrar = Registrar(contact.name, iana_id, abuse, contact.country, source)
    nameservers: list[str] = []
    found = obj.get("nameservers")
    if isinstance(found, list):
        for ns in found[:20]:
            if isinstance(ns, dict):
                ldh = _text(ns.get("ldhName"))
                if ldh:
                    nameservers.append(ldh.lower().rstrip("."))
    status = obj.get("status")
    return RdapDomain(
        name=name,
        registrar=registrar,
        nameservers=tuple(nameservers),
        registered_at=_event(obj, "registration"),
        expires_at=_event(obj, "expiration"),
        status=tuple(s for s in status[:20] if isinstance(s, str))
        if isinstance(status, list)
        else (),
    )


# --------------------------------------------------------------------------- client


@dataclass
class _Cached:
    expires: datetime
    data: dict[str, Any] | None  # None: the server said 404


@dataclass
class _NetworkEntry:
    low: int
    high: int
    version: int
    expires: datetime
    network: RdapNetwork


@dataclass
class RdapStats:
    """Requests sent and answers reused (for tests and the benchmark)."""

    requests: int = 0
    cache_hits: int = 0
    per_server: dict[str, int] = field(default_factory=dict)


class RdapClient:
    """Looks up networks, domains and autonomous systems over RDAP."""

    def __init__(
        self,
        settings: RdapSettings,
        clock: Clock,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        self.limiter = RateLimiter(parse_rate(settings.rate_limit), monotonic)
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._networks: list[_NetworkEntry] = []
        self._lock = threading.Lock()
        self._bootstrap: Bootstrap | None = None
        self.stats = RdapStats()

    @property
    def bootstrap(self) -> Bootstrap:
        """The bootstrap registries, read on first use."""
        if self._bootstrap is None:
            self._bootstrap = load_bootstrap(bootstrap_folder(self.settings))
        return self._bootstrap

    def close(self) -> None:
        """Nothing to release: each request opens and closes its own connection."""

    def _client(self) -> httpx.Client:
        # One client per request: RDAP requests are few (answers are cached) and a stage that
        # is dropped without being closed must not leave connections open.
        return httpx.Client(
            timeout=httpx.Timeout(self.settings.timeout_seconds),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers={"Accept": ACCEPT, "User-Agent": "Cordon RDAP client"},
        )

    # ----------------------------------------------------------------- one request

    def get_json(self, url: str) -> tuple[dict[str, Any] | None, Failure | None]:
        """The JSON object at ``url`` (from the cache while fresh), or a failure.

        A 404 is answered ``(None, Failure(outcome="not_found"))`` and is cached too.
        """
        now = self.clock.now()
        with self._lock:
            hit = self._cache.get(url)
            if hit is not None and hit.expires > now:
                self._cache.move_to_end(url)
                self.stats.cache_hits += 1
                if hit.data is None:
                    return None, Failure("rdap", url, "not_found", f"{url}: no such object")
                return hit.data, None
        server = urlsplit(url).netloc
        wait = self.limiter.reserve(server, max_wait=self.settings.timeout_seconds)
        if wait is None:
            return None, Failure(
                "rdap",
                url,
                "rate_limited",
                f"{server} may not be asked again yet (rdap.rate_limit "
                f"{self.settings.rate_limit!r}, or the server asked us to wait)",
            )
        if wait > 0:
            self._sleep(wait)
        self.stats.requests += 1
        self.stats.per_server[server] = self.stats.per_server.get(server, 0) + 1
        data, failure, ttl = self._fetch(url, server)
        if ttl > 0:
            with self._lock:
                self._cache[url] = _Cached(now + timedelta(seconds=ttl), data)
                while len(self._cache) > CACHE_ENTRIES:
                    self._cache.popitem(last=False)
        return data, failure

    def _fetch(self, url: str, server: str) -> tuple[dict[str, Any] | None, Failure | None, int]:
        limit = self.settings.max_response_bytes
        timeout = self.settings.timeout_seconds
        started = self._monotonic()
        try:
            with self._client() as client, client.stream("GET", url) as response:
                status = response.status_code
                if status == 404:
                    ttl = min(self.settings.cache_seconds, NOT_FOUND_SECONDS)
                    return None, Failure("rdap", url, "not_found", f"{url}: no such object"), ttl
                if status == 429:
                    pause = _retry_after(response.headers.get("retry-after"), self.clock.now())
                    self.limiter.block(server, pause)
                    message = f"{server} answered 429 Too Many Requests; pausing {pause:g} s"
                    return None, Failure("rdap", url, "rate_limited", message), 0
                if status != 200:
                    message = f"{url} answered HTTP {status}"
                    return None, Failure("rdap", url, "http_status", message), 0
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    return None, _too_large(url, limit), 0
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        return None, _too_large(url, limit), 0
                    if self._monotonic() - started > timeout:
                        return None, _slow(url, timeout), 0
                content_type = response.headers.get("content-type", "none")
        except httpx.TooManyRedirects:
            message = f"{url} redirected more than {MAX_REDIRECTS} times"
            return None, Failure("rdap", url, "redirects", message), 0
        except httpx.TimeoutException:
            return None, _slow(url, timeout), 0
        except (httpx.HTTPError, OSError, ValueError) as exc:
            message = f"{url} cannot be reached: {type(exc).__name__}: {exc}"
            return None, Failure("rdap", url, "unreachable", message), 0
        try:
            data = json.loads(bytes(body))
        except RecursionError:
            return None, _deep(url), 0
        except ValueError as exc:
            message = f"{url} did not answer JSON (content type {content_type}): {exc}"
            return None, Failure("rdap", url, "not_json", message[:500]), 0
        if not isinstance(data, dict):
            message = f"{url} answered JSON that is not an object ({type(data).__name__})"
            return None, Failure("rdap", url, "not_object", message), 0
        if too_deep(data):
            return None, _deep(url), 0
        return data, None, self.settings.cache_seconds

    # ----------------------------------------------------------------- lookups

    def _server_for(self, kind: str, servers: tuple[str, ...], what: str) -> str | Failure:
        base = choose_server(servers)
        if base is not None:
            return base.rstrip("/") + "/"
        folder = bootstrap_folder(self.settings)
        problem = self.bootstrap.problem(kind)
        reason = problem or f"{folder / kind} lists no RDAP server for {what}"
        return Failure("rdap", what, "no_bootstrap", reason)

    def network(self, address: str) -> tuple[RdapNetwork | None, tuple[Failure, ...]]:
        """The RDAP network holding ``address``, reusing a cached answer for its range."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None, (Failure("rdap", address, "invalid_address", f"{address!r}"),)
        now = self.clock.now()
        value = int(ip)
        with self._lock:
            for entry in self._networks:
                inside = entry.version == ip.version and entry.low <= value <= entry.high
                if inside and entry.expires > now:
                    self.stats.cache_hits += 1
                    return entry.network, ()
        kind = "ipv4.json" if ip.version == 4 else "ipv6.json"
        base = self._server_for(kind, self.bootstrap.ip_servers(address), address)
        if isinstance(base, Failure):
            return None, (base,)
        url = f"{base}ip/{ip}"
        data, failure = self.get_json(url)
        if data is None:
            return None, (failure,) if failure else ()
        network = parse_network(data, url)
        self._remember_range(network, ip.version, now)
        return network, _missing_abuse(network.abuse, url, "network")

    def _remember_range(self, network: RdapNetwork, version: int, now: datetime) -> None:
        try:
            low = int(ipaddress.ip_address(network.start or ""))
            high = int(ipaddress.ip_address(network.end or ""))
        except ValueError:
            return
        if low > high:
            return
        expires = now + timedelta(seconds=self.settings.cache_seconds)
        with self._lock:
            self._networks.append(_NetworkEntry(low, high, version, expires, network))
            if len(self._networks) > 5000:
                self._networks = [e for e in self._networks if e.expires > now][-4000:]

    def domain(self, name: str) -> tuple[RdapDomain | None, tuple[Failure, ...]]:
        """The RDAP domain answer for ``name`` (a registrable domain)."""
        base = self._server_for("dns.json", self.bootstrap.domain_servers(name), name)
        if isinstance(base, Failure):
            return None, (base,)
        url = f"{base}domain/{quote(name.lower().rstrip('.'), safe='')}"
        data, failure = self.get_json(url)
        if data is None:
            return None, (failure,) if failure else ()
        domain = parse_domain(data, name, url)
        failures: tuple[Failure, ...] = ()
        if domain.registrar is None:
            message = f"{url} names no registrar entity"
            failures = (Failure("rdap", url, "missing_entities", message),)
        else:
            failures = _missing_abuse(domain.registrar.abuse, url, "registrar")
        return domain, failures

    def autnum(self, asn: int) -> tuple[RdapAutnum | None, tuple[Failure, ...]]:
        """The RDAP answer for autonomous system ``asn``."""
        base = self._server_for("asn.json", self.bootstrap.asn_servers(asn), f"AS{asn}")
        if isinstance(base, Failure):
            return None, (base,)
        url = f"{base}autnum/{asn}"
        data, failure = self.get_json(url)
        if data is None:
            return None, (failure,) if failure else ()
        return parse_autnum(data, asn, url), ()


def _missing_abuse(contact: Contact | None, url: str, what: str) -> tuple[Failure, ...]:
    if contact is not None:
        return ()
    message = f"{url}: the {what} answer has no abuse entity with an e-mail or phone"
    return (Failure("rdap", url, "missing_entities", message),)


def _too_large(url: str, limit: int) -> Failure:
    return Failure("rdap", url, "too_large", f"{url} answered more than {limit} bytes")


def _slow(url: str, timeout: float) -> Failure:
    return Failure("rdap", url, "timeout", f"{url} did not answer within {timeout:g} s")


def _deep(url: str) -> Failure:
    message = f"{url} answered JSON nested deeper than {MAX_DEPTH} levels"
    return Failure("rdap", url, "too_deep", message)


def _retry_after(value: str | None, now: datetime) -> float:
    if not value:
        return BLOCK_SECONDS
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_BLOCK_SECONDS)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return BLOCK_SECONDS
    if when.tzinfo is None:
        return BLOCK_SECONDS
    return max(0.0, min((when - now).total_seconds(), MAX_BLOCK_SECONDS))
