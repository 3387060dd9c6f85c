"""The ground truth of a world: every fact the generator decided, as typed, frozen records.

``ground_truth.json`` is :class:`GroundTruth` serialised; tests and evaluations load it with
:func:`load_truth` and compare what Cordon found with what is true. URLs in the ground truth are
written as if the world served on ports 80 and 443; :meth:`cordon.world.WorldHandle.url` adds
the ports the running world really uses.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cordon.world.spec import WorldSpec

TRUTH_FORMAT = "cordon-world-truth/1"

DeskAction = Literal["first_notice", "after_notices", "after_delay", "never"]
SiteRole = Literal["storefront", "gateway", "media", "redirector", "noise", "unrelated"]
Embed = Literal["img", "srcset", "data-src", "css", "data-uri"]
PictureKind = Literal["known", "altered", "unknown"]
PictureFormat = Literal["jpeg", "png", "webp"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Desk(_Record):
    """How an abuse desk answers notices about one site (or account).

    ``first_notice``: acts when the first notice arrives. ``after_notices``: acts when the
    ``notices``-th notice naming the same site arrives. ``after_delay``: acts ``delay_seconds``
    of world time after the first notice. ``never``: keeps every notice and does nothing.
    """

    acts: DeskAction
    notices: int = Field(1, ge=1)
    delay_seconds: int = Field(0, ge=0)


class Block(_Record):
    """An address block and who holds it (a provider or a payment provider)."""

    id: str
    cidr: str
    holder: str
    asn: int
    country: str
    handle: str
    name: str


class Provider(_Record):
    """A hosting provider or a CDN (``kind="cdn"``: fronts sites hosted elsewhere)."""

    id: str
    name: str
    kind: Literal["hosting", "cdn"]
    asn: int
    countries: list[str]
    domain: str
    abuse_email: str
    blocks: list[str]
    shared_addresses: bool
    server_header: str
    nameservers: list[str]
    desk: Desk


class Registrar(_Record):
    """A domain registrar and its abuse contact."""

    id: str
    name: str
    iana_id: int
    domain: str
    abuse_email: str
    abuse_phone: str
    desk: Desk


class PaymentProvider(_Record):
    """A fictitious payment-service provider whose checkout pages the world serves."""

    id: str
    name: str
    domain: str
    checkout_host: str
    checkout_path: str = Field(description="Path with `{account}` where the account id goes.")
    abuse_email: str
    asn: int
    block: str
    address: str
    country: str
    desk: Desk

    @property
    def checkout_name(self) -> str:
        """The provider's name as Cordon's checkout-provider registry spells it."""
        return re.sub(r"[^a-z0-9_.-]+", "-", self.name.lower())


class MerchantAccount(_Record):
    """An account at a payment provider that a network uses to take payments."""

    psp: str
    account: str
    merchant_id: str
    merchant_descriptor: str
    mcc: str
    network: str | None


class Identifiers(_Record):
    """Identifiers a site shows on its pages (or a network's pool of them)."""

    btc: list[str] = Field(default_factory=list)
    eth: list[str] = Field(default_factory=list)
    accounts: list[str] = Field(
        default_factory=list, description="Merchant accounts, as `PSP-ID:ACCOUNT`."
    )
    analytics: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)

    def all(self) -> list[str]:
        """Every identifier, in a stable order."""
        return [*self.btc, *self.eth, *self.accounts, *self.analytics, *self.emails]


class Hosting(_Record):
    """Where a site's name points: its origin, and the CDN in front of it if any.

    ``origin_leak`` says which DNS record still shows the origin address of a CDN-fronted
    site (``mx``: the mail host, ``spf``: the SPF record), if any.
    """

    provider: str
    address: str
    cdn: str | None = None
    cdn_address: str | None = None
    origin_leak: Literal["mx", "spf"] | None = None


class Hop(_Record):
    """A scheduled move of a site to a new domain and provider.

    After the hop the old domain answers with a 301 to the new one (``old_domain="redirect"``)
    or stops resolving (``old_domain="gone"``).
    """

    at: datetime
    domain: str
    registrar: str
    hosting: Hosting
    old_domain: Literal["redirect", "gone"]


class Placement(_Record):
    """One picture shown on one page of a site: where it is fetched and how it is embedded."""

    picture: str
    page: str
    host: str = Field(description="Domain that serves the picture (the site or its media host).")
    path: str
    embed: Embed


class Site(_Record):
    """A web site of the world."""

    id: str
    domain: str
    role: SiteRole
    network: str | None
    registrar: str
    registered_at: datetime
    template: str
    https: bool
    hosting: Hosting
    identifiers: Identifiers
    pages: list[str]
    payment_page: str | None = Field(
        None, description="Path of the page showing payment details, if any."
    )
    gateway: str | None = Field(
        None, description="Domain whose pages must be the Referer for the payment page to show."
    )
    media_host: str | None = None
    redirect_to: str | None = Field(
        None, description="Where a redirector sends `/` and `/go/*` (the next URL in its chain)."
    )
    redirect_chain: list[str] = Field(
        default_factory=list, description="For a redirector: the whole chain it starts."
    )
    pictures: list[Placement] = Field(default_factory=list)
    hops: list[Hop] = Field(default_factory=list)

    def domains(self) -> list[str]:
        """Every domain the site has or will have, in order."""
        return [self.domain, *(h.domain for h in self.hops)]


