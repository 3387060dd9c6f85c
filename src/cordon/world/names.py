"""Word lists for the world's made-up names. Every name ends in the reserved `.test` TLD."""

from __future__ import annotations

import random
import re

ADJECTIVES = (
    "amber",
    "azure",
    "brisk",
    "calm",
    "cedar",
    "copper",
    "coral",
    "crisp",
    "dapper",
    "dusky",
    "early",
    "eager",
    "fable",
    "fern",
    "gentle",
    "golden",
    "granite",
    "hazel",
    "humble",
    "indigo",
    "ivory",
    "jolly",
    "keen",
    "lively",
    "lunar",
    "maple",
    "mellow",
    "misty",
    "noble",
    "nimble",
    "olive",
    "opal",
    "pale",
    "plucky",
    "quiet",
    "rapid",
    "rustic",
    "sable",
    "silver",
    "snowy",
    "sunny",
    "tidy",
    "topaz",
    "umber",
    "velvet",
    "vivid",
    "warm",
    "willow",
    "young",
    "zesty",
)
NOUNS = (
    "anchor",
    "arbor",
    "badger",
    "beacon",
    "birch",
    "bramble",
    "brook",
    "canyon",
    "comet",
    "cove",
    "crane",
    "dune",
    "ember",
    "falcon",
    "fjord",
    "garden",
    "glade",
    "harbor",
    "heron",
    "island",
    "juniper",
    "kettle",
    "lagoon",
    "lantern",
    "meadow",
    "mesa",
    "nectar",
    "orchid",
    "otter",
    "pebble",
    "pixel",
    "prairie",
    "quarry",
    "quill",
    "raven",
    "reef",
    "ridge",
    "river",
    "saddle",
    "spruce",
    "summit",
    "thicket",
    "timber",
    "tundra",
    "valley",
    "vista",
    "walnut",
    "wharf",
    "yarrow",
    "zephyr",
)
COMPANY_WORDS = (
    "Northwind",
    "Bluefin",
    "Kestrel",
    "Larchmont",
    "Brightwater",
    "Ironbark",
    "Silverline",
    "Harborview",
    "Stonecrest",
    "Redwing",
    "Clearpath",
    "Fernhill",
    "Oakridge",
    "Moonrise",
    "Tallgrass",
    "Westbrook",
    "Cobalt Bay",
    "Driftwood",
    "Lowland",
    "Highmoor",
    "Blackthorn",
    "Greenvale",
    "Starling",
    "Palewind",
    "Sunmark",
    "Quarrystone",
    "Emberline",
    "Coldspring",
    "Marshgate",
    "Rookwood",
)
HOSTING_SUFFIXES = ("Hosting", "Cloud", "Networks", "Datacenter", "Servers", "Compute", "Web")
REGISTRAR_SUFFIXES = ("Names", "Domains", "Registry Services", "Registrar")
PSP_NAMES = (
    "Paylane",
    "Coinvault Pay",
    "Merchantly",
    "Swiftcharge",
    "Tallypay",
    "Brightpay",
    "Clearcoin",
    "Quickbill",
    "Ledgerline",
    "Pocketpay",
    "Vantapay",
    "Nimbus Checkout",
    "Orbitpay",
    "Kitepay",
    "Easelpay",
    "Harborpay",
    "Cinderpay",
    "Fennelpay",
    "Gildpay",
    "Juniper Pay",
)
BRAND_WORDS = (
    "Aurora",
    "Velvet",
    "Nova",
    "Orchid",
    "Prism",
    "Echo",
    "Halo",
    "Lumen",
    "Zenith",
    "Mirage",
    "Onyx",
    "Solace",
    "Tempest",
    "Vertex",
    "Cascade",
    "Ember",
    "Nimbus",
    "Quartz",
    "Sable",
    "Tidal",
    "Umbra",
    "Vesper",
    "Willow",
    "Zephyr",
    "Atlas",
    "Beacon",
    "Cinder",
    "Drift",
)
FREEMAIL = ("mailbox.test", "postbox.test", "inbox.test")
CITIES = ("AMSTERDAM", "BERLIN", "LONDON", "DUBLIN", "RIGA", "SOFIA", "TALLINN", "NICOSIA")


def slug(text: str) -> str:
    """Lower-case letters, digits and single hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class DomainNames:
    """Hands out unique `.test` domain names."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._taken: set[str] = set()

    def reserve(self, domain: str) -> str:
        """Claim ``domain``; raises ValueError if it is taken."""
        if domain in self._taken:
            raise ValueError(f"domain {domain} is taken")
        self._taken.add(domain)
        return domain

    def fresh(self) -> str:
        """A new random name such as ``amber-harbor42.test``."""
        while True:
            name = f"{self._rng.choice(ADJECTIVES)}-{self._rng.choice(NOUNS)}"
            if self._rng.random() < 0.6:
                name += str(self._rng.randint(2, 99))
            domain = f"{name}.test"
            if domain not in self._taken:
                return self.reserve(domain)

    def successor(self, domain: str) -> str:
        """The next name a domain hopper would register: the trailing number counts up."""
        label = domain.removesuffix(".test")
        match = re.fullmatch(r"(.*?)(\d+)", label)
        stem, number = (match.group(1), int(match.group(2))) if match else (label, 1)
        while True:
            number += 1
            candidate = f"{stem}{number}.test"
            if candidate not in self._taken:
                return self.reserve(candidate)
