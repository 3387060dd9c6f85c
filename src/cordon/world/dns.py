"""The world's authoritative DNS server (dnslib messages on asyncio, UDP and TCP).

It answers A, AAAA (none: the world is IPv4-only), CNAME, NS, MX, TXT and SOA for the world's
names under ``.test``, NXDOMAIN for other ``.test`` names and REFUSED for everything else, so a
resolver pointed at it never reaches the internet.
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from collections.abc import Callable
from typing import cast

from dnslib import CNAME, MX, NS, QTYPE, RCODE, RR, SOA, TXT, A, DNSRecord

from cordon.world.state import DomainState, WorldState

TTL = 300
ZONE = "test"


class Zone:
    """Answers for the world's names, read from the live :class:`WorldState`."""

    def __init__(self, state: WorldState) -> None:
        self.state = state
        truth = state.truth
        self.static: dict[str, list[tuple[str, object]]] = {}
        for provider in truth.providers:
            block = truth.blocks[[b.id for b in truth.blocks].index(provider.blocks[0])]
            base = ipaddress.ip_network(block.cidr).network_address
            ns = [str(base + 2), str(base + 3)]
            mail = str(base + 25)
            self._infra(provider.domain, ns_names=provider.nameservers, ns_addresses=ns, mail=mail)
        for registrar in truth.registrars:
            self._add(registrar.domain, "MX", (10, f"mx.{truth.providers[1].domain}"))
        for psp in truth.payment_providers:
            self._add(psp.domain, "A", psp.address)
            self._add(psp.checkout_host, "A", psp.address)
            self._add(psp.domain, "MX", (10, f"mx.{psp.domain}"))
            self._add(f"mx.{psp.domain}", "A", psp.address)
        mail_domains = {
            e.split("@", 1)[1] for s in truth.sites for e in s.identifiers.emails
        } - set(state.domains)
        mail_host = f"mx.{truth.providers[1].domain}"
        for domain in sorted(mail_domains):
            self._add(domain, "MX", (10, mail_host))
        self.cdn = truth.providers[0]
        self.edge_names = {d.replace(".", "-"): s for d, s in state.domains.items()}

    def _add(self, name: str, rtype: str, value: object) -> None:
        self.static.setdefault(name, []).append((rtype, value))

    def _infra(
        self, domain: str, *, ns_names: list[str], ns_addresses: list[str], mail: str
    ) -> None:
        for ns_name, ns_address in zip(ns_names, ns_addresses, strict=True):
            self._add(ns_name, "A", ns_address)
            self._add(domain, "NS", ns_name)
        self._add(domain, "A", ns_addresses[0])
        self._add(domain, "MX", (10, f"mx.{domain}"))
        self._add(f"mx.{domain}", "A", mail)
        self._add(domain, "TXT", "v=spf1 mx -all")

    def _site_records(self, name: str, domain: DomainState) -> list[tuple[str, object]] | None:
        vhost = domain.vhost
        if vhost is None:
            vhost = next(v for v in self.state.vhosts[domain.site.id] if v.domain == domain.name)
        hosting = vhost.hosting
        provider = self.state.providers[hosting.provider]
        apex = domain.name
        front = self.state.providers[hosting.cdn] if hosting.cdn else None
        edge_name = f"{apex.replace('.', '-')}.cdn.{self.cdn.domain}"
        if name == apex:
            records: list[tuple[str, object]] = [("A", vhost.public_address)]
            for ns in (front or provider).nameservers:
                records.append(("NS", ns))
            records.append(("MX", (10, f"mail.{apex}")))
            if front is not None and hosting.origin_leak == "spf":
                records.append(("TXT", f"v=spf1 ip4:{hosting.address} -all"))
            else:
                records.append(("TXT", f"v=spf1 include:_spf.{provider.domain} -all"))
            for tracker in domain.site.identifiers.analytics:
                records.append(("TXT", f"tally-verification={tracker}"))
            return records
        if name == f"www.{apex}":
            return [("CNAME", edge_name if front is not None else apex)]
        if name == f"mail.{apex}":
            if front is not None and hosting.origin_leak != "mx":
                return [("CNAME", f"mx.{provider.domain}")]
            return [("A", hosting.address)]
        return None

    def lookup(self, name: str) -> tuple[int, list[tuple[str, str, object]]]:
        """(rcode, [(owner, type, value)]) for every record of ``name``."""
        name = name.lower().rstrip(".")
        if name != ZONE and not name.endswith("." + ZONE):
            return RCODE.REFUSED, []
        static = self.static.get(name)
        if static is not None:
            return RCODE.NOERROR, [(name, t, v) for t, v in static]
        if name.endswith(f".cdn.{self.cdn.domain}"):
            state = self.edge_names.get(name.removesuffix(f".cdn.{self.cdn.domain}"))
            vhost = state.vhost if state is not None and state.resolves else None
            if vhost is not None and vhost.edge:
                return RCODE.NOERROR, [(name, "A", vhost.edge)]
            return RCODE.NXDOMAIN, []
        domain = self.state.domain_for(name)
        if domain is None or not domain.resolves:
            return RCODE.NXDOMAIN, []
        records = self._site_records(name, domain)
        if records is None:
            return RCODE.NXDOMAIN, []
        return RCODE.NOERROR, [(name, t, v) for t, v in records]

    def answer(self, data: bytes) -> bytes | None:
        """The reply to one DNS message, or None for one that cannot be parsed."""
        self.state.tick()
        try:
            request = DNSRecord.parse(data)
        except Exception:  # dnslib raises several kinds on garbage
            return None
        reply = request.reply()
        reply.header.ra = 0
        if not request.questions:
            reply.header.rcode = RCODE.FORMERR
            return bytes(reply.pack())
        question = request.q
        qname = str(question.qname)
        qtype = QTYPE[question.qtype]
        rcode, records = self.lookup(qname)
        reply.header.rcode = rcode
        if rcode == RCODE.REFUSED:
            reply.header.aa = 0
            return bytes(reply.pack())
        cname = [r for r in records if r[1] == "CNAME"]
        if cname and qtype != "CNAME":
            # Follow the alias inside the world, as an authoritative server for both names does.
            reply.add_answer(_rr(*cname[0]))
            target = str(cname[0][2])
            _, target_records = self.lookup(target)
            records = [(target, t, v) for _, t, v in target_records]
        for owner, rtype, value in records:
            if qtype in (rtype, "ANY"):
                reply.add_answer(_rr(owner, rtype, value))
        if not reply.rr:
            reply.add_auth(self._soa())
        return bytes(reply.pack())

    def _soa(self) -> RR:
        ns = self.state.truth.providers[1].nameservers[0]
        serial = int(self.state.clock.now().strftime("%Y%m%d%H")) % 4294967295
        return RR(
            ZONE,
            QTYPE.SOA,
            ttl=TTL,
            rdata=SOA(ns, "hostmaster.registry.test", (serial, 3600, 600, 604800, TTL)),
        )


