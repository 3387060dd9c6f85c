"""Helpers for attribution tests: real servers on loopback that answer what a test tells them
to, a DNS server (dnslib messages over UDP and TCP) and an RDAP server (http.server), plus small
MaxMind-format databases and RFC 9224 bootstrap files pointing at the RDAP server."""

from __future__ import annotations

import json
import socket
import socketserver
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from dnslib import CNAME, MX, NS, QTYPE, RCODE, RR, SOA, TXT, A, DNSRecord
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from cordon.config import Settings, load_settings

# --------------------------------------------------------------------------- DNS

Answer = Callable[[DNSRecord], bytes | None]


def _rr(owner: str, rtype: str, value: Any, ttl: int) -> RR:
    rdata: Any
    if rtype == "A":
        rdata = A(value)
    elif rtype == "CNAME":
        rdata = CNAME(value)
    elif rtype == "NS":
        rdata = NS(value)
    elif rtype == "MX":
        rdata = MX(value[1], value[0])
    elif rtype == "TXT":
        rdata = TXT(value)
    else:
        raise ValueError(rtype)
    return RR(owner, getattr(QTYPE, rtype), ttl=ttl, rdata=rdata)


@dataclass
class Zone:
    """Records and behaviours by name. A record is (type, value, ttl)."""

    records: dict[str, list[tuple[str, Any, int]]] = field(default_factory=dict)
    # name -> "servfail" | "refused" | "drop" | "garbage" | "nxdomain" | "loop"
    behaviour: dict[str, str] = field(default_factory=dict)
    asked: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: False: answer an alias with the alias alone, as a server that does not chase it.
    follow: bool = True

    def add(self, name: str, rtype: str, value: Any, ttl: int = 300) -> None:
        self.records.setdefault(name, []).append((rtype, value, ttl))

    def soa(self) -> RR:
        return RR(
            "test",
            QTYPE.SOA,
            ttl=300,
            rdata=SOA("ns1.zone.test", "hostmaster.zone.test", (1, 3600, 600, 86400, 30)),
        )

    def answer(self, data: bytes, tcp: bool = False) -> bytes | None:
        request = DNSRecord.parse(data)
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        self.asked[(name, qtype)] += 1
        reply = request.reply()
        how = self.behaviour.get(name)
        if how == "drop":
            return None
        if how == "garbage":
            if not tcp:
                # Truncated over UDP, so that the client asks again over TCP and gets garbage:
                # over UDP a resolver rightly ignores garbage as possibly spoofed.
                reply.header.tc = 1
                return bytes(reply.pack())
            return data[:2] + b"\x81\x80\x00\x01\x00\x05" + b"\xff" * 9
        if how == "servfail":
            reply.header.rcode = RCODE.SERVFAIL
            return bytes(reply.pack())
        if how == "refused":
            reply.header.rcode = RCODE.REFUSED
            return bytes(reply.pack())
        if how == "loop":
            # An alias chain that comes back on itself inside one answer.
            reply.add_answer(_rr(name, "CNAME", f"b-{name}", 60))
            reply.add_answer(_rr(f"b-{name}", "CNAME", name, 60))
            return bytes(reply.pack())
        records = self.records.get(name)
        if records is None:
            reply.header.rcode = RCODE.NXDOMAIN
            reply.add_auth(self.soa())
            return bytes(reply.pack())
        owner = name
        seen = 0
        while True:
            cnames = [r for r in records if r[0] == "CNAME"]
            if not cnames or qtype == "CNAME" or seen > 10:
                break
            target = cnames[0][1]
            reply.add_answer(_rr(owner, "CNAME", target, cnames[0][2]))
            seen += 1
            if not self.follow:
                break
            following = self.records.get(target)
            if following is None:
                break
            owner, records = target, following
        for rtype, value, ttl in records:
            if rtype == qtype:
                reply.add_answer(_rr(owner, rtype, value, ttl))
        only_aliases = bool(reply.rr) and all(QTYPE[r.rtype] == "CNAME" for r in reply.rr)
        if qtype != "CNAME" and (not reply.rr or (only_aliases and self.follow)):
            # No such record (at the end of the chain, when the chain was chased).
            reply.add_auth(self.soa())
        return bytes(reply.pack())


