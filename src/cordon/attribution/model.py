"""What an attribution finds, as frozen records with a JSON form.

Nothing here does I/O. Every lookup that went wrong is a :class:`Failure` inside the result, so
that a hostile or broken answer is recorded, never raised.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

Basis = Literal["dns", "connection"]
OriginStatus = Literal["direct", "unknown", "candidate", "confirmed"]
Status = Literal["complete", "partial", "failed"]


@dataclass(frozen=True, slots=True)
class Failure:
    """One lookup that did not give an answer: which ``step`` (dns, ipdb, rdap, cdn), about
    what ``target``, the kind of ``outcome`` (timeout, nxdomain, not_json, …) and a message a
    person can act on."""

    step: str
    target: str
    outcome: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {
            "step": self.step,
            "target": self.target,
            "outcome": self.outcome,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    """The answer to one DNS question. ``outcome`` is ``ok`` (values present), ``nodata``
    (the name exists without such records) or a failure kind. ``cnames`` is the alias chain
    followed to reach the values, as (alias, target) pairs."""

    name: str
    rtype: str
    outcome: str
    values: tuple[str, ...] = ()
    cnames: tuple[tuple[str, str], ...] = ()
    ttl: int | None = None
    message: str | None = None
    #: False when an alias chain stops without the server saying the last name has no such
    #: records (no SOA): the chain must be followed with a question of its own.
    complete: bool = True

    @property
    def ok(self) -> bool:
        """True when the question was answered (with records or with none)."""
        return self.outcome in ("ok", "nodata")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.rtype,
            "outcome": self.outcome,
            "values": list(self.values),
        }
        if self.cnames:
            out["cnames"] = [list(pair) for pair in self.cnames]
        if self.ttl is not None:
            out["ttl"] = self.ttl
        if self.message:
            out["message"] = self.message
        return out


class IpRecord(NamedTuple):
    """What the IP databases say about one address.

    A tuple, with the prefix written out only when asked for: it is made once per lookup, on
    the hottest path of attribution.
    """

    address: str
    asn: int | None = None
    as_org: str | None = None
    prefix_len: int | None = None
    country: str | None = None

    @property
    def prefix(self) -> str | None:
        """The network holding the address in the ASN database (``203.0.113.0/24``)."""
        if self.prefix_len is None:
            return None
        return network_text(self.address, self.prefix_len)


def network_text(address: str, prefix_len: int) -> str:
    """``address``/``prefix_len`` with the host bits cleared (cheaper than ipaddress)."""
    if ":" not in address:
        value = int.from_bytes(socket.inet_aton(address), "big")
        mask = (0xFFFFFFFF << (32 - prefix_len)) & 0xFFFFFFFF
        return f"{socket.inet_ntoa((value & mask).to_bytes(4, 'big'))}/{prefix_len}"
    value = int.from_bytes(socket.inet_pton(socket.AF_INET6, address), "big")
    mask = ((1 << 128) - 1) ^ ((1 << (128 - prefix_len)) - 1)
    return f"{socket.inet_ntop(socket.AF_INET6, (value & mask).to_bytes(16, 'big'))}/{prefix_len}"


@dataclass(frozen=True, slots=True)
class Contact:
    """A contact from an RDAP entity's vCard."""

    handle: str | None
    name: str | None
    email: str | None
    phone: str | None
    country: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "handle": self.handle,
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "country": self.country,
        }


@dataclass(frozen=True, slots=True)
class RdapNetwork:
    """An RDAP IP network: its range, its holder and the holder's abuse contact."""

    handle: str | None
    name: str | None
    start: str | None
    end: str | None
    country: str | None
    holder: Contact | None
    abuse: Contact | None
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "handle": self.handle,
            "name": self.name,
            "start": self.start,
            "end": self.end,
            "country": self.country,
            "holder": self.holder.to_dict() if self.holder else None,
            "abuse": self.abuse.to_dict() if self.abuse else None,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class RdapAutnum:
    """An RDAP autonomous system record."""

    asn: int
    name: str | None
    country: str | None
    holder: Contact | None
    abuse: Contact | None
    source: str


