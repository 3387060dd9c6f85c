"""DNS lookups through dnspython against the configured resolvers, with a TTL-respecting cache.

Every question ends in a :class:`~cordon.attribution.model.DnsAnswer` whose ``outcome`` says
what happened (``ok``, ``nodata``, ``nxdomain``, ``servfail``, ``refused``, ``timeout``,
``malformed``, ``cname_loop``, ``invalid_name``, ``unconfigured``, ``error``); nothing raises.
Answers are reused until their TTL runs out on Cordon's clock (capped by
``dns.cache_max_seconds``); names that do not exist, or have no such record, are remembered for
the SOA's negative TTL (RFC 2308), capped by ``dns.negative_cache_seconds``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from cordon.attribution.model import DnsAnswer
from cordon.clock import Clock
from cordon.config import DnsSettings

#: Aliases followed across separate questions before the chain counts as a loop.
MAX_CNAME_CHAIN = 8
#: Answers kept in the cache at most (least recently used go first).
CACHE_ENTRIES = 50_000
#: Values kept from one answer; a name with more records is cut short (and says so).
MAX_VALUES = 64

_FAILURE_ORDER = ("cname_loop", "malformed", "servfail", "refused", "timeout", "error")
#: Outcomes that are failures (everything but ``ok`` and ``nodata``).
FAILURE_OUTCOMES = frozenset({"nxdomain", "invalid_name", "unconfigured", *_FAILURE_ORDER})


class ResolverConfigError(ValueError):
    """A resolver in ``dns.resolvers`` is not ``host`` or ``host:port``."""


def parse_resolver(text: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address → (address, port)."""
    value = text.strip()
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep:
            raise ResolverConfigError(f"resolver {text!r}: missing ']'")
        port_text = rest.removeprefix(":") if rest else "53"
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    else:
        host, port_text = value, "53"
    if not host:
        raise ResolverConfigError(f"resolver {text!r} names no host")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ResolverConfigError(f"resolver {text!r}: port {port_text!r} is not 1-65535")
    return host, int(port_text)


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


def _values(rtype: str, rrset: Iterable[object]) -> tuple[str, ...]:
    out: list[str] = []
    for rdata in rrset:
        if rtype in ("CNAME", "NS"):
            out.append(_text(rdata.target))  # type: ignore[attr-defined]  # CNAME/NS rdata
        elif rtype == "MX":
            out.append(f"{rdata.preference} {_text(rdata.exchange)}")  # type: ignore[attr-defined]  # MX rdata
        elif rtype == "TXT":
            strings = rdata.strings  # type: ignore[attr-defined]  # TXT rdata
            out.append(b"".join(strings).decode("utf-8", "replace"))
        elif rtype == "SOA":
            out.append(
                f"{_text(rdata.mname)} {_text(rdata.rname)} {rdata.serial}"  # type: ignore[attr-defined]  # SOA rdata
            )
        else:
            out.append(str(rdata))
        if len(out) >= MAX_VALUES:
            break
    if rtype == "MX":
        out.sort(key=lambda v: (int(v.split(" ", 1)[0]), v))
    return tuple(out)


def _negative_ttl(response: dns.message.Message | None, cap: int) -> int:
    if response is None:
        return cap
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            minimum = int(rrset[0].minimum)
            return max(0, min(cap, rrset.ttl, minimum))
    return cap


def _zone_soa(response: dns.message.Message) -> tuple[str, str] | None:
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            return _text(rrset.name), _values("SOA", rrset)[0]
    return None


