"""``world.toml``: the Cordon configuration that points Cordon at a running world.

Cordon reads it with ``--config`` (or :func:`cordon.config.load_settings`). Paths in it are
relative to the file. It is rewritten every time the world is served, because the ports are
those of the running servers.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from cordon.world.ipdb import ASN_FILE, COUNTRY_FILE
from cordon.world.model import GroundTruth
from cordon.world.rdap import BOOTSTRAP_DIR
from cordon.world.tls import CA_FILE

CONFIG_FILE = "world.toml"
CDN_FILE = "cdn.json"


def _toml(value: object) -> str:
    # JSON strings, numbers, booleans and lists are valid TOML for the values written here.
    return json.dumps(value)


def world_config(
    truth: GroundTruth,
    *,
    dns: tuple[str, int],
    smtp: tuple[str, int],
    ports: tuple[int, int],
    clock: tuple[datetime, float],
) -> str:
    """The text of ``world.toml`` for a world listening on these addresses and ports."""
    extra_ports = sorted({p for p in ports if p not in (80, 443)})
    lines = [
        "# Cordon configuration for the synthetic world in this folder.",
        "# Written by `cordon world serve`; the ports are those of the running world.",
        "",
        "[dns]",
        f"resolvers = {_toml([f'{dns[0]}:{dns[1]}'])}",
        "",
        "[ipdb]",
        f"asn_database = {_toml(ASN_FILE)}",
        f"country_database = {_toml(COUNTRY_FILE)}",
        "",
        "[rdap]",
        f"bootstrap_dir = {_toml(BOOTSTRAP_DIR)}",
        "",
        "[smtp]",
        f"host = {_toml(smtp[0])}",
        f"port = {smtp[1]}",
        "starttls = false",
        "",
        "[crawl]",
        f"ca_files = {_toml([CA_FILE])}",
        f"allow_networks = {_toml(sorted(b.cidr for b in truth.blocks))}",
        f"extra_ports = {_toml(extra_ports)}",
    ]
    lines += ["", "[attribution]", f"cdn_files = {_toml([CDN_FILE])}"]
    for psp in truth.payment_providers:
        lines += [
            "",
            "[[payments.checkout_providers]]",
            f"name = {_toml(psp.checkout_name)}",
            f"hosts = {_toml([psp.checkout_host])}",
            f"path = {_toml(psp.checkout_path)}",
            'account_case = "preserve"',
            f"description = {_toml(f'{psp.name}, a payment-service provider of the world')}",
        ]
    now, speed = clock
    if speed > 0:
        lines += [
            "",
            "[clock]",
            'mode = "accelerated"',
            f"speed = {speed}",
            f"start = {now.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        ]
    return "\n".join(lines) + "\n"


def cdn_data(truth: GroundTruth) -> str:
    """The world's CDN as a Cordon CDN data file: the world's CDN is fictitious, so Cordon
    learns it the way an operator adds a CDN it does not ship (attribution.cdn_files)."""
    entries = [
        {
            "id": f"world-{p.id.lower()}",
            "name": p.name,
            "asns": [p.asn],
            "cname_suffixes": [f"cdn.{p.domain}"],
            "nameserver_suffixes": [p.domain],
            "headers": [{"name": "x-edge-ray"}],
        }
        for p in truth.providers
        if p.kind == "cdn"
    ]
    return json.dumps({"format": "cordon-cdn/1", "cdns": entries}, indent=1) + "\n"


def write_world_config(
    folder: Path,
    truth: GroundTruth,
    *,
    dns: tuple[str, int],
    smtp: tuple[str, int],
    ports: tuple[int, int],
    clock: tuple[datetime, float],
) -> Path:
    """Write ``world.toml`` (and the CDN data file it names) into ``folder``; return its path."""
    (folder / CDN_FILE).write_text(cdn_data(truth), "utf-8")
    path = folder / CONFIG_FILE
    path.write_text(world_config(truth, dns=dns, smtp=smtp, ports=ports, clock=clock), "utf-8")
    return path