@dataclass(frozen=True, slots=True)
class Registrar:
    """The registrar of a domain and its abuse contact (RDAP domain answer)."""

    name: str | None
    iana_id: int | None
    abuse: Contact | None
    country: str | None
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "iana_id": self.iana_id,
            "abuse": self.abuse.to_dict() if self.abuse else None,
            "country": self.country,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class RdapDomain:
    """An RDAP domain answer."""

    name: str
    registrar: Registrar | None
    nameservers: tuple[str, ...]
    registered_at: str | None
    expires_at: str | None
    status: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Network:
    """One address with everything known about the network holding it."""

    address: str
    asn: int | None
    as_org: str | None
    prefix: str | None
    country: str | None
    rdap: RdapNetwork | None = None
    abuse: Contact | None = None

    @property
    def provider(self) -> str | None:
        """The organisation holding the address: the RDAP registrant, else the AS name."""
        if self.rdap is not None and self.rdap.holder is not None and self.rdap.holder.name:
            return self.rdap.holder.name
        return self.as_org

    @property
    def abuse_email(self) -> str | None:
        return self.abuse.email if self.abuse else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "asn": self.asn,
            "as_org": self.as_org,
            "prefix": self.prefix,
            "country": self.country,
            "provider": self.provider,
            "abuse": self.abuse.to_dict() if self.abuse else None,
            "rdap": self.rdap.to_dict() if self.rdap else None,
        }


@dataclass(frozen=True, slots=True)
class CdnFinding:
    """A CDN or reverse proxy recognised in front of a site, with the evidence."""

    id: str
    name: str
    evidence: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "evidence": list(self.evidence)}


@dataclass(frozen=True, slots=True)
class Origin:
    """The server behind a CDN: ``direct`` (no CDN), ``unknown``, a ``candidate`` that DNS
    leaked (a mail host or SPF address outside the CDN), or ``confirmed`` by a connection."""

    status: OriginStatus
    network: Network | None = None
    evidence: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "network": self.network.to_dict() if self.network else None,
            "evidence": list(self.evidence),
        }


@dataclass(frozen=True, slots=True)
class HostAttribution:
    """The whole chain for one host at one time: name → addresses → network → CDN/origin →
    abuse contacts → registrar, with every failure on the way."""

    target: str
    host: str
    registrable_domain: str
    is_ip: bool
    observed_at: datetime
    basis: Basis
    dns: tuple[DnsAnswer, ...] = ()
    addresses: tuple[str, ...] = ()
    network: Network | None = None
    cdn: CdnFinding | None = None
    origin: Origin = field(default_factory=lambda: Origin("unknown"))
    registrar: Registrar | None = None
    nameservers: tuple[str, ...] = ()
    failures: tuple[Failure, ...] = ()

    @property
    def status(self) -> Status:
        """``failed`` when no network was attributed, ``partial`` when some lookup failed."""
        if self.network is None:
            return "failed"
        return "partial" if self.failures else "complete"

    @property
    def notice_party(self) -> str | None:
        """Who receives the host notice: the CDN in front of the site, else the provider."""
        return self.network.provider if self.network else None

    @property
    def abuse_email(self) -> str | None:
        """The abuse mailbox of the notice party."""
        return self.network.abuse_email if self.network else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``cordon attribute --json`` and the stored chain)."""
        return {
            "target": self.target,
            "host": self.host,
            "registrable_domain": self.registrable_domain,
            "is_ip": self.is_ip,
            "observed_at": self.observed_at.isoformat().replace("+00:00", "Z"),
            "basis": self.basis,
            "status": self.status,
            "dns": [a.to_dict() for a in self.dns],
            "addresses": list(self.addresses),
            "network": self.network.to_dict() if self.network else None,
            "notice_party": {"name": self.notice_party, "abuse_email": self.abuse_email},
            "cdn": self.cdn.to_dict() if self.cdn else None,
            "origin": self.origin.to_dict(),
            "registrar": self.registrar.to_dict() if self.registrar else None,
            "nameservers": list(self.nameservers),
            "failures": [f.to_dict() for f in self.failures],
        }