def _classify(errors: Iterable[tuple[object, ...]]) -> tuple[str, str]:
    """The worst failure among a resolver's per-server errors, and a message."""
    found: dict[str, str] = {}
    for entry in errors:
        server = str(entry[0]) if entry else "?"
        error = entry[3] if len(entry) > 3 else None
        if isinstance(error, dns.message.ChainTooLong):
            kind = "cname_loop"
            text = "the alias chain in the answer is too long or loops"
        elif isinstance(error, dns.exception.FormError | EOFError | dns.message.Truncated):
            kind = "malformed"
            text = f"the answer cannot be parsed ({type(error).__name__}: {error})"
        elif isinstance(error, dns.exception.Timeout):
            kind = "timeout"
            text = "no answer in time"
        elif isinstance(error, str) and error == "SERVFAIL":
            kind, text = "servfail", "the resolver answered SERVFAIL"
        elif isinstance(error, str) and error == "REFUSED":
            kind, text = "refused", "the resolver refused the question"
        elif isinstance(error, OSError):
            kind, text = "error", f"network error: {error}"
        elif isinstance(error, dns.exception.DNSException):
            kind, text = "malformed", f"{type(error).__name__}: {error}"
        else:
            kind, text = "error", f"{error}"
        found.setdefault(kind, f"{server}: {text}")
    for kind in _FAILURE_ORDER:
        if kind in found:
            return kind, found[kind]
    return "error", "every resolver failed to answer"


@dataclass
class _Entry:
    expires: datetime
    answer: DnsAnswer


