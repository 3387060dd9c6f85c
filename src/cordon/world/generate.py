"""Generate a world's ground truth from a :class:`WorldSpec`: pure and deterministic.

Pictures come out without their hashes; :func:`cordon.world.build.build_world` draws and hashes
them. Every part of the world draws from its own random stream (:func:`derive`), so a change in
one part leaves the others as they were.
"""

from __future__ import annotations

import ipaddress
import random
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from cordon.world import names
from cordon.world.model import (
    Block,
    Desk,
    DeskAction,
    Embed,
    GroundTruth,
    Hop,
    Hosting,
    Identifiers,
    MerchantAccount,
    Network,
    PaymentProvider,
    Picture,
    PictureFormat,
    Placement,
    Provider,
    Registrar,
    Site,
    SiteRole,
    TestPurchase,
)
from cordon.world.pictures import ALTERATIONS, EXTENSIONS
from cordon.world.spec import WorldSpec, derive
from cordon.world.wallets import BTC_KINDS, btc_address, eth_address

COUNTRIES = ("NL", "DE", "US", "SE", "FR", "GB", "RO", "MD", "PA", "SC", "BG", "LT", "CA", "CH")
LEGAL_FORMS = {
    "NL": "B.V.",
    "DE": "GmbH",
    "US": "LLC",
    "SE": "AB",
    "FR": "SAS",
    "GB": "Ltd",
    "RO": "S.R.L.",
    "MD": "S.R.L.",
    "PA": "S.A.",
    "SC": "Ltd",
    "BG": "EOOD",
    "LT": "UAB",
    "CA": "Inc.",
    "CH": "AG",
}
SERVER_HEADERS = ("nginx/1.24.0", "Apache/2.4.58 (Unix)", "LiteSpeed", "openresty/1.25.3.1")
CDN_SERVER_HEADER = "edgeshield"
STOREFRONT_TEMPLATES = ("grid", "tiles", "magazine", "minimal", "cards", "masonry")
UNRELATED_TEMPLATES = ("blog", "club", "portfolio")
DESK_ORDER: tuple[DeskAction, ...] = ("first_notice", "after_notices", "after_delay", "never")
FIRST_SECOND_OCTET = 17  # 127.0.0.0/16 is Cordon's own; the world starts well clear of it
PAGE_SIZE = 12
CDN_EDGES = 4
MCCS = ("5815", "5816", "5818", "5968", "7399", "4816")
CARD_BINS = {"visa": ("424242", "411111", "400000"), "mastercard": ("555555", "222300")}
CURRENCIES = ("EUR", "USD", "GBP")


def generate(spec: WorldSpec) -> GroundTruth:
    """The ground truth of the world ``spec`` describes, pictures not yet hashed."""
    return _Generator(spec).run()


@dataclass
class _SitePlan:
    id: str
    domain: str
    role: SiteRole
    network: str | None
    registrar: str = ""
    template: str = ""
    https: bool = True
    hosting: Hosting | None = None
    identifiers: Identifiers = field(default_factory=Identifiers)
    payment_page: str | None = None
    gateway: str | None = None
    media_host: str | None = None
    redirect_to: str | None = None
    redirect_chain: list[str] = field(default_factory=list)
    pictures: list[str] = field(default_factory=list)
    lazy: bool = False
    inline: bool = False
    hops: list[Hop] = field(default_factory=list)


