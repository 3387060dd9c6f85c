"""The world's RDAP server (RFC 9083 responses) and its RFC 9224 bootstrap files.

Paths: ``/rdap/ip/{address or cidr}``, ``/rdap/autnum/{n}``, ``/rdap/domain/{name}``,
``/rdap/entity/{handle}`` and ``/rdap/help``. Every network, autonomous system and domain names
its holder (``registrant`` or ``registrar``) and an ``abuse`` entity with a vCard e-mail.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

from cordon.world.http import Request, Response
from cordon.world.model import Block, GroundTruth
from cordon.world.spec import derive
from cordon.world.state import WorldState

CONTENT_TYPE = "application/rdap+json"
CONFORMANCE = ["rdap_level_0", "nro_rdap_profile_0"]
BOOTSTRAP_DIR = "rdap-bootstrap"


def _vcard(
    name: str,
    *,
    kind: str,
    email: str | None = None,
    phone: str | None = None,
    country: str | None = None,
) -> list[Any]:
    props: list[list[Any]] = [
        ["version", {}, "text", "4.0"],
        ["fn", {}, "text", name],
        ["kind", {}, "text", kind],
    ]
    if country:
        props.append(["adr", {"cc": country}, "text", ["", "", "", "", "", "", ""]])
    if email:
        props.append(["email", {}, "text", email])
    if phone:
        props.append(["tel", {"type": ["voice"]}, "uri", f"tel:{phone}"])
    return ["vcard", props]


class Rdap:
    """Builds RDAP answers from the ground truth and the live state."""

    def __init__(self, state: WorldState, base_url: str) -> None:
        self.state = state
        self.truth: GroundTruth = state.truth
        self.base = base_url.rstrip("/") + "/"
        self.entities: dict[str, dict[str, Any]] = {}
        self.holders: dict[str, dict[str, Any]] = {}
        for p in self.truth.providers:
            self._holder(p.id, p.name, p.abuse_email, p.countries[0], None)
        for s in self.truth.payment_providers:
            self._holder(s.id, s.name, s.abuse_email, s.country, None)
        for r in self.truth.registrars:
            self._holder(r.id, r.name, r.abuse_email, None, r.abuse_phone)

    def _holder(
        self, oid: str, name: str, abuse: str, country: str | None, phone: str | None
    ) -> None:
        org: dict[str, Any] = {
            "objectClassName": "entity",
            "handle": f"{oid}-ORG",
            "vcardArray": _vcard(name, kind="org", country=country),
        }
        abuse_entity: dict[str, Any] = {
            "objectClassName": "entity",
            "handle": f"{oid}-ABUSE",
            "roles": ["abuse"],
            "vcardArray": _vcard(f"{name} abuse desk", kind="group", email=abuse, phone=phone),
        }
        self.entities[org["handle"]] = org
        self.entities[abuse_entity["handle"]] = abuse_entity
        self.holders[oid] = {"org": org, "abuse": abuse_entity}

    def _entities(self, oid: str, role: str) -> list[dict[str, Any]]:
        holder = self.holders[oid]
        org = {**holder["org"], "roles": [role], "entities": [holder["abuse"]]}
        return [org, holder["abuse"]] if role != "registrar" else [org]

    def _link(self, path: str) -> list[dict[str, str]]:
        href = self.base + path
        return [{"value": href, "rel": "self", "href": href, "type": CONTENT_TYPE}]

    def _network(self, block: Block) -> dict[str, Any]:
        net = ipaddress.ip_network(block.cidr)
        return {
            "rdapConformance": CONFORMANCE,
            "objectClassName": "ip network",
            "handle": block.handle,
            "startAddress": str(net.network_address),
            "endAddress": str(net.broadcast_address),
            "ipVersion": "v4",
            "name": block.name,
            "type": "ALLOCATED PA",
            "country": block.country,
            "cidr0_cidrs": [{"v4prefix": str(net.network_address), "length": net.prefixlen}],
            "status": ["active"],
            "entities": self._entities(block.holder, "registrant"),
            "links": self._link(f"ip/{block.cidr}"),
            "events": [{"eventAction": "registration", "eventDate": "2015-03-01T00:00:00Z"}],
        }

    def _autnum(self, asn: int) -> dict[str, Any] | None:
        block = next((b for b in self.truth.blocks if b.asn == asn), None)
        if block is None:
            return None
        return {
            "rdapConformance": CONFORMANCE,
            "objectClassName": "autnum",
            "handle": f"AS{asn}",
            "startAutnum": asn,
            "endAutnum": asn,
            "name": block.name.rsplit("-NET-", 1)[0],
            "type": "DIRECT ALLOCATION",
            "country": block.country,
            "status": ["active"],
            "entities": self._entities(block.holder, "registrant"),
            "links": self._link(f"autnum/{asn}"),
        }

    def _domain(self, name: str) -> dict[str, Any] | None:
        state = self.state.domains.get(name)
        if state is None or not state.active:
            return None
        registrar = self.truth.registrar(state.registrar)
        vhost = state.vhost or next(
            v for v in self.state.vhosts[state.site.id] if v.domain == state.name
        )
        hosting = vhost.hosting
        ns_owner = self.state.providers[hosting.cdn or hosting.provider]
        registrar_entity = self._entities(registrar.id, "registrar")[0]
        registrar_entity["publicIds"] = [
            {"type": "IANA Registrar ID", "identifier": str(registrar.iana_id)}
        ]
        registered = state.registered_at
        return {
            "rdapConformance": CONFORMANCE,
            "objectClassName": "domain",
            "handle": f"D{derive(self.truth.spec.seed, 'domain-handle', name) % 10**9}-TEST",
            "ldhName": name,
            "status": ["client hold"] if state.hold else ["active"],
            "nameservers": [
                {"objectClassName": "nameserver", "ldhName": ns} for ns in ns_owner.nameservers
            ],
            "entities": [registrar_entity],
            "events": [
                {"eventAction": "registration", "eventDate": registered.isoformat()},
                {
                    "eventAction": "expiration",
                    "eventDate": registered.replace(year=registered.year + 1).isoformat(),
                },
            ],
            "links": self._link(f"domain/{name}"),
        }

    def handle(self, request: Request) -> Response:
        """Answer one RDAP request."""
        self.state.tick()
        if request.method not in ("GET", "HEAD"):
            return _error(405, "Method Not Allowed")
        parts = request.path.strip("/").split("/", 2)
        if len(parts) < 2 or parts[0] != "rdap":
            return _error(404, "Not Found")
        kind = parts[1]
        arg = parts[2] if len(parts) > 2 else ""
        body: dict[str, Any] | None
        if kind == "help":
            body = {
                "rdapConformance": CONFORMANCE,
                "notices": [
                    {
                        "title": "Cordon synthetic world",
                        "description": [
                            "RDAP for the world's blocks, autonomous systems and domains."
                        ],
                    }
                ],
            }
        elif kind == "ip":
            body = self._ip(arg)
            if body is None and not _is_address(arg):
                return _error(400, f"{arg!r} is not an IP address or prefix")
        elif kind == "autnum":
            if not arg.isdigit():
                return _error(400, f"{arg!r} is not an AS number")
            body = self._autnum(int(arg))
        elif kind == "domain":
            body = self._domain(arg.lower().rstrip("."))
        elif kind == "entity":
            entity = self.entities.get(arg)
            body = {"rdapConformance": CONFORMANCE, **entity} if entity else None
        else:
            return _error(400, f"unsupported query type {kind!r}")
        if body is None:
            return _error(404, "Not Found")
        return Response(
            200,
            json.dumps(body, indent=1).encode(),
            [("Access-Control-Allow-Origin", "*")],
            content_type=CONTENT_TYPE,
        )

    def _ip(self, arg: str) -> dict[str, Any] | None:
        try:
            net = ipaddress.ip_network(arg, strict=False)
        except ValueError:
            return None
        for block in self.truth.blocks:
            candidate = ipaddress.ip_network(block.cidr)
            if net.version == candidate.version and net.subnet_of(candidate):  # type: ignore[arg-type]  # versions checked
                return self._network(block)
        return None


def _is_address(arg: str) -> bool:
    try:
        ipaddress.ip_network(arg, strict=False)
    except ValueError:
        return False
    return True


def _error(status: int, title: str) -> Response:
    body = {"rdapConformance": CONFORMANCE, "errorCode": status, "title": title}
    return Response(status, json.dumps(body).encode(), content_type=CONTENT_TYPE)


def write_bootstrap(truth: GroundTruth, folder: Path, base_url: str) -> Path:
    """Write RFC 9224 bootstrap files (dns, ipv4, ipv6, asn) pointing at ``base_url``."""
    out = folder / BOOTSTRAP_DIR
    out.mkdir(parents=True, exist_ok=True)
    url = base_url.rstrip("/") + "/"
    publication = truth.spec.start.strftime("%Y-%m-%dT%H:%M:%SZ")

    def document(services: list[list[list[str]]]) -> str:
        return (
            json.dumps(
                {
                    "version": "1.0",
                    "publication": publication,
                    "description": "Cordon synthetic world",
                    "services": services,
                },
                indent=1,
            )
            + "\n"
        )

    asns = sorted({b.asn for b in truth.blocks})
    (out / "dns.json").write_text(document([[["test"], [url]]]), encoding="utf-8")
    (out / "ipv4.json").write_text(
        document([[sorted(b.cidr for b in truth.blocks), [url]]]), encoding="utf-8"
    )
    (out / "ipv6.json").write_text(document([]), encoding="utf-8")
    (out / "asn.json").write_text(document([[[f"{a}-{a}" for a in asns], [url]]]), encoding="utf-8")
    return out