class DnsClient:
    """Asks the configured resolvers (or the system's), remembering answers for their TTL."""

    def __init__(self, settings: DnsSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._cache: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.queries_sent = 0
        self._resolver: dns.resolver.Resolver | None = None
        self._config_error: str | None = None
        try:
            self._resolver = self._make_resolver()
        except (ResolverConfigError, dns.resolver.NoResolverConfiguration, OSError) as exc:
            self._config_error = f"no usable DNS resolver: {exc}"

    def _make_resolver(self) -> dns.resolver.Resolver:
        if self.settings.resolvers:
            resolver = dns.resolver.Resolver(configure=False)
            servers: list[str | dns.nameserver.Nameserver] = []
            for item in self.settings.resolvers:
                host, port = parse_resolver(item)
                servers.append(dns.nameserver.Do53Nameserver(host, port))
            resolver.nameservers = servers
        else:
            resolver = dns.resolver.Resolver(configure=True)
        resolver.timeout = self.settings.timeout_seconds
        resolver.lifetime = self.settings.timeout_seconds
        resolver.cache = None
        # A server that answers SERVFAIL is not asked again within one question.
        resolver.retry_servfail = False
        return resolver

    @property
    def nameserver_labels(self) -> list[str]:
        """The resolvers in use, as text (for ``cordon doctor``)."""
        if self._resolver is None:
            return []
        return [str(ns) for ns in self._resolver.nameservers]

    def clear(self) -> None:
        """Forget every cached answer."""
        with self._lock:
            self._cache.clear()

    def _cached(self, key: tuple[str, str], now: datetime) -> DnsAnswer | None:
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                return None
            if entry.expires <= now:
                del self._cache[key]
                return None
            self._cache.move_to_end(key)
            return entry.answer

    def _store(self, key: tuple[str, str], now: datetime, answer: DnsAnswer, ttl: int) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._cache[key] = _Entry(now + timedelta(seconds=ttl), answer)
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)

    def query(self, name: str, rtype: str) -> DnsAnswer:
        """One question, from the cache when its answer is still fresh."""
        name = name.lower().rstrip(".")
        key = (name, rtype)
        now = self.clock.now()
        hit = self._cached(key, now)
        if hit is not None:
            return hit
        answer, ttl = self._ask(name, rtype)
        self._store(key, now, answer, ttl)
        return answer

    def _ask(self, name: str, rtype: str) -> tuple[DnsAnswer, int]:
        """Ask the resolvers; returns the answer and how long it may be cached."""
        if self._resolver is None:
            msg = self._config_error or "no resolver"
            return DnsAnswer(name, rtype, "unconfigured", message=msg), 0
        try:
            qname = dns.name.from_text(name)
        except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
            return DnsAnswer(name, rtype, "invalid_name", message=f"{name!r}: {exc}"), 0
        negative_cap = self.settings.negative_cache_seconds
        self.queries_sent += 1
        try:
            answer = self._resolver.resolve(qname, rtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN as exc:
            response = None
            responses = exc.kwargs.get("responses") or {}
            if responses:
                response = next(iter(responses.values()))
            ttl = _negative_ttl(response, negative_cap)
            return DnsAnswer(name, rtype, "nxdomain", message=f"{name} does not exist"), ttl
        except dns.resolver.LifetimeTimeout:
            message = f"no answer within {self.settings.timeout_seconds:g} s"
            return DnsAnswer(name, rtype, "timeout", message=message), 0
        except dns.resolver.NoNameservers as exc:
            kind, message = _classify(exc.kwargs.get("errors") or [])
            return DnsAnswer(name, rtype, kind, message=message), 0
        except dns.resolver.YXDOMAIN:
            message = "the name became too long through a DNAME"
            return DnsAnswer(name, rtype, "malformed", message=message), 0
        except dns.exception.DNSException as exc:
            return DnsAnswer(name, rtype, "error", message=f"{type(exc).__name__}: {exc}"), 0
        except (OSError, ValueError) as exc:
            return DnsAnswer(name, rtype, "error", message=f"{type(exc).__name__}: {exc}"), 0
        chaining = answer.chaining_result
        cnames = tuple(
            (_text(rrset.name), _text(rrset[0].target)) for rrset in chaining.cnames if len(rrset)
        )
        ttl = int(chaining.minimum_ttl)
        cap = self.settings.cache_max_seconds
        if answer.rrset is None:
            ttl = _negative_ttl(answer.response, min(cap, negative_cap))
            zone = _zone_soa(answer.response) if rtype == "SOA" else None
            if zone is not None:
                # The name is inside a zone: the SOA in the authority section is the zone's.
                return DnsAnswer(zone[0], rtype, "ok", (zone[1],), cnames, ttl), ttl
            # A chain answered with the last name's SOA is a complete "no such record"; a bare
            # chain comes from a server that did not chase the alias.
            complete = not cnames or zone is not None or _zone_soa(answer.response) is not None
            return DnsAnswer(name, rtype, "nodata", (), cnames, ttl, complete=complete), ttl
        values = _values(rtype, answer.rrset)
        return DnsAnswer(name, rtype, "ok", values, cnames, ttl), min(ttl, cap)

    def resolve_address(self, name: str, rtype: str = "A") -> list[DnsAnswer]:
        """Addresses of ``name``, following aliases across questions when a resolver stops at
        one. Returns every answer asked on the way; the last one carries the addresses or the
        outcome. An alias that comes back to a name already seen ends in ``cname_loop``."""
        answers: list[DnsAnswer] = []
        seen = {name.lower().rstrip(".")}
        current = name
        for _ in range(MAX_CNAME_CHAIN):
            answer = self.query(current, rtype)
            answers.append(answer)
            if answer.outcome != "nodata" or answer.complete:
                return answers
            targets = [target for _, target in answer.cnames]
            final = targets[-1]
            if any(t in seen for t in targets):
                answers.append(
                    DnsAnswer(
                        name,
                        rtype,
                        "cname_loop",
                        cnames=answer.cnames,
                        message=f"the alias chain from {name} comes back to {final}",
                    )
                )
                return answers
            seen.update(targets)
            current = final
        answers.append(
            DnsAnswer(
                name,
                rtype,
                "cname_loop",
                message=f"more than {MAX_CNAME_CHAIN} aliases from {name}",
            )
        )
        return answers


def chain_of(answers: Iterable[DnsAnswer]) -> list[tuple[str, str]]:
    """Every (alias, target) pair met in ``answers``, in order, without repeats."""
    out: list[tuple[str, str]] = []
    for answer in answers:
        for pair in answer.cnames:
            if pair not in out:
                out.append(pair)
    return out