def _rr(owner: str, rtype: str, value: object) -> RR:
    if rtype == "A":
        rdata: object = A(str(value))
    elif rtype == "CNAME":
        rdata = CNAME(str(value))
    elif rtype == "NS":
        rdata = NS(str(value))
    elif rtype == "MX":
        preference, exchange = cast(tuple[int, str], value)
        rdata = MX(exchange, preference)
    elif rtype == "TXT":
        rdata = TXT(str(value))
    else:
        raise ValueError(rtype)
    return RR(owner, getattr(QTYPE, rtype), ttl=TTL, rdata=rdata)


class DnsUdp(asyncio.DatagramProtocol):
    """DNS over UDP."""

    def __init__(self, answer: Callable[[bytes], bytes | None]) -> None:
        self._answer = answer
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector transport is not registered as a DatagramTransport subclass.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        reply = self._answer(data)
        if reply is not None and self._transport is not None:
            if len(reply) > 512:
                # Too big for classic UDP: send the header with TC set so the client uses TCP.
                truncated = DNSRecord.parse(reply)
                truncated.rr, truncated.auth, truncated.ar = [], [], []
                truncated.header.tc = 1
                reply = bytes(truncated.pack())
            self._transport.sendto(reply, addr)


class DnsTcp(asyncio.Protocol):
    """DNS over TCP (two-byte length prefix per message)."""

    def __init__(self, answer: Callable[[bytes], bytes | None]) -> None:
        self._answer = answer
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio's, but have the same methods.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 2:
            (length,) = struct.unpack("!H", self._buffer[:2])
            if len(self._buffer) < 2 + length:
                return
            message, self._buffer = self._buffer[2 : 2 + length], self._buffer[2 + length :]
            reply = self._answer(message)
            if reply is None or self._transport is None:
                if self._transport is not None:
                    self._transport.close()
                return
            self._transport.write(struct.pack("!H", len(reply)) + reply)
