"""What the world's web servers answer: site pages, pictures, redirects, errors, checkouts.

Routing follows a real server: the request's local address picks the server (an origin, a CDN
edge or a payment provider), the Host header picks the site on it. DNS state does not matter
here; a registrar hold stops resolution, not the server.
"""

from __future__ import annotations

import base64
import contextlib
import html
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit

from cordon.world.http import Request, Response
from cordon.world.model import GroundTruth, PaymentProvider, Picture, Placement, Site
from cordon.world.pictures import CONTENT_TYPES, render
from cordon.world.spec import derive
from cordon.world.state import Vhost, WorldState

# A 1x1 transparent GIF: the placeholder lazy-loading pages show before their script runs.
BLANK_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
EDGE_SERVER = "edgeshield"


class PictureStore:
    """Picture bytes drawn on first request and kept in memory (least recently used first out)."""

    def __init__(self, truth: GroundTruth, budget_bytes: int = 512 * 1024 * 1024) -> None:
        self._truth = truth
        self._budget = budget_bytes
        self._size = 0
        self._cache: OrderedDict[str, bytes] = OrderedDict()

    def get(self, picture: Picture) -> bytes:
        """The exact bytes of ``picture``."""
        data = self._cache.get(picture.id)
        if data is not None:
            self._cache.move_to_end(picture.id)
            return data
        original = self._truth.picture(picture.of) if picture.of else None
        data = render(self._truth.spec.seed, picture, original)
        self._cache[picture.id] = data
        self._size += len(data)
        while self._size > self._budget and len(self._cache) > 1:
            _, dropped = self._cache.popitem(last=False)
            self._size -= len(dropped)
        return data


@dataclass(frozen=True)
class Ports:
    """The ports the world's web servers listen on."""

    http: int
    https: int


