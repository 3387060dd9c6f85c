"""What the entity graph is made of, and how telling each kind of link is. Pure: no I/O.

Every edge joins a *site* (a registrable domain) to something it was seen with: an identifier, a
picture, an address, a host, or another site. How much an edge says about who runs the site is
its kind's *strength*:

* ``strong``: one shared node is enough to put two sites in one network. The node is under the
  operator's own control and names them: a wallet or merchant account, an analytics id, a contact
  e-mail, a messenger handle; and direct site-to-site links an operator sets up: a redirect to the
  other site, pictures served from the other site's host, payment details shown only to visitors
  referred by the other site.
* ``medium``: telling, but shared by unrelated sellers too: an exact picture or a match of
  the same hash-list entry (material circulates among sellers), a page template (sold as
  kits). By default they corroborate and explain but never join. With a ``medium_threshold``,
  two sites are linked when the weights of the medium nodes they share reach it, a medium node
  on more than ``medium_max_sites`` sites not counting (a kit or a widely spread picture, not a
  brand's mark).
* ``weak``: hosting and registration (address, AS, provider, CDN, registrar) and plain links.
  Shown in the graph, never used to join sites: a big host, a CDN edge address or a popular
  registrar is shared by thousands of unrelated sites.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class NodeKind(StrEnum):
    """Kinds of node; ``key`` is the normalised form named in each comment."""

    SITE = "site"  # registrable domain, lower case
    URL = "url"  # the normalised URL
    IP = "ip"  # the address as text
    ASN = "asn"  # the AS number as text
    PROVIDER = "provider"  # the hosting provider's name, lower case
    REGISTRAR = "registrar"  # IANA id when known ("iana:1234"), else the name lower case
    CDN = "cdn"  # the CDN's id
    MEDIA_PDQ = "media_pdq"  # 64 hex digits
    MEDIA_MD5 = "media_md5"  # 32 hex digits
    MEDIA_SHA256 = "media_sha256"  # 64 hex digits
    BANK_ENTRY = "bank_entry"  # the bank entry's id
    PAYMENT = "payment"  # payment_identifier.key (chain:address, provider:account, IBAN, ...)
    ANALYTICS = "analytics"  # service:id
    EMAIL = "email"  # the address, lower case
    MESSENGER = "messenger"  # service:handle
    TEMPLATE = "template"  # the template fingerprint


class Strength(StrEnum):
    STRONG = "strong"
    MEDIUM = "medium"
    WEAK = "weak"


@dataclass(frozen=True, slots=True)
class EdgeKind:
    """A kind of link from a site to a node of ``target`` kind."""

    name: str
    target: NodeKind
    strength: Strength
    weight: float
    why: str


_KINDS: Final[tuple[EdgeKind, ...]] = (
    EdgeKind("pays_to", NodeKind.PAYMENT, Strength.STRONG, 1.0, "the same payment identifier"),
    EdgeKind("tracks_with", NodeKind.ANALYTICS, Strength.STRONG, 1.0, "the same analytics id"),
    EdgeKind("contact_email", NodeKind.EMAIL, Strength.STRONG, 1.0, "the same contact e-mail"),
    EdgeKind(
        "contact_messenger", NodeKind.MESSENGER, Strength.STRONG, 1.0, "the same messenger handle"
    ),
    EdgeKind(
        "redirects_to", NodeKind.SITE, Strength.STRONG, 1.0, "one site redirects to the other"
    ),
    EdgeKind(
        "embeds_from", NodeKind.SITE, Strength.STRONG, 1.0, "pictures served from the other site"
    ),
    EdgeKind(
        "gated_by",
        NodeKind.SITE,
        Strength.STRONG,
        1.0,
        "payment details shown only to visitors referred by the other site",
    ),
    EdgeKind("shows_media", NodeKind.MEDIA_SHA256, Strength.MEDIUM, 0.34, "the same picture"),
    EdgeKind("shows_media_md5", NodeKind.MEDIA_MD5, Strength.WEAK, 0.0, "the same picture (MD5)"),
    EdgeKind("shows_media_pdq", NodeKind.MEDIA_PDQ, Strength.WEAK, 0.0, "a picture's PDQ hash"),
    EdgeKind("uses_template", NodeKind.TEMPLATE, Strength.MEDIUM, 0.34, "the same page template"),
    EdgeKind("has_url", NodeKind.URL, Strength.WEAK, 0.0, "a URL of the site"),
    EdgeKind("links_to", NodeKind.SITE, Strength.WEAK, 0.0, "a link to the other site"),
    EdgeKind("resolves_to", NodeKind.IP, Strength.WEAK, 0.0, "the same address"),
    EdgeKind("announced_by", NodeKind.ASN, Strength.WEAK, 0.0, "the same autonomous system"),
    EdgeKind("hosted_by", NodeKind.PROVIDER, Strength.WEAK, 0.0, "the same hosting provider"),
    EdgeKind("fronted_by", NodeKind.CDN, Strength.WEAK, 0.0, "the same CDN"),
    EdgeKind("registered_with", NodeKind.REGISTRAR, Strength.WEAK, 0.0, "the same registrar"),
    EdgeKind(
        "matches_entry",
        NodeKind.BANK_ENTRY,
        Strength.MEDIUM,
        0.34,
        "a picture matching the same hash-list entry",
    ),
)

#: Every edge kind, in code order.
ALL_EDGE_KINDS: Final[tuple[EdgeKind, ...]] = _KINDS

EDGE_KINDS: Final[dict[str, EdgeKind]] = {k.name: k for k in _KINDS}

#: Index of each edge kind in the arrays the clustering step reads (stable: append only).
EDGE_KIND_CODES: Final[dict[str, int]] = {k.name: i for i, k in enumerate(_KINDS)}

#: Edge kinds that join two sites directly.
SITE_TO_SITE: Final[frozenset[str]] = frozenset(k.name for k in _KINDS if k.target is NodeKind.SITE)

#: Capture indicator kinds and the edge each becomes (payment identifiers come from captures).
INDICATOR_EDGES: Final[dict[str, str]] = {
    "crypto_address": "pays_to",
    "checkout_account": "pays_to",
    "iban": "pays_to",
    "card_merchant": "pays_to",
    "analytics_id": "tracks_with",
    "email": "contact_email",
    "messenger": "contact_messenger",
}


@dataclass(frozen=True, slots=True)
class ClusterRule:
    """The rule that turns shared nodes into networks (see the module's docstring)."""

    #: Medium nodes shared by more sites than this are not counted.
    medium_max_sites: int = 20
    #: The sum of medium weights two sites must share to be linked by them alone; None (the
    #: default) lets medium nodes corroborate and explain but never join sites.
    medium_threshold: float | None = None
    #: A network has at least this many sites.
    min_sites: int = 2


def strength_of(edge_kind: str) -> Strength:
    """The strength of an edge kind; unknown kinds are weak (they never join sites)."""
    found = EDGE_KINDS.get(edge_kind)
    return found.strength if found else Strength.WEAK


def weight_of(edge_kind: str) -> float:
    """The weight of an edge kind (0 for unknown kinds)."""
    found = EDGE_KINDS.get(edge_kind)
    return found.weight if found else 0.0
