"""Benchmark IP attribution: Cordon's lookup path against maxminddb read directly.

It attributes 100,000 distinct addresses (ASN, AS organisation, prefix and country) and prints
lookups per second for:

- ``maxminddb raw``: ``Reader.get`` on the ASN database and on the country database, nothing
  else (the reference: the least work that answers the same question);
- ``cordon``: ``IpDatabases.lookup`` (both databases, decoded into an ``IpRecord``, failures
  checked), the path every attribution takes;
- ``cordon + prefix``: the same with the prefix written out as text, as a stored attribution
  does;

with the ratio of Cordon to raw (target: at least 0.5×). Each path runs ``--repeats`` times,
interleaved, and the best run counts. By default the databases are generated (GeoLite2-ASN and
GeoLite2-Country layouts, ``--networks`` networks of /16 to /24 across the IPv4 space); give
``--asn`` and ``--country`` to measure real files instead (addresses are then drawn at random).

    python benchmarks/bench_attribution.py [--addresses 100000] [--networks 20000] [--repeats 5]
    python benchmarks/bench_attribution.py --asn GeoLite2-ASN.mmdb --country GeoLite2-Country.mmdb
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import maxminddb
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from cordon.attribution.ipdb import IpDatabases
from cordon.config import IpdbSettings

TARGET_RATIO = 0.5
COUNTRIES = ("NL", "DE", "US", "SE", "FR", "GB", "RO", "MD", "PA", "SC", "BG", "LT", "CA", "CH")


def _networks(count: int, rng: random.Random) -> list[ipaddress.IPv4Network]:
    """Distinct, non-overlapping networks of /16 to /24 in public-looking IPv4 space."""
    taken: set[int] = set()  # /16 blocks used
    out: list[ipaddress.IPv4Network] = []
    while len(out) < count:
        first = rng.randint(1, 223)
        if first in (10, 127):
            continue
        block = (first << 8) | rng.randint(0, 255)
        prefix = rng.choice((16, 20, 22, 24, 24, 24))
        if prefix == 16:
            if block in taken:
                continue
            taken.add(block)
            out.append(ipaddress.IPv4Network((block << 16, 16)))
            continue
        if block in taken:
            continue
        # Several smaller networks share one /16 that no /16 network takes.
        taken.add(block)
        step = 1 << (32 - prefix)
        for start in range(block << 16, (block + 1) << 16, step * 7):
            out.append(ipaddress.IPv4Network((start, prefix)))
            if len(out) >= count:
                break
    return out


def _write(
    path: Path, kind: str, records: list[tuple[ipaddress.IPv4Network, dict[str, object]]]
) -> None:
    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type=kind,
        languages=["en"],
        description="Cordon benchmark",
    )
    for net, record in records:
        writer.insert_network(IPSet([str(net)]), record)
    writer.to_db_file(str(path))


def generate(
    folder: Path, count: int, rng: random.Random
) -> tuple[Path, Path, list[ipaddress.IPv4Network]]:
    nets = _networks(count, rng)
    asn_records: list[tuple[ipaddress.IPv4Network, dict[str, object]]] = []
    country_records: list[tuple[ipaddress.IPv4Network, dict[str, object]]] = []
    for net in nets:
        asn = rng.randint(1, 400_000)
        asn_records.append(
            (
                net,
                {
                    "autonomous_system_number": asn,
                    "autonomous_system_organization": f"Network {asn} Ltd",
                },
            )
        )
        code = rng.choice(COUNTRIES)
        country_records.append(
            (
                net,
                {
                    "country": {"iso_code": code, "names": {"en": code}},
                    "registered_country": {"iso_code": code, "names": {"en": code}},
                },
            )
        )
    asn_path, country_path = folder / "asn.mmdb", folder / "country.mmdb"
    _write(asn_path, "GeoLite2-ASN", asn_records)
    _write(country_path, "GeoLite2-Country", country_records)
    return asn_path, country_path, nets


def addresses_in(nets: list[ipaddress.IPv4Network], count: int, rng: random.Random) -> list[str]:
    """``count`` distinct addresses, nine in ten inside the networks, one in ten anywhere."""
    out: set[str] = set()
    while len(out) < count:
        if rng.random() < 0.9:
            net = rng.choice(nets)
            out.add(str(net.network_address + rng.randrange(net.num_addresses)))
        else:
            out.add(str(ipaddress.IPv4Address(rng.getrandbits(32))))
    result = sorted(out)
    rng.shuffle(result)
    return result


def best_of(repeats: int, runs: dict[str, Callable[[], None]]) -> dict[str, float]:
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=100_000)
    parser.add_argument("--networks", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--asn", type=Path, help="a real ASN database to measure")
    parser.add_argument("--country", type=Path, help="a real country database to measure")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="cordon-bench-") as tmp:
        if args.asn and args.country:
            asn_path, country_path = args.asn, args.country
            addresses = sorted(
                {str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(args.addresses * 2)}
            )[: args.addresses]
            rng.shuffle(addresses)
            source = f"{asn_path} and {country_path}"
        else:
            started = time.perf_counter()
            asn_path, country_path, nets = generate(Path(tmp), args.networks, rng)
            addresses = addresses_in(nets, args.addresses, rng)
            source = f"generated: {len(nets):,} networks ({time.perf_counter() - started:.1f} s)"
        raw_asn = maxminddb.open_database(str(asn_path), maxminddb.MODE_AUTO)
        raw_country = maxminddb.open_database(str(country_path), maxminddb.MODE_AUTO)
        dbs = IpDatabases(IpdbSettings(asn_database=asn_path, country_database=country_path))
        lookup = dbs.lookup
        found = sum(1 for a in addresses if lookup(a)[0].asn is not None)

        def raw() -> None:
            get_asn, get_country = raw_asn.get, raw_country.get
            for a in addresses:
                get_asn(a)
                get_country(a)

        def cordon() -> None:
            for a in addresses:
                lookup(a)

        def cordon_prefix() -> None:
            for a in addresses:
                _ = lookup(a)[0].prefix

        best = best_of(
            args.repeats, {"maxminddb raw": raw, "cordon": cordon, "cordon + prefix": cordon_prefix}
        )
        dbs.close()
        raw_asn.close()
        raw_country.close()
    n = len(addresses)
    print(f"databases: {source}; reader mode: {type(raw_asn).__module__}")
    print(f"{n:,} distinct addresses, {found:,} inside a network; best of {args.repeats} runs")
    for name, seconds in best.items():
        print(f"  {name:<16} {n / seconds:>12,.0f} lookups/s  ({seconds * 1e6 / n:.2f} µs each)")
    ratio = best["maxminddb raw"] / best["cordon"]
    ratio_prefix = best["maxminddb raw"] / best["cordon + prefix"]
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(
        f"cordon / raw: {ratio:.2f}× ({verdict} the {TARGET_RATIO}× target); "
        f"with the prefix as text: {ratio_prefix:.2f}×"
    )


if __name__ == "__main__":
    main()
