"""The whole chain for one URL, domain or address: name → addresses → network → CDN and
origin → abuse contacts → registrar.

An :class:`Attributor` holds the DNS client, the IP databases, the RDAP client and the CDN
catalogue, with their caches, for as long as a worker runs. :meth:`Attributor.attribute` never
raises on what the network answers: every failure is inside the result.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from cordon.attribution.cdn import CdnCatalogue, load_catalogue
from cordon.attribution.dns import FAILURE_OUTCOMES, DnsClient, chain_of
from cordon.attribution.ipdb import IpDatabases
from cordon.attribution.model import (
    Basis,
    DnsAnswer,
    Failure,
    HostAttribution,
    Network,
    Origin,
    Registrar,
)
from cordon.attribution.rdap import RdapClient
from cordon.clock import Clock
from cordon.config import Settings
from cordon.domain.urls import InvalidUrl, normalize_url

#: Addresses attributed per host at most (the first is the one noticed; all are listed).
MAX_ADDRESSES = 16


class TargetError(ValueError):
    """What was asked is not a URL, a domain name or an IP address."""


@dataclass(frozen=True, slots=True)
class Target:
    """What to attribute: a host (name or address) and the domain a registrant holds."""

    text: str
    host: str
    registrable_domain: str
    is_ip: bool


def parse_target(text: str) -> Target:
    """A URL, a domain name or an IP address → :class:`Target`. Raises :class:`TargetError`
    naming what is wrong."""
    value = text.strip()
    if not value:
        raise TargetError("nothing to attribute: give a URL, a domain name or an IP address")
    try:
        address = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        pass
    else:
        return Target(value, str(address), str(address), True)
    candidate = value if "://" in value else f"http://{value}"
    try:
        url = normalize_url(candidate)
    except InvalidUrl as exc:
        raise TargetError(f"{value!r} is not a URL, domain name or IP address: {exc}") from None
    return Target(value, url.host, url.registrable_domain, url.is_ip)


def _spf_addresses(txt_values: tuple[str, ...]) -> list[str]:
    """Single addresses named by ``ip4:``/``ip6:`` in an SPF record."""
    out: list[str] = []
    for value in txt_values:
        if not value.lower().startswith("v=spf1"):
            continue
        for token in value.split()[1:]:
            token = token.lstrip("+?~-")
            kind, _, rest = token.partition(":")
            if kind.lower() not in ("ip4", "ip6") or not rest:
                continue
            try:
                net = ipaddress.ip_network(rest, strict=False)
            except ValueError:
                continue
            if net.num_addresses == 1:
                out.append(str(net.network_address))
    return out


def _under(name: str, domain: str) -> bool:
    return name == domain or name.endswith("." + domain)


class Attributor:
    """Attributes hosts with shared caches. One per worker (or per CLI command)."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        *,
        dns: DnsClient | None = None,
        ipdb: IpDatabases | None = None,
        rdap: RdapClient | None = None,
        catalogue: CdnCatalogue | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.dns = dns or DnsClient(settings.dns, clock)
        self.ipdb = ipdb or IpDatabases(settings.ipdb)
        self.rdap = rdap or RdapClient(settings.rdap, clock)
        # A broken CDN data file is a configuration error: raised here, at start.
        self.catalogue = catalogue or load_catalogue(settings.attribution.cdn_files)

    def close(self) -> None:
        """Release files and connections."""
        self.ipdb.close()
        self.rdap.close()

    def __enter__(self) -> Attributor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ pieces

    def network(self, address: str, failures: list[Failure]) -> Network:
        """Everything known about the network holding ``address``."""
        record, ip_failures = self.ipdb.lookup(address)
        failures.extend(ip_failures)
        rdap_net, rdap_failures = self.rdap.network(address)
        abuse = rdap_net.abuse if rdap_net else None
        if abuse is None and record.asn is not None:
            autnum, as_failures = self.rdap.autnum(record.asn)
            if autnum is not None and autnum.abuse is not None:
                abuse = autnum.abuse
                # The network answer lacked an abuse contact but its AS has one: not a gap.
                rdap_failures = tuple(f for f in rdap_failures if f.outcome != "missing_entities")
            else:
                failures.extend(as_failures)
        failures.extend(rdap_failures)
        country = record.country or (rdap_net.country if rdap_net else None)
        return Network(
            address=address,
            asn=record.asn,
            as_org=record.as_org,
            prefix=record.prefix,
            country=country,
            rdap=rdap_net,
            abuse=abuse,
        )

    def _dns(self, name: str, rtype: str, answers: list[DnsAnswer]) -> DnsAnswer:
        answer = self.dns.query(name, rtype)
        answers.append(answer)
        return answer

    def _origin(
        self,
        target: Target,
        front: Network,
        mx: DnsAnswer | None,
        txt: DnsAnswer | None,
        answers: list[DnsAnswer],
        failures: list[Failure],
    ) -> Origin:
        """Look for the origin behind a CDN in what DNS leaks: a mail host inside the site's
        own domain that resolves straight to an address, or an address in the SPF record,
        outside the CDN's network."""
        candidates: list[tuple[str, str]] = []
        hints: list[str] = []
        for value in mx.values if mx is not None and mx.outcome == "ok" else ():
            host = value.split(" ", 1)[-1]
            if not _under(host, target.registrable_domain):
                hints.append(f"mail is handled by {host} (mail only, not the web origin)")
                continue
            resolved = self.dns.resolve_address(host, "A")
            answers.extend(resolved)
            last = resolved[-1]
            pairs = chain_of(resolved)
            if pairs:
                alias = pairs[-1][1]
                hints.append(f"mail host {host} is an alias of {alias} (mail only, not the origin)")
            elif last.outcome == "ok":
                candidates += [(a, f"mail host {host} has address {a}") for a in last.values]
        if txt is not None and txt.outcome == "ok":
            candidates += [(a, f"SPF record names {a}") for a in _spf_addresses(txt.values)]
        for address, evidence in candidates:
            network = self.network(address, failures)
            if network.asn is not None and network.asn == front.asn:
                continue
            if address == front.address:
                continue
            return Origin("candidate", network, (evidence,))
        return Origin("unknown", None, ("no DNS record shows an address outside the CDN", *hints))

    # ------------------------------------------------------------------ the chain

    def attribute(
        self,
        target: Target | str,
        *,
        address: str | None = None,
        headers: Mapping[str, str] | None = None,
        origin_address: str | None = None,
    ) -> HostAttribution:
        """Attribute ``target``.

        With ``address`` (the address a crawler connected to) that address is attributed
        instead of resolving the name, and the record's basis is ``connection``; ``headers``
        are that response's headers (CDN evidence); ``origin_address`` is an origin revealed
        elsewhere (it is then ``confirmed``).
        """
        if isinstance(target, str):
            target = parse_target(target)
        observed_at = self.clock.now()
        failures: list[Failure] = []
        answers: list[DnsAnswer] = []
        basis: Basis = "connection" if address is not None else "dns"
        addresses: list[str] = []
        aliases: list[str] = []
        nameservers: tuple[str, ...] = ()
        mx = txt = None
        if target.is_ip:
            addresses = [target.host]
        else:
            dns_down = False
            if address is None:
                resolved = self.dns.resolve_address(target.host, "A")
                answers.extend(resolved)
                last = resolved[-1]
                aliases = [t for _, t in chain_of(resolved)]
                if last.outcome in FAILURE_OUTCOMES:
                    failures.append(
                        Failure("dns", f"{target.host} A", last.outcome, last.message or "")
                    )
                    dns_down = last.outcome in ("timeout", "unconfigured")
                addresses = list(last.values)
                if not dns_down:
                    six = self.dns.resolve_address(target.host, "AAAA")
                    answers.extend(six)
                    addresses += [a for a in six[-1].values if a not in addresses]
            else:
                addresses = [address]
            if not dns_down:
                apex = target.registrable_domain
                ns = self._dns(apex, "NS", answers)
                nameservers = ns.values
                mx = self._dns(apex, "MX", answers)
                self._dns(apex, "SOA", answers)
                txt = self._dns(apex, "TXT", answers)
                for answer in (ns, mx, txt):
                    if answer.outcome in FAILURE_OUTCOMES and answer.outcome != "nxdomain":
                        failures.append(
                            Failure(
                                "dns",
                                f"{apex} {answer.rtype}",
                                answer.outcome,
                                answer.message or "",
                            )
                        )
        addresses = addresses[:MAX_ADDRESSES]
        network = self.network(addresses[0], failures) if addresses else None
        cdn = None
        origin = Origin("direct")
        if network is not None:
            cdn = self.catalogue.detect(
                asn=network.asn, aliases=aliases, nameservers=nameservers, headers=headers
            )
            if cdn is not None:
                if origin_address is not None:
                    origin = Origin(
                        "confirmed",
                        self.network(origin_address, failures),
                        ("origin address given by a capture",),
                    )
                else:
                    origin = self._origin(target, network, mx, txt, answers, failures)
        registrar: Registrar | None = None
        if not target.is_ip:
            domain, rdap_failures = self.rdap.domain(target.registrable_domain)
            failures.extend(rdap_failures)
            if domain is not None:
                registrar = domain.registrar
                if not nameservers:
                    nameservers = domain.nameservers
        return HostAttribution(
            target=target.text,
            host=target.host,
            registrable_domain=target.registrable_domain,
            is_ip=target.is_ip,
            observed_at=observed_at,
            basis=basis,
            dns=tuple(answers),
            addresses=tuple(addresses),
            network=network,
            cdn=cdn,
            origin=origin,
            registrar=registrar,
            nameservers=tuple(nameservers),
            failures=_unique(failures),
        )


def _unique(failures: list[Failure]) -> tuple[Failure, ...]:
    return tuple(dict.fromkeys(failures))