class Picture(_Record):
    """A picture of the world: a known original, an altered copy of one, or an unknown one.

    ``pdq``, ``pdq_quality`` and the digests are computed at build on the exact bytes the world
    serves (``pdq`` on a full decode converted to RGB). ``pdq_distance`` is the Hamming distance
    of an altered copy's PDQ hash to its original's.
    """

    id: str
    kind: PictureKind
    of: str | None = None
    alteration: str | None = None
    params: dict[str, float | int | str] = Field(default_factory=dict)
    format: PictureFormat
    width: int
    height: int
    pdq: str | None = None
    pdq_quality: int | None = None
    pdq_distance: int | None = None
    md5: str | None = None
    sha256: str | None = None


class Network(_Record):
    """A network (brand): sites run by one operator, and the identifiers they draw from."""

    id: str
    name: str
    sites: list[str]
    templates: list[str]
    identifiers: Identifiers


class TestPurchase(_Record):
    """What a payment company's test purchase on a site recorded."""

    id: str
    site: str
    date: datetime
    scheme: str
    merchant_descriptor: str
    merchant_id: str
    acquirer_bin: str
    card_bin: str
    mcc: str
    amount: str
    currency: str
    payment_provider: str
    account: str


class GroundTruth(_Record):
    """Everything true about a world."""

    format: str = TRUTH_FORMAT
    spec: WorldSpec
    blocks: list[Block]
    providers: list[Provider]
    registrars: list[Registrar]
    payment_providers: list[PaymentProvider]
    accounts: list[MerchantAccount]
    networks: list[Network]
    sites: list[Site]
    pictures: list[Picture]
    test_purchases: list[TestPurchase]

    # Lookups. cached_property works on frozen models because it writes to __dict__ directly;
    # model_copy would carry a stale index along, hence with_pictures().
    @cached_property
    def site_index(self) -> dict[str, Site]:
        out: dict[str, Site] = {}
        for site in self.sites:
            out[site.id] = site
            for domain in site.domains():
                out[domain] = site
        return out

    @cached_property
    def picture_index(self) -> dict[str, Picture]:
        return {p.id: p for p in self.pictures}

    def site(self, key: str) -> Site:
        """The site with this id or (current or future) domain; KeyError if none."""
        found = self.site_index.get(key)
        return found if found is not None else self.site_index[key.lower().rstrip(".")]

    def picture(self, picture_id: str) -> Picture:
        """The picture with this id; KeyError if none."""
        return self.picture_index[picture_id]

    def provider(self, provider_id: str) -> Provider:
        """The hosting provider or CDN with this id; KeyError if none."""
        return next(p for p in self.providers if p.id == provider_id)

    def registrar(self, registrar_id: str) -> Registrar:
        """The registrar with this id; KeyError if none."""
        return next(r for r in self.registrars if r.id == registrar_id)

    def payment_provider(self, psp_id: str) -> PaymentProvider:
        """The payment provider with this id; KeyError if none."""
        return next(p for p in self.payment_providers if p.id == psp_id)

    def network(self, network_id: str) -> Network:
        """The network with this id; KeyError if none."""
        return next(n for n in self.networks if n.id == network_id)

    def block_of(self, address: str) -> Block:
        """The block holding ``address``; KeyError if none."""
        import ipaddress

        ip = ipaddress.ip_address(address)
        for block in self.blocks:
            if ip in ipaddress.ip_network(block.cidr):
                return block
        raise KeyError(address)

    def known(self) -> list[Picture]:
        """The pictures on the hash list."""
        return [p for p in self.pictures if p.kind == "known"]

    def with_pictures(self, pictures: list[Picture]) -> GroundTruth:
        """The same truth with ``pictures`` replaced (a new object with fresh lookups)."""
        fields = {name: getattr(self, name) for name in type(self).model_fields}
        return type(self)(**{**fields, "pictures": pictures})

    def to_json(self) -> str:
        """The canonical serialisation (stable key order, one trailing newline)."""
        return json.dumps(self.model_dump(mode="json"), indent=1, ensure_ascii=False) + "\n"


class TruthError(ValueError):
    """A ground-truth file is missing or invalid; the message names the file and the field."""


def load_truth(path: Path) -> GroundTruth:
    """Read and validate a ``ground_truth.json`` written by :func:`cordon.world.build_world`."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TruthError(f"cannot read ground truth {path}: {exc}") from exc
    try:
        return GroundTruth.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise TruthError(f"{path} is not a valid ground truth: {problems}") from exc
