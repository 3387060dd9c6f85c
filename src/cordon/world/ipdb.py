"""The world's IP databases in MaxMind DB format (GeoLite2-ASN and GeoLite2-Country layouts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pycountry
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from cordon.world.model import GroundTruth

ASN_FILE = "ipdb/world-asn.mmdb"
COUNTRY_FILE = "ipdb/world-country.mmdb"


class _Writer(MMDBWriter):
    """A writer whose build time is fixed, so the same world gives the same file."""

    def __init__(self, epoch: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._epoch = epoch

    def _build_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = super()._build_meta()
        meta["build_epoch"] = self._epoch
        return meta


def _country(code: str) -> dict[str, Any]:
    entry = pycountry.countries.get(alpha_2=code)
    name = entry.name if entry is not None else code
    return {"iso_code": code, "names": {"en": name}}


def write_ipdb(truth: GroundTruth, folder: Path) -> None:
    """Write ``ipdb/world-asn.mmdb`` and ``ipdb/world-country.mmdb`` for every block."""
    epoch = int(truth.spec.start.timestamp())
    (folder / ASN_FILE).parent.mkdir(parents=True, exist_ok=True)
    holders = {p.id: p.name for p in truth.providers}
    holders.update({s.id: s.name for s in truth.payment_providers})
    asn_db = _Writer(
        epoch,
        ip_version=6,
        ipv4_compatible=True,
        database_type="GeoLite2-ASN",
        languages=["en"],
        description="Cordon synthetic world: autonomous systems",
    )
    country_db = _Writer(
        epoch,
        ip_version=6,
        ipv4_compatible=True,
        database_type="GeoLite2-Country",
        languages=["en"],
        description="Cordon synthetic world: countries",
    )
    for block in truth.blocks:
        networks = IPSet([block.cidr])
        asn_db.insert_network(
            networks,
            {
                "autonomous_system_number": block.asn,
                "autonomous_system_organization": holders[block.holder],
            },
        )
        country = _country(block.country)
        country_db.insert_network(networks, {"country": country, "registered_country": country})
    asn_db.to_db_file(str(folder / ASN_FILE))
    country_db.to_db_file(str(folder / COUNTRY_FILE))