class _Addresses:
    """Hands out host addresses inside a provider's blocks, never .0 or .255."""

    def __init__(self, cidrs: Sequence[str]) -> None:
        self._iters = [self._hosts(ipaddress.ip_network(c)) for c in cidrs]
        self._turn = 0

    @staticmethod
    def _hosts(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Iterator[str]:
        # x.y.0.* is kept for the provider's own name servers and mail host.
        for ip in net.hosts():
            last, third = ip.packed[-1], ip.packed[-2]
            if third != 0 and last not in (0, 255):
                yield str(ip)

    def next(self) -> str:
        it = self._iters[self._turn % len(self._iters)]
        self._turn += 1
        return next(it)


class _Generator:
    def __init__(self, spec: WorldSpec) -> None:
        self.spec = spec
        self.seed = spec.seed
        self.domains = names.DomainNames(self.rng("domains"))
        for free in names.FREEMAIL:
            self.domains.reserve(free)
        self.blocks: list[Block] = []
        self.providers: list[Provider] = []
        self.registrars: list[Registrar] = []
        self.psps: list[PaymentProvider] = []
        self.accounts: list[MerchantAccount] = []
        self.networks: list[Network] = []
        self.sites: list[_SitePlan] = []
        self.pictures: list[Picture] = []
        self.placements: dict[str, list[Placement]] = {}
        self.purchases: list[TestPurchase] = []
        self.addresses: dict[str, _Addresses] = {}
        self.shared_pools: dict[str, list[str]] = {}
        self.shared_counts: dict[str, int] = {}
        self.formats: dict[str, PictureFormat] = {}
        self.cdn_edges: list[str] = []
        self.next_octet = FIRST_SECOND_OCTET

    def rng(self, *parts: object) -> random.Random:
        return random.Random(derive(self.seed, *parts))

    # ------------------------------------------------------------------ organisations

    def _desk(self, rng: random.Random, acts: DeskAction) -> Desk:
        if acts == "after_notices":
            return Desk(acts=acts, notices=rng.randint(2, 3))
        if acts == "after_delay":
            return Desk(acts=acts, delay_seconds=rng.choice((6, 12, 24, 48, 72)) * 3600)
        return Desk(acts=acts)

    def _desk_cycle(self, rng: random.Random, count: int) -> list[DeskAction]:
        # Every behaviour appears once before any repeats, so small worlds have them all.
        out: list[DeskAction] = []
        while len(out) < count:
            batch = list(DESK_ORDER)
            rng.shuffle(batch)
            out.extend(batch)
        return out[:count]

    def _block(self, holder: str, asn: int, country: str, name: str) -> Block:
        octet = self.next_octet
        self.next_octet += 1
        if octet > 254:
            raise ValueError("too many address blocks for 127.0.0.0/8")
        block = Block(
            id=f"B{len(self.blocks) + 1:02d}",
            cidr=f"127.{octet}.0.0/16",
            holder=holder,
            asn=asn,
            country=country,
            handle=f"NET-127-{octet}-0-0-1",
            name=f"{names.slug(name).upper()}-NET-{octet}",
        )
        self.blocks.append(block)
        return block

    def _asns(self, count: int) -> list[int]:
        return sorted(self.rng("asns").sample(range(64512, 65535), count))

    def make_organisations(self) -> None:
        spec = self.spec
        rng = self.rng("organisations")
        asns = self._asns(spec.providers + spec.payment_providers)
        words = rng.sample(names.COMPANY_WORDS, spec.providers + spec.registrars)
        desks = self._desk_cycle(rng, spec.providers)
        for i in range(spec.providers):
            pid = f"P{i + 1:02d}"
            kind = "cdn" if i == 0 else "hosting"
            country = "US" if i == 0 else rng.choice(COUNTRIES)
            countries = [country]
            if i == 2:  # one provider spread over two countries
                countries.append(rng.choice([c for c in COUNTRIES if c != country]))
            suffix = "Edge" if kind == "cdn" else rng.choice(names.HOSTING_SUFFIXES)
            base = f"{words[i]} {suffix}"
            name = f"{base} {LEGAL_FORMS[country]}"
            domain = self.domains.reserve(f"{names.slug(base)}.test")
            blocks = [self._block(pid, asns[i], c, base) for c in countries]
            shared = i == 1 or (i > 2 and rng.random() < 0.5)
            self.providers.append(
                Provider(
                    id=pid,
                    name=name,
                    kind=kind,
                    asn=asns[i],
                    countries=countries,
                    domain=domain,
                    abuse_email=f"abuse@{domain}",
                    blocks=[b.id for b in blocks],
                    shared_addresses=shared,
                    server_header=CDN_SERVER_HEADER
                    if kind == "cdn"
                    else rng.choice(SERVER_HEADERS),
                    nameservers=[f"ns1.{domain}", f"ns2.{domain}"],
                    desk=self._desk(rng, desks[i]),
                )
            )
            self.addresses[pid] = _Addresses([b.cidr for b in blocks])
        cdn = self.providers[0]
        self.cdn_edges = [self.addresses[cdn.id].next() for _ in range(CDN_EDGES)]

        desks = self._desk_cycle(rng, spec.registrars)
        for i in range(spec.registrars):
            base = f"{words[spec.providers + i]} {rng.choice(names.REGISTRAR_SUFFIXES)}"
            domain = self.domains.reserve(f"{names.slug(base)}.test")
            self.registrars.append(
                Registrar(
                    id=f"R{i + 1:02d}",
                    name=f"{base} {LEGAL_FORMS[rng.choice(COUNTRIES)]}",
                    iana_id=8000 + rng.randint(0, 999) * 10 + i,
                    domain=domain,
                    abuse_email=f"abuse@{domain}",
                    abuse_phone=f"+1.5555550{100 + i:03d}",
                    desk=self._desk(rng, desks[i]),
                )
            )

        desks = self._desk_cycle(rng, spec.payment_providers)
        psp_names = rng.sample(names.PSP_NAMES, spec.payment_providers)
        for i, base in enumerate(psp_names):
            sid = f"S{i + 1:02d}"
            domain = self.domains.reserve(f"{names.slug(base)}.test")
            country = rng.choice(COUNTRIES)
            asn = asns[spec.providers + i]
            block = self._block(sid, asn, country, base)
            host, path = rng.choice(
                (
                    (f"checkout.{domain}", "/pay/{account}"),
                    (f"pay.{domain}", "/c/{account}"),
                    (domain, "/checkout/{account}"),
                )
            )
            self.psps.append(
                PaymentProvider(
                    id=sid,
                    name=base,
                    domain=domain,
                    checkout_host=host,
                    checkout_path=path,
                    abuse_email=f"merchant-risk@{domain}",
                    asn=asn,
                    block=block.id,
                    address=str(ipaddress.ip_network(block.cidr)[257]),
                    country=country,
                    desk=self._desk(rng, desks[i]),
                )
            )

    # ------------------------------------------------------------------ identifiers

    def _account(self, rng: random.Random, psp: PaymentProvider, network: str | None) -> str:
        style = int(psp.id[1:]) % 3
        if style == 0:
            account = "acct_" + "".join(rng.choices(string.ascii_letters + string.digits, k=14))
        elif style == 1:
            account = "M" + "".join(rng.choices(string.digits, k=9))
        else:
            account = "mer-" + rng.randbytes(5).hex()
        word = rng.choice(names.BRAND_WORDS).upper()
        self.accounts.append(
            MerchantAccount(
                psp=psp.id,
                account=account,
                merchant_id="".join(rng.choices(string.digits, k=15)),
                merchant_descriptor=f"{word}*DIGITAL {rng.choice(names.CITIES)}"[:22],
                mcc=rng.choice(MCCS),
                network=network,
            )
        )
        return f"{psp.id}:{account}"

    def _btc(self, rng: random.Random) -> str:
        return btc_address(rng, rng.choice(BTC_KINDS))

    def _analytics(self, rng: random.Random) -> str:
        return "TLY-" + "".join(rng.choices(string.digits, k=8))

    # ------------------------------------------------------------------ sites

    def _site(self, role: SiteRole, network: str | None) -> _SitePlan:
        plan = _SitePlan(
            id=f"W{len(self.sites) + 1:05d}",
            domain=self.domains.fresh(),
            role=role,
            network=network,
        )
        self.sites.append(plan)
        return plan

    def make_sites(self) -> None:
        spec = self.spec
        rng = self.rng("sites")
        n_unrelated = round(spec.sites * 0.2)
        n_noise = round(spec.sites * 0.1)
        n_network = spec.sites - n_unrelated - n_noise
        k = spec.network_count
        weights = [rng.uniform(0.5, 2.0) for _ in range(k)]
        sizes = [3] * k
        for _ in range(n_network - 3 * k):
            sizes[rng.choices(range(k), weights)[0]] += 1
        brand_words = rng.sample(names.BRAND_WORDS, min(k, len(names.BRAND_WORDS)))
        for n, size in enumerate(sizes):
            nid = f"N{n + 1:03d}"
            word = brand_words[n % len(brand_words)]
            self._make_network(rng, nid, f"{word} {n + 1}" if n >= len(brand_words) else word, size)
        for _ in range(n_noise):
            self._make_noise(rng)
        for _ in range(n_unrelated):
            site = self._site("unrelated", None)
            site.template = rng.choice(UNRELATED_TEMPLATES)
            site.identifiers = Identifiers(
                analytics=[self._analytics(rng)] if rng.random() < 0.5 else [],
                emails=[f"hello@{site.domain}"],
            )

    def _make_network(self, rng: random.Random, nid: str, brand: str, size: int) -> None:
        roles: list[SiteRole] = []
        if size >= 6:
            roles.append("media")
        if size >= 4:
            roles.append("gateway")
        roles += ["redirector"] * (2 if size >= 14 else 1 if size >= 8 else 0)
        roles += ["storefront"] * (size - len(roles))
        templates = rng.sample(STOREFRONT_TEMPLATES, rng.choice((1, 1, 2)))
        mail_domain = self.domains.reserve(f"{names.slug(brand)}-mail{rng.randint(2, 99)}.test")
        psps = rng.sample(self.psps, min(len(self.psps), rng.choice((1, 1, 2))))
        pool = Identifiers(
            btc=[self._btc(rng) for _ in range(rng.randint(2, 5))],
            eth=[eth_address(rng) for _ in range(rng.randint(1, 2))],
            accounts=[self._account(rng, rng.choice(psps), nid) for _ in range(rng.randint(1, 3))],
            analytics=[self._analytics(rng) for _ in range(rng.randint(1, 2))],
            emails=[
                f"support@{mail_domain}",
                f"{names.slug(brand)}{rng.randint(10, 999)}@{rng.choice(names.FREEMAIL)}",
            ],
        )
        members = [self._site(role, nid) for role in roles]
        media = next((s for s in members if s.role == "media"), None)
        gateway = next((s for s in members if s.role == "gateway"), None)
        storefronts = [s for s in members if s.role == "storefront"]
        previous: Identifiers | None = None
        for site in storefronts:
            site.template = rng.choice(templates)
            site.payment_page = rng.choice(("/join", "/vip", "/members", "/pay"))
            site.identifiers = self._storefront_identifiers(rng, pool, previous)
            previous = site.identifiers
            site.lazy = rng.random() < 0.4
            site.inline = rng.random() < 0.15
            if media is not None and rng.random() < 0.6:
                site.media_host = media.domain
        if gateway is not None:
            gateway.template = "gate"
            gateway.identifiers = Identifiers(analytics=[rng.choice(pool.analytics)])
            for site in rng.sample(storefronts, rng.randint(1, min(2, len(storefronts)))):
                site.gateway = gateway.domain
        if media is not None:
            media.template = "media"
        redirectors = [s for s in members if s.role == "redirector"]
        for site in redirectors:
            site.template = "redirect"
        for site in members:
            site.https = rng.random() < 0.85
        # A chain ends at a storefront; the first redirector of two goes through the second.
        if redirectors:
            target = rng.choice(storefronts)
            end = f"{'https' if target.https else 'http'}://{target.domain}/"
            chain = [end]
            for site in reversed(redirectors):
                code = rng.randbytes(3).hex()
                path = "/go/" + code if site is redirectors[0] else "/r/" + code
                url = f"{'https' if site.https else 'http'}://{site.domain}{path}"
                site.redirect_to = chain[0]
                chain.insert(0, url)
                site.redirect_chain = list(chain)
        shown = Identifiers(
            btc=sorted({a for s in members for a in s.identifiers.btc}),
            eth=sorted({a for s in members for a in s.identifiers.eth}),
            accounts=sorted({a for s in members for a in s.identifiers.accounts}),
            analytics=sorted({a for s in members for a in s.identifiers.analytics}),
            emails=sorted({a for s in members for a in s.identifiers.emails}),
        )
        self.networks.append(
            Network(
                id=nid,
                name=brand,
                sites=[s.id for s in members],
                templates=sorted(templates),
                identifiers=shown,
            )
        )

    def _storefront_identifiers(
        self, rng: random.Random, pool: Identifiers, previous: Identifiers | None
    ) -> Identifiers:
        picked: dict[str, list[str]] = {
            kind: [v for v in getattr(pool, kind) if rng.random() < 0.4]
            for kind in ("btc", "eth", "accounts", "analytics", "emails")
        }
        if previous is not None:
            # Share at least one identifier with the previous storefront: the network is
            # connected through its identifiers, though no single one is on every site.
            kind = rng.choice([k for k in picked if getattr(previous, k)])
            value = rng.choice(getattr(previous, kind))
            if value not in picked[kind]:
                picked[kind].append(value)
        if not picked["btc"] and not picked["eth"] and not picked["accounts"]:
            picked["btc"].append(rng.choice(pool.btc))
        if rng.random() < 0.5:  # an address of this site alone
            picked["btc"].append(self._btc(rng))
        if not picked["emails"]:
            picked["emails"].append(rng.choice(pool.emails))
        return Identifiers(**{k: sorted(v) for k, v in picked.items()})

    def _make_noise(self, rng: random.Random) -> None:
        site = self._site("noise", None)
        site.template = rng.choice(STOREFRONT_TEMPLATES)
        site.payment_page = rng.choice(("/join", "/pay"))
        site.lazy = rng.random() < 0.2
        site.https = rng.random() < 0.85
        accounts = []
        if rng.random() < 0.4:
            accounts.append(self._account(rng, rng.choice(self.psps), None))
        site.identifiers = Identifiers(
            btc=[self._btc(rng) for _ in range(rng.randint(1, 2))],
            eth=[eth_address(rng)] if rng.random() < 0.4 else [],
            accounts=accounts,
            analytics=[self._analytics(rng)] if rng.random() < 0.5 else [],
            emails=[
                f"{site.domain.split('.')[0]}{rng.randint(1, 99)}@{rng.choice(names.FREEMAIL)}"
            ],
        )

    # ------------------------------------------------------------------ hosting

    def _address(self, provider: Provider) -> str:
        if not provider.shared_addresses:
            return self.addresses[provider.id].next()
        # Shared hosting packs six sites on each address.
        pool = self.shared_pools.setdefault(provider.id, [])
        count = self.shared_counts.get(provider.id, 0)
        if count % 6 == 0:
            pool.append(self.addresses[provider.id].next())
        self.shared_counts[provider.id] = count + 1
        return pool[-1]

    def make_hosting(self) -> None:
        rng = self.rng("hosting")
        cdn = self.providers[0]
        hosts = self.providers[1:]
        big = self.providers[1]
        # Half the networks use the big shared host too: unrelated sites share their addresses.
        favourites = {
            n.id: ([big] if i % 2 == 0 else []) + rng.sample(hosts, min(2, len(hosts)))
            for i, n in enumerate(self.networks)
        }
        registrar_favourites = {
            n.id: rng.sample(self.registrars, min(2, len(self.registrars))) for n in self.networks
        }
        # Shuffled, so that sites of every kind end up side by side on shared addresses.
        for site in rng.sample(self.sites, len(self.sites)):
            if site.network is not None:
                provider = rng.choice(favourites[site.network])
                site.registrar = rng.choice(registrar_favourites[site.network]).id
                fronted = site.role in ("storefront", "gateway") and rng.random() < 0.35
            elif site.role == "unrelated":
                provider = big if rng.random() < 0.6 else rng.choice(hosts)
                site.registrar = rng.choice(self.registrars).id
                fronted = rng.random() < 0.25
            else:
                provider = rng.choice(hosts)
                site.registrar = rng.choice(self.registrars).id
                fronted = rng.random() < 0.2
            address = self._address(provider)
            if fronted:
                site.hosting = Hosting(
                    provider=provider.id,
                    address=address,
                    cdn=cdn.id,
                    cdn_address=self.cdn_edges[int(site.id[1:]) % len(self.cdn_edges)],
                    origin_leak=rng.choice((None, "mx", "spf")),
                )
            else:
                site.hosting = Hosting(provider=provider.id, address=address)

    def make_hops(self) -> None:
        rng = self.rng("hops")
        storefronts = [s for s in self.sites if s.role == "storefront"]
        hoppers = [s for s in storefronts if rng.random() < 0.12]
        if not hoppers and storefronts:
            hoppers = [rng.choice(storefronts)]
        hosts = self.providers[1:]
        for site in hoppers:
            at = self.spec.start
            domain = site.domain
            assert site.hosting is not None
            provider_id = site.hosting.provider
            for _ in range(rng.choice((1, 1, 2))):
                at += timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 23))
                domain = self.domains.successor(domain)
                provider = rng.choice([p for p in hosts if p.id != provider_id] or hosts)
                provider_id = provider.id
                site.hops.append(
                    Hop(
                        at=at,
                        domain=domain,
                        registrar=rng.choice(self.registrars).id,
                        hosting=Hosting(provider=provider.id, address=self._address(provider)),
                        old_domain=rng.choice(("redirect", "redirect", "gone")),
                    )
                )

    # ------------------------------------------------------------------ pictures

    def make_pictures(self) -> None:
        spec = self.spec
        rng = self.rng("pictures")
        total, known = spec.picture_count, spec.known_count
        altered = min(total - known, round(total * 0.2))
        unknown = total - known - altered
        carriers = [s for s in self.sites if s.role in ("storefront", "noise")]
        by_network: dict[str | None, list[_SitePlan]] = {}
        for site in carriers:
            by_network.setdefault(site.network, []).append(site)
        owners = sorted(by_network, key=lambda x: x or "")
        weights = [len(by_network[o]) for o in owners]
        owner_of: dict[str, str | None] = {}
        for i in range(known):
            pid = f"K{i + 1:05d}"
            self.pictures.append(Picture(id=pid, kind="known", format="jpeg", width=0, height=0))
            owner = rng.choices(owners, weights)[0]
            owner_of[pid] = owner
            group = by_network[owner]
            for site in rng.sample(group, min(len(group), rng.choice((1, 1, 2, 3)))):
                site.pictures.append(pid)
        known_ids = [p.id for p in self.pictures]
        for i in range(altered):
            pid = f"A{i + 1:05d}"
            of = rng.choice(known_ids)
            alteration = ALTERATIONS[i % len(ALTERATIONS)]
            params, altered_format = self._alteration_params(rng, alteration)
            self.pictures.append(
                Picture(
                    id=pid,
                    kind="altered",
                    of=of,
                    alteration=alteration,
                    params=params,
                    format=altered_format,
                    width=0,
                    height=0,
                )
            )
            rng.choice(by_network[owner_of[of]]).pictures.append(pid)
        showing = [
            s for s in self.sites if s.role in ("storefront", "noise", "unrelated", "gateway")
        ]
        unknown_ids = []
        for i in range(unknown):
            pid = f"U{i + 1:05d}"
            fmt: PictureFormat = "png" if rng.random() < 0.15 else "jpeg"
            self.pictures.append(Picture(id=pid, kind="unknown", format=fmt, width=0, height=0))
            unknown_ids.append(pid)
        # Every showing site gets at least one unknown picture, the rest go anywhere.
        rng.shuffle(showing)
        for i, pid in enumerate(unknown_ids):
            site = showing[i] if i < len(showing) else rng.choice(showing)
            site.pictures.append(pid)

    def _alteration_params(
        self, rng: random.Random, alteration: str
    ) -> tuple[dict[str, float | int | str], PictureFormat]:
        if alteration == "jpeg_quality":
            return {"quality": rng.choice((35, 45, 55, 65, 75))}, "jpeg"
        if alteration == "resize":
            return {"scale": rng.choice((0.5, 0.6, 0.75, 1.25, 1.5))}, "jpeg"
        if alteration == "png":
            return {}, "png"
        if alteration == "webp":
            return {"quality": rng.choice((60, 70, 80))}, "webp"
        if alteration == "blur":
            return {"radius": rng.choice((1.0, 1.5, 2.0))}, "jpeg"
        if alteration == "crop":
            return {"fraction": rng.choice((0.01, 0.02, 0.03))}, "jpeg"
        if alteration == "flip":
            return {"axis": rng.choice(("horizontal", "vertical"))}, "jpeg"
        if alteration == "rotate":
            return {"degrees": rng.choice((90, 180, 270))}, "jpeg"
        if alteration == "border":
            colour = "#" + rng.choice(("000000", "ffffff", "202020", "f0f0f0"))
            return {"width": rng.randint(3, 10), "colour": colour}, "jpeg"
        return {}, "jpeg"  # grey

    def _placements(self, site: _SitePlan) -> list[Placement]:
        rng = self.rng("placements", site.id)
        out: list[Placement] = []
        inline_left = rng.randint(1, 2) if site.inline else 0
        for i, pid in enumerate(site.pictures):
            page = "/" if i < PAGE_SIZE else f"/gallery/{i // PAGE_SIZE + 1}"
            embed: Embed = "img"
            if inline_left and pid[0] in "KA":
                embed = "data-uri"
                inline_left -= 1
            elif site.lazy and rng.random() < 0.7:
                embed = rng.choice(("data-src", "srcset", "css"))
            host = site.media_host if site.media_host and embed != "data-uri" else site.domain
            token = f"{derive(self.seed, 'path', pid, host):016x}"
            ext = EXTENSIONS[self.formats[pid]]
            path = (
                f"/{token[:2]}/{token[2:]}.{ext}"
                if host != site.domain
                else f"/media/{token}.{ext}"
            )
            out.append(Placement(picture=pid, page=page, host=host, path=path, embed=embed))
        return out

    # ------------------------------------------------------------------ test purchases

    def make_purchases(self) -> None:
        rng = self.rng("purchases")
        accounts = {f"{a.psp}:{a.account}": a for a in self.accounts}
        for site in self.sites:
            if site.role != "storefront" or not site.identifiers.accounts:
                continue
            if rng.random() >= 0.5:
                continue
            account = accounts[rng.choice(site.identifiers.accounts)]
            scheme = rng.choice(("visa", "mastercard"))
            when = self.spec.start - timedelta(
                days=rng.randint(1, 60), minutes=rng.randint(0, 1439)
            )
            self.purchases.append(
                TestPurchase(
                    id=f"T{len(self.purchases) + 1:04d}",
                    site=site.id,
                    date=when,
                    scheme=scheme,
                    merchant_descriptor=account.merchant_descriptor,
                    merchant_id=account.merchant_id,
                    acquirer_bin=f"{derive(self.seed, 'acquirer', account.psp) % 900000 + 100000}",
                    card_bin=rng.choice(CARD_BINS[scheme]),
                    mcc=account.mcc,
                    amount=f"{rng.choice((9, 19, 29, 49, 99))}.{rng.choice(('00', '95', '99'))}",
                    currency=rng.choice(CURRENCIES),
                    payment_provider=account.psp,
                    account=account.account,
                )
            )

    # ------------------------------------------------------------------ assembly

    def run(self) -> GroundTruth:
        self.make_organisations()
        self.make_sites()
        self.make_hosting()
        self.make_hops()
        self.make_pictures()
        self.formats = {p.id: p.format for p in self.pictures}
        self.make_purchases()
        rng = self.rng("registration")
        sites = []
        for plan in self.sites:
            assert plan.hosting is not None
            pages = ["/"] + [f"/gallery/{n}" for n in range(2, len(plan.pictures) // PAGE_SIZE + 2)]
            if len(plan.pictures) <= PAGE_SIZE:
                pages = ["/"]
            if plan.role in ("storefront", "noise", "unrelated"):
                pages.append("/about")
            if plan.payment_page:
                pages.append(plan.payment_page)
            if plan.role == "media" or plan.role == "redirector":
                pages = []
            sites.append(
                Site(
                    id=plan.id,
                    domain=plan.domain,
                    role=plan.role,
                    network=plan.network,
                    registrar=plan.registrar,
                    registered_at=self.spec.start - timedelta(days=rng.randint(30, 900)),
                    template=plan.template,
                    https=plan.https,
                    hosting=plan.hosting,
                    identifiers=plan.identifiers,
                    pages=pages,
                    payment_page=plan.payment_page,
                    gateway=plan.gateway,
                    media_host=plan.media_host,
                    redirect_to=plan.redirect_to,
                    redirect_chain=plan.redirect_chain,
                    pictures=self._placements(plan),
                    hops=plan.hops,
                )
            )
        return GroundTruth(
            spec=self.spec,
            blocks=self.blocks,
            providers=self.providers,
            registrars=self.registrars,
            payment_providers=self.psps,
            accounts=self.accounts,
            networks=self.networks,
            sites=sites,
            pictures=self.pictures,
            test_purchases=self.purchases,
        )