class _Udp(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        reply = self.server.zone.answer(data)  # type: ignore[attr-defined]  # set below
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _Tcp(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        raw = self.request.recv(2)
        if len(raw) < 2:
            return
        (length,) = struct.unpack("!H", raw)
        data = b""
        while len(data) < length:
            chunk = self.request.recv(length - len(data))
            if not chunk:
                return
            data += chunk
        reply = self.server.zone.answer(data, tcp=True)  # type: ignore[attr-defined]  # set below
        if reply is not None:
            self.request.sendall(struct.pack("!H", len(reply)) + reply)


class _ThreadingUdp(socketserver.ThreadingMixIn, socketserver.UDPServer):
    daemon_threads = True


class _ThreadingTcp(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


@dataclass
class DnsServer:
    zone: Zone
    host: str
    port: int

    @property
    def resolver(self) -> str:
        return f"{self.host}:{self.port}"


@contextmanager
def dns_server() -> Iterator[DnsServer]:
    """A DNS server on 127.0.0.1 (UDP and TCP, one port) answering from a :class:`Zone`."""
    zone = Zone()
    for _ in range(20):
        udp = _ThreadingUdp(("127.0.0.1", 0), _Udp)
        port = udp.server_address[1]
        try:
            tcp = _ThreadingTcp(("127.0.0.1", port), _Tcp)
        except OSError:  # that port is taken for TCP: try another pair
            udp.server_close()
            continue
        break
    else:
        raise RuntimeError("no port free for both UDP and TCP")
    for server in (udp, tcp):
        server.zone = zone  # type: ignore[attr-defined]  # read by the handlers
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield DnsServer(zone, "127.0.0.1", port)
    for server in (udp, tcp):
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- RDAP

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class RdapServer:
    base: str
    routes: dict[str, Route]
    hits: Counter[str]

    def json(self, path: str, body: Any, status: int = 200) -> None:
        """Answer ``path`` with ``body`` as RDAP JSON."""
        payload = json.dumps(body).encode()

        def send(h: BaseHTTPRequestHandler) -> None:
            h.send_response(status)
            h.send_header("Content-Type", "application/rdap+json")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)

        self.routes[path] = send

    def raw(self, path: str, body: bytes, content_type: str = "text/html", status: int = 200,
            headers: dict[str, str] | None = None) -> None:  # fmt: skip
        """Answer ``path`` with these bytes."""

        def send(h: BaseHTTPRequestHandler) -> None:
            h.send_response(status)
            h.send_header("Content-Type", content_type)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)

        self.routes[path] = send


@contextmanager
def rdap_server() -> Iterator[RdapServer]:
    """An RDAP server on 127.0.0.1 that answers the routes a test sets (404 for the rest)."""
    routes: dict[str, Route] = {}
    hits: Counter[str] = Counter()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits[self.path] += 1
            route = routes.get(self.path)
            if route is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with suppress(BrokenPipeError, ConnectionResetError):
                route(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield RdapServer(f"http://127.0.0.1:{server.server_address[1]}/rdap/", routes, hits)
    server.shutdown()
    server.server_close()


def slow_drip(seconds: float) -> Route:
    """A route that sends its body one byte at a time, ``seconds`` apart."""

    def send(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/rdap+json")
        h.end_headers()
        for byte in b'{"objectClassName": "ip network"}':
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
            time.sleep(seconds)

    return send


# --------------------------------------------------------------------------- data builders


def vcard(name: str, email: str | None = None, phone: str | None = None,
          cc: str | None = None) -> list[Any]:  # fmt: skip
    props: list[Any] = [["version", {}, "text", "4.0"], ["fn", {}, "text", name]]
    if email:
        props.append(["email", {}, "text", email])
    if phone:
        props.append(["tel", {"type": "voice"}, "uri", f"tel:{phone}"])
    if cc:
        props.append(["adr", {"cc": cc}, "text", ["", "", "", "", "", "", ""]])
    return ["vcard", props]


def network_json(start: str, end: str, holder: str, abuse: str | None, country: str) -> Any:
    entities: list[Any] = [{
        "objectClassName": "entity", "handle": "ORG-1", "roles": ["registrant"],
        "vcardArray": vcard(holder, cc=country),
    }]  # fmt: skip
    if abuse:
        entities[0]["entities"] = [{
            "objectClassName": "entity", "handle": "ABUSE-1", "roles": ["abuse"],
            "vcardArray": vcard(f"{holder} abuse", email=abuse),
        }]  # fmt: skip
    return {
        "objectClassName": "ip network", "handle": "NET-1", "startAddress": start,
        "endAddress": end, "name": "NET", "country": country, "entities": entities,
    }  # fmt: skip


def domain_json(name: str, registrar: str, iana: int, abuse: str, cc: str | None = None) -> Any:
    return {
        "objectClassName": "domain",
        "ldhName": name,
        "entities": [
            {
                "objectClassName": "entity",
                "handle": "REG-1",
                "roles": ["registrar"],
                "publicIds": [{"type": "IANA Registrar ID", "identifier": str(iana)}],
                "vcardArray": vcard(registrar, cc=cc),
                "entities": [
                    {
                        "objectClassName": "entity",
                        "roles": ["abuse"],
                        "vcardArray": vcard("abuse", email=abuse, phone="+1.5550100"),
                    }
                ],
            }
        ],
        "nameservers": [{"objectClassName": "nameserver", "ldhName": "ns1.host.test"}],
        "events": [{"eventAction": "registration", "eventDate": "2025-01-01T00:00:00Z"}],
    }


def write_bootstrap(folder: Path, base: str) -> Path:
    """RFC 9224 files sending ``.test``, 192.0.2.0/24, 198.51.100.0/24 and AS64496-64511 to
    ``base``."""
    folder.mkdir(parents=True, exist_ok=True)

    def doc(services: list[Any]) -> str:
        return json.dumps({"version": "1.0", "publication": "2026-01-01T00:00:00Z",
                           "services": services})  # fmt: skip

    (folder / "dns.json").write_text(doc([[["test"], [base]]]))
    (folder / "ipv4.json").write_text(doc([[["192.0.2.0/24", "198.51.100.0/24"], [base]]]))
    (folder / "ipv6.json").write_text(doc([]))
    (folder / "asn.json").write_text(doc([[["64496-64511"], [base]]]))
    return folder


EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z


def write_mmdb(path: Path, kind: str, networks: dict[str, dict[str, Any]],
               epoch: int = EPOCH) -> Path:  # fmt: skip
    """A MaxMind DB of ``kind`` (GeoLite2-ASN, GeoLite2-Country, ipinfo) with these records."""

    class Writer(MMDBWriter):  # type: ignore[misc]  # untyped base
        def _build_meta(self) -> dict[str, Any]:
            meta: dict[str, Any] = super()._build_meta()
            meta["build_epoch"] = epoch
            return meta

    writer = Writer(ip_version=6, ipv4_compatible=True, database_type=kind, languages=["en"],
                    description="Cordon test database")  # fmt: skip
    for cidr, record in networks.items():
        writer.insert_network(IPSet([cidr]), record)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer.to_db_file(str(path))
    return path


HOSTING = "192.0.2.0/24"
EDGE = "198.51.100.0/24"


def write_databases(folder: Path, epoch: int = EPOCH) -> tuple[Path, Path]:
    asn = write_mmdb(folder / "asn.mmdb", "GeoLite2-ASN", {
        HOSTING: {"autonomous_system_number": 64500,
                  "autonomous_system_organization": "Example Hosting B.V."},
        EDGE: {"autonomous_system_number": 64501,
               "autonomous_system_organization": "Example Edge Inc."},
    }, epoch)  # fmt: skip
    country = write_mmdb(folder / "country.mmdb", "GeoLite2-Country", {
        HOSTING: {"country": {"iso_code": "NL"}},
        EDGE: {"country": {"iso_code": "US"}},
    }, epoch)  # fmt: skip
    return asn, country


def write_cdn_file(path: Path) -> Path:
    path.write_text(json.dumps({"format": "cordon-cdn/1", "cdns": [{
        "id": "example-edge", "name": "Example Edge", "asns": [64501],
        "cname_suffixes": ["edge.test"], "headers": [{"name": "x-example-edge"}],
    }]}))  # fmt: skip
    return path


@dataclass
class Loopback:
    """Settings pointing at the test's own DNS and RDAP servers and databases."""

    dns: DnsServer
    rdap: RdapServer
    folder: Path

    def settings(self, **sections: dict[str, Any]) -> Settings:
        asn, country = self.folder / "asn.mmdb", self.folder / "country.mmdb"
        layers: dict[str, Any] = {
            "dns": {"resolvers": [self.dns.resolver], "timeout_seconds": 1.0},
            "ipdb": {"asn_database": str(asn), "country_database": str(country)},
            "rdap": {
                "bootstrap_dir": str(self.folder / "bootstrap"),
                "timeout_seconds": 1.0,
                "rate_limit": "1000 per 1 second",
            },
            "attribution": {"cdn_files": [str(self.folder / "cdn.json")]},
        }
        for name, values in sections.items():
            layers[name] = {**layers.get(name, {}), **values}
        return load_settings(environ={}, overrides=layers)


def loopback(dns_server: DnsServer, rdap_server: RdapServer, tmp_path: Path) -> Loopback:
    """DNS and RDAP servers with a small hosting world: ``site.test`` hosted at 192.0.2.10
    (Example Hosting, NL), ``fronted.test`` behind Example Edge (198.51.100.7, US) with its mail
    host leaking the origin 192.0.2.20."""
    write_databases(tmp_path)
    write_bootstrap(tmp_path / "bootstrap", rdap_server.base)
    write_cdn_file(tmp_path / "cdn.json")
    z = dns_server.zone
    z.add("site.test", "A", "192.0.2.10", 60)
    z.add("site.test", "NS", "ns1.host.test")
    z.add("site.test", "MX", (10, "mx.host.test"))
    z.add("site.test", "TXT", "v=spf1 -all")
    z.add("www.site.test", "CNAME", "site.test")
    z.add("fronted.test", "A", "198.51.100.7")
    z.add("fronted.test", "NS", "ns1.edge.test")
    z.add("fronted.test", "MX", (10, "mail.fronted.test"))
    z.add("mail.fronted.test", "A", "192.0.2.20")
    z.add("fronted.test", "TXT", "v=spf1 mx -all")
    hosting = network_json(
        "192.0.2.0", "192.0.2.255", "Example Hosting B.V.", "abuse@hosting.test", "NL"
    )
    edge = network_json(
        "198.51.100.0", "198.51.100.255", "Example Edge Inc.", "abuse@edge.test", "US"
    )
    rdap_server.json("/rdap/ip/192.0.2.10", hosting)
    rdap_server.json("/rdap/ip/198.51.100.7", edge)
    for name in ("site.test", "fronted.test"):
        rdap_server.json(f"/rdap/domain/{name}", domain_json(
            name, "Example Registrar Ltd", 9999, "abuse@registrar.test"))  # fmt: skip
    return Loopback(dns_server, rdap_server, tmp_path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
