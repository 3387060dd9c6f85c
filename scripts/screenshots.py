"""Screenshots of a running demo for the README: the dashboard and the top network's graph.

Run `cordon demo` first, then, with a login it printed:

    .venv/bin/python scripts/screenshots.py --email analyst@hotline-nl.test --password ...

The pictures go to docs/images/. They show the console only: hashes, names and charts.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent.parent / "docs" / "images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = browser.new_page(base_url=args.base, viewport={"width": 1280, "height": 900})
        page.goto("/login")
        page.get_by_label("E-mail address").fill(args.email)
        page.get_by_label("Password").fill(args.password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r".*/$"))
        page.wait_for_timeout(1500)  # the charts animate in
        page.screenshot(path=str(OUT / "dashboard.png"), full_page=False)
        page.goto("/networks")
        hrefs = page.locator("a[href^='/networks/']").evaluate_all(
            "els => els.map(e => e.getAttribute('href'))"
        )
        top = next(h for h in hrefs if re.fullmatch(r"/networks/\d+", h))
        page.goto(top)
        page.wait_for_selector("#network-graph canvas", timeout=15000)
        page.wait_for_timeout(1500)  # the layout settles
        page.locator("#network-graph").screenshot(path=str(OUT / "network.png"))
        browser.close()
    print(f"wrote {OUT / 'dashboard.png'} and {OUT / 'network.png'}")


if __name__ == "__main__":
    main()