class SiteServer:
    """Answers HTTP(S) requests on every site, edge and payment-provider address."""

    def __init__(self, state: WorldState, pictures: PictureStore, ports: Ports) -> None:
        self.state = state
        self.truth = state.truth
        self.pictures = pictures
        self.ports = ports
        self._media: dict[tuple[str, str], Placement] = {}
        for site in self.truth.sites:
            for placement in site.pictures:
                if placement.embed != "data-uri":
                    self._media[(placement.host, placement.path)] = placement
        self._psp_hosts: dict[str, PaymentProvider] = {}
        for psp in self.truth.payment_providers:
            self._psp_hosts[psp.checkout_host] = psp
            self._psp_hosts[psp.domain] = psp
        # Caches of what stays the same until the world changes (state.version moves on).
        self._pages: dict[tuple[str, str, bool, bool], Response] = {}
        self._server_headers: dict[tuple[str, bool], list[tuple[str, str]]] = {}
        self._picture_headers: dict[tuple[str, bool, str], list[tuple[str, str]]] = {}
        self._pages_version = -1
        self._default_server: dict[str, str] = {}

    # ------------------------------------------------------------------ urls

    def url(self, domain: str, path: str = "/", *, https: bool | None = None) -> str:
        """The URL of ``path`` on ``domain``, with the running world's ports."""
        if https is None:
            state = self.state.domains.get(domain)
            https = state.site.https if state is not None else True
        scheme = "https" if https else "http"
        port = self.ports.https if https else self.ports.http
        default = 443 if https else 80
        netloc = domain if port == default else f"{domain}:{port}"
        return f"{scheme}://{netloc}{path}"

    def rebase(self, canonical_url: str) -> str:
        """A ground-truth URL (default ports) with the running world's ports."""
        parts = urlsplit(canonical_url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.url(parts.hostname or "", path, https=parts.scheme == "https")

    # ------------------------------------------------------------------ entry

    def handle(self, request: Request) -> Response:
        """Answer one request."""
        self.state.tick()
        host = request.host
        self.state.requests[host] = self.state.requests.get(host, 0) + 1
        if request.method not in ("GET", "HEAD"):
            return self._plain(405, "Method Not Allowed", extra=[("Allow", "GET, HEAD")])
        psp = self._psp_hosts.get(host)
        if psp is not None and request.local_address == psp.address:
            return self._checkout(psp, request)
        local = request.local_address
        domain = self.state.domain_for(host)
        vhost = domain.vhost if domain is not None else None
        if domain is not None and vhost is None:
            # A hopped domain's old vhost lives in the site's list.
            vhost = next(
                (v for v in self.state.vhosts[domain.site.id] if v.domain == domain.name), None
            )
        if vhost is None:
            return self._default(local)
        if vhost.edge == local:
            if vhost.cdn_down:
                return self._edge_error(403, "This site has been suspended by the edge network.")
            if vhost.host_down:
                return self._edge_error(502, "The origin server could not be reached.")
            return self._serve(vhost, host, request, edge=True)
        if vhost.hosting.address == local and not vhost.host_down:
            return self._serve(vhost, host, request, edge=False)
        return self._default(local)

    def _server_header(self, vhost: Vhost, edge: bool) -> list[tuple[str, str]]:
        """The server's own headers (shared: callers copy before adding to them)."""
        if self._pages_version != self.state.version:
            self._forget()
        key = (vhost.domain, edge)
        headers = self._server_headers.get(key)
        if headers is None:
            headers = self._server_headers[key] = self._make_server_header(vhost, edge)
        return headers

    def _forget(self) -> None:
        """Drop everything cached for an earlier state of the world."""
        self._pages.clear()
        self._server_headers.clear()
        self._picture_headers.clear()
        self._pages_version = self.state.version

    def _make_server_header(self, vhost: Vhost, edge: bool) -> list[tuple[str, str]]:
        if edge:
            ray = f"{derive(self.truth.spec.seed, 'ray', vhost.domain, self.state.version):016x}"
            return [("Server", EDGE_SERVER), ("X-Edge-Cache", "HIT"), ("X-Edge-Ray", ray)]
        return [("Server", self.state.providers[vhost.hosting.provider].server_header)]

    def _default(self, local: str) -> Response:
        """What a server answers for a name it does not host: its default 404 page."""
        server = self._default_server.get(local)
        if server is None:
            server = "nginx"
            with contextlib.suppress(KeyError):
                holder = self.truth.block_of(local).holder
                if holder in self.state.providers:
                    server = self.state.providers[holder].server_header
            self._default_server[local] = server
        body = (
            "<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found"
            f"</h1></center><hr><center>{server}</center></body></html>\n"
        )
        return Response(404, body.encode(), [("Server", server)])

    def _edge_error(self, status: int, message: str) -> Response:
        body = f"<html><head><title>{status}</title></head><body><h1>Error {status}</h1><p>{message}</p><p>{EDGE_SERVER}</p></body></html>\n"  # noqa: E501
        return Response(status, body.encode(), [("Server", EDGE_SERVER)])

    def _plain(
        self, status: int, text: str, extra: list[tuple[str, str]] | None = None
    ) -> Response:
        return Response(status, f"<h1>{status} {html.escape(text)}</h1>\n".encode(), extra or [])

    # ------------------------------------------------------------------ sites

    def _serve(self, vhost: Vhost, host: str, request: Request, *, edge: bool) -> Response:
        site = vhost.site
        headers = self._server_header(vhost, edge)  # also drops caches of an earlier state
        path = request.path
        if vhost.mode == "redirect":
            target = self.url(self.state.current(site).domain, request.target)
            return Response(301, b"", [*headers, ("Location", target)], content_type=None)
        if site.https and not request.tls:
            return Response(
                301,
                b"",
                [*headers, ("Location", self.url(host, request.target))],
                content_type=None,
            )
        placement = self._media.get((vhost.domain, path)) or self._media.get((site.domain, path))
        if placement is not None:
            return self._picture(placement, vhost.domain, edge, headers)
        if path == "/static/blank.gif":
            return Response(
                200,
                BLANK_GIF,
                [*headers, ("Cache-Control", "max-age=86400")],
                content_type="image/gif",
            )
        if path == "/robots.txt":
            return Response(200, b"User-agent: *\nAllow: /\n", headers, content_type="text/plain")
        if site.role == "redirector":
            if path == "/" or path.startswith(("/go/", "/r/")):
                target = self.rebase(site.redirect_to or "/")
                status = 302 if path.startswith("/go/") or path == "/" else 301
                return Response(status, b"", [*headers, ("Location", target)], content_type=None)
            return self._not_found(headers)
        if site.role == "media":
            if path == "/":
                return Response(403, b"<h1>403 Forbidden</h1>\n", headers)
            return self._not_found(headers)
        if path not in site.pages:
            return self._not_found(headers)
        gated = site.payment_page == path and site.gateway is not None
        allowed = gated and self._from_gateway(site, request)
        key = (vhost.domain, path, allowed, edge)
        cached = self._pages.get(key)
        if cached is None:
            body = self._page(site, vhost.domain, path, hide_payments=gated and not allowed)
            extra = [("Cache-Control", "no-store")] if gated else [("Cache-Control", "max-age=300")]
            if gated:
                extra.append(("Vary", "Referer"))
            cached = Response(200, body.encode("utf-8"), [*headers, *extra])
            self._pages[key] = cached
        return cached

    def _not_found(self, headers: list[tuple[str, str]]) -> Response:
        return Response(404, b"<h1>404 Not Found</h1>\n", headers)

    def _from_gateway(self, site: Site, request: Request) -> bool:
        referer = request.headers.get("referer", "")
        host = (urlsplit(referer).hostname or "").lower().removeprefix("www.")
        gateway = self.state.domains.get(site.gateway or "")
        if gateway is None or not host:
            return False
        return host in {v.domain for v in self.state.vhosts[gateway.site.id]}

    def _picture(
        self, placement: Placement, domain: str, edge: bool, headers: list[tuple[str, str]]
    ) -> Response:
        picture = self.truth.picture(placement.picture)
        data = self.pictures.get(picture)
        key = (domain, edge, picture.id)
        extra = self._picture_headers.get(key)
        if extra is None:
            etag = f'"{derive(self.truth.spec.seed, "etag", picture.id):016x}"'
            extra = [
                *headers,
                ("ETag", etag),
                ("Cache-Control", "max-age=604800"),
                ("Accept-Ranges", "none"),
            ]
            self._picture_headers[key] = extra
        # The header list is shared between responses, which are never changed once made.
        return Response(200, data, extra, content_type=CONTENT_TYPES[picture.format])

    # ------------------------------------------------------------------ pages

    def _picture_url(self, site: Site, placement: Placement, own_domain: str) -> str:
        if placement.host == site.domain:
            return placement.path
        return self.url(self.state.current(self.state.site(placement.host)).domain, placement.path)

    def _embed(self, site: Site, placement: Placement, own_domain: str, cls: str) -> str:
        picture = self.truth.picture(placement.picture)
        if placement.embed == "data-uri":
            data = base64.b64encode(self.pictures.get(picture)).decode("ascii")
            return f'<img class="{cls}" src="data:{CONTENT_TYPES[picture.format]};base64,{data}" alt="">'  # noqa: E501
        src = html.escape(self._picture_url(site, placement, own_domain))
        size = f'width="{picture.width}" height="{picture.height}"'
        if placement.embed == "img":
            return f'<img class="{cls}" src="{src}" {size} alt="">'
        if placement.embed == "srcset":
            return f'<img class="{cls}" src="/static/blank.gif" srcset="{src} 1x" {size} alt="">'
        if placement.embed == "data-src":
            return (
                f'<img class="{cls} lazy" src="/static/blank.gif" data-src="{src}" {size} alt="">'
            )
        return f'<div class="{cls} bg" style="background-image:url(\'{src}\')"></div>'

    def _page(self, site: Site, own_domain: str, path: str, *, hide_payments: bool) -> str:
        theme = _THEMES.get(site.template, _THEMES["grid"])
        title = html.escape(_title(site))
        nav = "".join(
            f'<a href="{html.escape(p)}">{html.escape(_label(p, site))}</a>' for p in site.pages
        )
        parts = [
            "<!DOCTYPE html>",
            f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title>',
            f'<meta name="viewport" content="width=device-width"><style>{theme.css}</style>',
        ]
        for tracker in site.identifiers.analytics:
            parts.append(
                f'<script async src="https://metrics.test/t.js" data-site="{tracker}"></script>'
            )
        parts.append(f'</head><body class="{theme.body}"><header><h1>{title}</h1>')
        parts.append(f'<nav class="{theme.nav}">{nav}</nav></header><main>')
        if site.role == "gateway":
            parts.append(self._gateway_links(site))
        if path == site.payment_page:
            parts.append(self._payments(site, hide=hide_payments))
        elif path == "/about":
            parts.append("<section><h2>About</h2><p>Write to us any time.</p></section>")
        shown = [p for p in site.pictures if p.page == path]
        if shown:
            parts.append(f'<section class="{theme.gallery}">')
            parts.extend(self._embed(site, p, own_domain, theme.item) for p in shown)
            parts.append("</section>")
        parts.append('</main><footer class="foot">')
        for email in site.identifiers.emails:
            parts.append(f'<p>Contact: <a href="mailto:{email}">{email}</a></p>')
        parts.append("</footer>")
        if any(p.embed == "data-src" for p in shown):
            parts.append(
                "<script>document.querySelectorAll('img.lazy').forEach(function(i)"
                "{i.src=i.dataset.src;});</script>"
            )
        parts.append("</body></html>\n")
        return "\n".join(parts)

    def _gateway_links(self, site: Site) -> str:
        links = []
        for member_id in self.truth.network(site.network or "").sites if site.network else []:
            member = self.truth.site(member_id)
            if member.role == "storefront" and member.payment_page:
                domain = self.state.current(member).domain
                links.append(
                    f'<li><a href="{html.escape(self.url(domain, member.payment_page))}">'
                    "Enter</a></li>"
                )
        return f'<section class="gate"><h2>Members</h2><ul>{"".join(links)}</ul></section>'

    def _payments(self, site: Site, *, hide: bool) -> str:
        if hide:
            return (
                '<section class="pay"><h2>Access</h2><p>Please enter through our members '
                "portal.</p></section>"
            )
        rows = []
        for address in site.identifiers.btc:
            rows.append(
                f'<li>Bitcoin: <a href="bitcoin:{address}?amount=0.0025">'
                f"<code>{address}</code></a></li>"
            )
        for address in site.identifiers.eth:
            rows.append(f"<li>Ethereum: <code>{address}</code></li>")
        for ref in site.identifiers.accounts:
            psp_id, account = ref.split(":", 1)
            psp = self.truth.payment_provider(psp_id)
            href = self.url(
                psp.checkout_host, psp.checkout_path.format(account=account) + "?plan=vip"
            )
            rows.append(f'<li><a class="buy" href="{html.escape(href)}">Pay by card</a></li>')
        return f'<section class="pay"><h2>Membership</h2><ul>{"".join(rows)}</ul></section>'

    # ------------------------------------------------------------------ payment providers

    def _checkout(self, psp: PaymentProvider, request: Request) -> Response:
        headers = [("Server", "nginx")]
        prefix, _, suffix = psp.checkout_path.partition("{account}")
        path = request.path
        if (
            request.headers.get("host", "").split(":")[0].lower() != psp.checkout_host
            and path == "/"
        ):
            return Response(
                200,
                f"<h1>{html.escape(psp.name)}</h1><p>Payments for merchants.</p>\n".encode(),
                headers,
            )
        if not path.startswith(prefix) or not path.endswith(suffix) or len(path) <= len(prefix):
            return self._not_found(headers)
        account = path[len(prefix) : len(path) - len(suffix) or None]
        ref = f"{psp.id}:{account}"
        merchant = self.state.accounts.get(ref)
        if merchant is None:
            return self._not_found(headers)
        if ref in self.state.accounts_closed:
            return Response(410, b"<h1>This merchant account has been closed.</h1>\n", headers)
        body = (
            f"<!DOCTYPE html><html><head><title>{html.escape(psp.name)} checkout</title></head>"
            f"<body><h1>{html.escape(psp.name)}</h1><p>You are paying "
            f'<strong class="descriptor">{html.escape(merchant.merchant_descriptor)}</strong>'
            f'</p><form method="post"><input name="card"><button>Pay</button></form>'
            f"</body></html>\n"
        )
        return Response(200, body.encode(), [*headers, ("Cache-Control", "no-store")])


@dataclass(frozen=True)
class _Theme:
    css: str
    body: str
    nav: str
    gallery: str
    item: str


_THEMES = {
    "grid": _Theme("body{font-family:sans-serif}.g{display:grid}", "g-body", "g-nav", "g", "g-i"),
    "tiles": _Theme(
        "body{background:#111;color:#eee}.tl{display:flex}", "dark", "menu", "tl", "tile"
    ),
    "magazine": _Theme(
        "body{font-family:serif}.mg article{margin:1em}", "mag", "top", "mg", "story"
    ),
    "minimal": _Theme("body{max-width:40em;margin:auto}", "min", "links", "list", "pic"),
    "cards": _Theme(
        ".cards{display:grid;gap:8px}.card{border:1px solid}", "c", "bar", "cards", "card"
    ),
    "masonry": _Theme(".mas{columns:3}.brick{break-inside:avoid}", "m", "nv", "mas", "brick"),
    "gate": _Theme("body{text-align:center}", "gate", "gnav", "banner", "hero"),
    "blog": _Theme("body{font-family:Georgia}", "blog", "posts", "post", "figure"),
    "club": _Theme("body{background:#eef}", "club", "menu", "events", "photo"),
    "portfolio": _Theme(".work{display:flex}", "pf", "nav", "work", "shot"),
}


def _title(site: Site) -> str:
    label = site.domain.removesuffix(".test").rstrip("0123456789").replace("-", " ")
    return label.title()


def _label(path: str, site: Site) -> str:
    if path == "/":
        return "Home"
    if path == site.payment_page:
        return path.strip("/").title()
    return path.strip("/").replace("/", " ").title()
