"""Benchmark reading a page, on the synthetic world's own pages.

Renders every page of a small world in process (the world's own page code, no servers), then
prints, per page on one core:

* ``extract_page``: the crawler's whole read of a page (pictures, links, indicators, template
  fingerprint);
* ``html.parser``: the stdlib parse alone, inside that read.

    python benchmarks/bench_page.py [--sites 100] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from cordon.crawl import extract
from cordon.world.generate import generate
from cordon.world.sites import PictureStore, Ports, SiteServer
from cordon.world.spec import WorldSpec
from cordon.world.state import WorldClock, WorldState


def world_pages(sites: int) -> list[tuple[str, str]]:
    """(URL, HTML) of every page of every site of a world of ``sites`` sites."""
    spec = WorldSpec(seed=7, sites=sites)
    truth = generate(spec)
    state = WorldState(truth, WorldClock(spec.start))
    server = SiteServer(state, PictureStore(truth), Ports(80, 443))
    out = []
    for site in truth.sites:
        domain = state.current(site).domain
        for path in site.pages:
            html = server._page(site, domain, path, hide_payments=False)
            out.append((server.url(domain, path), html))
    return out


def per_item(work: Callable[[], object], count: int, repeats: int) -> float:
    """Median µs per item of ``work`` (which handles ``count`` items) over ``repeats`` runs."""
    work()
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        runs.append((time.perf_counter() - started) / count * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    pages = world_pages(args.sites)
    size = sum(len(html) for _, html in pages) / len(pages)
    print(f"{len(pages)} pages of a {args.sites}-site world, {size:,.0f} characters on average")

    def read() -> None:
        for url, html in pages:
            extract.extract_page(html, url)

    def parse_only() -> None:
        for _, html in pages:
            page = extract._PageParser()
            page.feed(html)
            page.close()

    read_us = per_item(read, len(pages), args.repeats)
    parse_us = per_item(parse_only, len(pages), args.repeats)
    print(f"extract_page   {read_us:8.1f} µs/page")
    print(f"  html.parser  {parse_us:8.1f} µs/page   ({parse_us / read_us:.0%} of it)")


if __name__ == "__main__":
    main()
