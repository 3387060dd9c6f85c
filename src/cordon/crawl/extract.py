"""What a page shows: its pictures, its links and its indicators.

Pure functions over the page's text; nothing here fetches or stores. Pictures are found wherever
a browser would load one: ``src``, ``srcset`` (also in ``<picture><source>``), the lazy-loading
attributes (``data-src``, ``data-srcset``, ``data-original``, ``data-lazy-src``), CSS
``url(…)`` in ``style`` attributes and ``<style>`` blocks, ``og:image``, ``poster`` and
``data:`` URIs. Indicators: payment identifiers (validated by
:func:`cordon.domain.payments.extract_payment_identifiers`, so no invalid one is ever returned),
analytics and tag ids, contact e-mails, messenger handles, outbound links, and a fingerprint of
the page's template.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Final
from urllib.parse import unquote_to_bytes, urljoin, urlsplit

from cordon.domain.payments import (
    DEFAULT_CHECKOUT_REGISTRY,
    BankAccount,
    CheckoutAccount,
    CheckoutRegistry,
    CryptoAddress,
    extract_payment_identifiers,
)
from cordon.domain.urls import InvalidUrl, NormalizedUrl, normalize_url

MAX_LINKS: Final = 500
MAX_INDICATORS_PER_KIND: Final = 200

# --------------------------------------------------------------------------- sniffing


def sniff_type(data: bytes) -> str:
    """What the bytes are by their first bytes (``jpeg``, ``png``, ``gif``, ``webp``, ``bmp``,
    ``avif``, ``heic``, ``tiff``, ``ico``, ``svg``, ``html``), else ``unknown``."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM":
        return "bmp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "avif"
        if brand in (b"heic", b"heix", b"mif1", b"msf1"):
            return "heic"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:4] == b"\x00\x00\x01\x00":
        return "ico"
    text = data[:512].lstrip().lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "svg"
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "html"
    return "unknown"


# --------------------------------------------------------------------------- data: URIs

_DATA_URI_RE: Final = re.compile(
    r"data:(?P<type>[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+)?"
    r"(?P<params>(?:;[A-Za-z0-9=._+-]*)*)"
    r",(?P<data>[^\"'\s)<>\\]*)",
    re.IGNORECASE,
)
_LONG_BASE64_RE: Final = re.compile(r"[A-Za-z0-9+/]{512,}={0,2}")


@dataclass(frozen=True, slots=True)
class DataUri:
    """A ``data:`` URI: its media type and decoded bytes (held only in memory)."""

    media_type: str
    data: bytes
    base64: bool


def parse_data_uri(uri: str) -> DataUri | None:
    """Decode a ``data:`` URI, or None when it is not one or does not decode."""
    match = _DATA_URI_RE.match(uri.strip())
    if match is None:
        return None
    media_type = (match.group("type") or "text/plain").lower()
    params = match.group("params") or ""
    payload = match.group("data") or ""
    is_base64 = params.lower().endswith(";base64")
    try:
        if is_base64:
            data = base64.b64decode(unquote_to_bytes(payload), validate=False)
        else:
            data = unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        return None
    return DataUri(media_type, data, is_base64)


def redact_inline_media(text: str) -> tuple[str, int]:
    """``text`` with every inline picture replaced by its hash; returns (text, replacements).

    Replaced: every base64 ``data:`` URI and every ``data:image/…`` URI, written back as
    ``data:<type>;sha256=<hex of the decoded bytes>``, and any bare base64 run of 512 or more
    characters, written as ``[picture sha256=<hex>]`` (or ``[base64 sha256=<hex>]`` when it is
    no picture). What remains is text only, fit to be kept as evidence.
    """
    count = 0

    def data_uri(match: re.Match[str]) -> str:
        nonlocal count
        media_type = (match.group("type") or "text/plain").lower()
        params = (match.group("params") or "").lower()
        if not params.endswith(";base64") and not media_type.startswith("image/"):
            return match.group(0)
        parsed = parse_data_uri(match.group(0))
        digest = hashlib.sha256(parsed.data if parsed else match.group(0).encode()).hexdigest()
        count += 1
        return f"data:{media_type};sha256={digest}"

    # Every data: URI holds "data:" in some case; lower() keeps that text as it is.
    out = _DATA_URI_RE.sub(data_uri, text) if "data:" in text.lower() else text

    def bare(match: re.Match[str]) -> str:
        # Any long base64 run goes, picture or not: a data URI broken by a line break leaves its
        # tail here, and no evidence needs kilobytes of base64.
        nonlocal count
        text = match.group(0)
        try:
            data = base64.b64decode(text[: len(text) - len(text) % 4] or "", validate=False)
        except (binascii.Error, ValueError):
            data = text.encode()
        count += 1
        kind = "picture" if sniff_type(data) not in ("unknown", "html") else "base64"
        return f"[{kind} sha256={hashlib.sha256(data).hexdigest()}]"

    out = _LONG_BASE64_RE.sub(bare, out)
    return out, count


# --------------------------------------------------------------------------- HTML


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A picture a page loads: its absolute URL (or ``data:`` URI) and how it is embedded."""

    url: str
    embed: str


@dataclass(frozen=True, slots=True)
class Indicator:
    """Something a page shows that ties it to an operator. ``key`` tells two apart."""

    kind: str
    key: str
    value: str
    detail: dict[str, Any] = field(default_factory=dict)
    identifier: CryptoAddress | BankAccount | CheckoutAccount | None = field(
        default=None, compare=False, repr=False
    )
    """The parsed payment identifier, for payment kinds."""


@dataclass(frozen=True)
class PageExtract:
    """Everything read from one page."""

    media: list[MediaRef]
    links: list[str]
    indicators: list[Indicator]
    template_fingerprint: str
    title: str | None

    def payment_keys(self) -> frozenset[str]:
        """Keys of the payment identifiers on the page."""
        return frozenset(
            i.key
            for i in self.indicators
            if i.kind in ("crypto_address", "checkout_account", "iban")
        )

    def media_urls(self) -> frozenset[str]:
        """The pictures' URLs (``data:`` URIs by their hash)."""
        return frozenset(media_key(m.url) for m in self.media)


def media_key(url: str) -> str:
    """How a picture reference is compared across fetches: its URL, or a data URI's hash."""
    if url.startswith("data:"):
        return "data:sha256=" + hashlib.sha256(url.encode()).hexdigest()
    return url


#: Elements that make a template's skeleton (the content between them varies page by page).
_SKELETON: Final = frozenset({"html", "body", "header", "nav", "main", "footer", "aside"})
_CSS_URL_RE: Final = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.IGNORECASE | re.DOTALL)
_LAZY_SRC: Final = ("data-src", "data-original", "data-lazy-src", "data-lazy", "data-url")
_LAZY_SRCSET: Final = ("data-srcset", "data-lazy-srcset")


def parse_srcset(value: str) -> list[str]:
    """The URLs of a ``srcset`` attribute (commas inside URLs are kept, as browsers do)."""
    out: list[str] = []
    for candidate in re.split(r",\s+|,(?=\S+\s+\d)", value.strip()):
        url = candidate.strip().split()[0] if candidate.strip() else ""
        if url:
            out.append(url.rstrip(","))
    return out


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.media: list[tuple[str, str]] = []
        self.links: list[str] = []
        self.mailtos: list[str] = []
        self.structure: set[str] = set()
        self.styles: list[str] = []
        self.title: str | None = None
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag in _SKELETON:
            classes = " ".join(sorted(a.get("class", "").split()))
            self.structure.add(f"{tag}.{classes}")
        if tag == "link" and "stylesheet" in a.get("rel", "").lower() and a.get("href"):
            self.structure.add("css:" + urlsplit(a["href"]).path)
        if tag == "script" and a.get("src"):
            self.structure.add("js:" + urlsplit(a["src"]).path)
        if tag in ("img", "source", "input", "image"):
            is_picture = tag != "input" or a.get("type", "").lower() == "image"
            if is_picture and a.get("src"):
                self.media.append((a["src"], "img"))
            if a.get("srcset"):
                self.media.extend((u, "srcset") for u in parse_srcset(a["srcset"]))
        for name in _LAZY_SRC:
            if a.get(name):
                self.media.append((a[name], "data-src"))
        for name in _LAZY_SRCSET:
            if a.get(name):
                self.media.extend((u, "data-src") for u in parse_srcset(a[name]))
        if a.get("background"):
            self.media.append((a["background"], "css"))
        if tag == "video" and a.get("poster"):
            self.media.append((a["poster"], "poster"))
        if (
            tag == "meta"
            and a.get("property", a.get("name", "")).lower()
            in (
                "og:image",
                "og:image:url",
                "twitter:image",
            )
            and a.get("content")
        ):
            self.media.append((a["content"], "meta"))
        if tag == "link" and "image_src" in a.get("rel", "").lower() and a.get("href"):
            self.media.append((a["href"], "link"))
        if a.get("style"):
            self.media.extend((u, "css") for u in _css_urls(a["style"]))
        if tag in ("a", "area") and a.get("href"):
            href = a["href"].strip()
            if href.lower().startswith("mailto:"):
                self.mailtos.append(href[7:].split("?")[0])
            else:
                self.links.append(href)
        if tag in ("style", "title"):
            self._in = tag

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._in = None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.styles.append(data)
            self.media.extend((u, "css") for u in _css_urls(data))
        elif self._in == "title" and self.title is None:
            self.title = " ".join(data.split())[:300]


def _css_urls(css: str) -> list[str]:
    return [m.group(2).strip() for m in _CSS_URL_RE.finditer(css) if m.group(2).strip()]


def _absolute(base: str, ref: str) -> str | None:
    ref = ref.strip()
    if ref.lower().startswith("data:"):
        return ref
    resolved = _resolve(base, ref)
    return None if resolved is None else resolved.url


def _resolve(base: str, ref: str) -> NormalizedUrl | None:
    """``ref`` (stripped, not a ``data:`` URI) read against ``base`` and normalised, or None
    when it is no http(s) URL."""
    if ref.lower().startswith(("javascript:", "about:", "blob:", "#", "mailto:", "tel:")):
        return None
    joined = urljoin(base, ref)
    if urlsplit(joined).scheme.lower() not in ("http", "https"):
        return None
    try:
        return normalize_url(joined)
    except InvalidUrl:
        return None


# --------------------------------------------------------------------------- indicators


@dataclass(frozen=True)
class AnalyticsPattern:
    """A named pattern for an analytics or tag id (group 1, or the whole match, is the id)."""

    name: str
    pattern: re.Pattern[str]
    needs: str = ""
    """Text every match contains, as written: a page without it is not searched."""


BUILTIN_ANALYTICS: Final[tuple[AnalyticsPattern, ...]] = (
    AnalyticsPattern("google_analytics", re.compile(r"\b(UA-\d{4,10}-\d{1,4})\b"), "UA-"),
    AnalyticsPattern("google_tag", re.compile(r"['\"/=](G-[A-Z0-9]{8,12})\b"), "G-"),
    AnalyticsPattern("google_tag_manager", re.compile(r"\b(GTM-[A-Z0-9]{5,8})\b"), "GTM-"),
    AnalyticsPattern("google_ads", re.compile(r"\b(AW-\d{9,11})\b"), "AW-"),
    AnalyticsPattern(
        "facebook_pixel",
        re.compile(r"fbq\(\s*['\"]init['\"]\s*,\s*['\"](\d{15,16})['\"]"),
        "fbq(",
    ),
    AnalyticsPattern(
        "yandex_metrika", re.compile(r"\bym\(\s*(\d{6,10})\s*,\s*['\"]init['\"]"), "ym("
    ),
    # The synthetic world's fictitious tracker, as the payment module ships fictitious providers.
    AnalyticsPattern("tally", re.compile(r"\b(TLY-\d{8})\b"), "TLY-"),
)


def analytics_patterns(extra: Sequence[str]) -> tuple[AnalyticsPattern, ...]:
    """The built-in patterns plus ``NAME=REGEX`` entries from the settings."""
    out = list(BUILTIN_ANALYTICS)
    for entry in extra:
        name, _, pattern = entry.partition("=")
        out.append(AnalyticsPattern(name.strip(), re.compile(pattern)))
    return tuple(out)


_EMAIL_RE: Final = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}"
    r"[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24})\b"
)
_NOT_EMAIL_TLDS: Final = frozenset({"png", "jpg", "jpeg", "gif", "webp", "svg", "css", "js"})

#: (service, pattern, how a handle is normalised, texts of which every match holds one in
#: lower case). The texts hold no "i", "k" or "s": a case-blind pattern also matches "İ", "ı",
#: the Kelvin sign and "ſ" for those, which ``str.lower`` does not turn into them.
_MESSENGERS: Final[
    tuple[tuple[str, re.Pattern[str], Callable[[str], str], tuple[str, ...]], ...]
] = (
    (
        "telegram",
        re.compile(
            r"(?:https?://)?(?:t\.me|telegram\.me|telegram\.dog)/(?!joinchat\b|s/|share\b|\+)"
            r"([A-Za-z][A-Za-z0-9_]{4,31})\b",
            re.IGNORECASE,
        ),
        str.lower,
        ("t.me/", "telegram.me/", "telegram.dog/"),
    ),
    (
        "telegram",
        re.compile(r"\b(?:telegram|tg)\s*[:\-]?\s*@([A-Za-z][A-Za-z0-9_]{4,31})\b", re.IGNORECASE),
        str.lower,
        ("telegram", "tg"),
    ),
    (
        "whatsapp",
        re.compile(r"(?:https?://)?wa\.me/\+?(\d{7,15})\b", re.IGNORECASE),
        str,
        ("wa.me/",),
    ),
    (
        "signal",
        re.compile(r"(?:https?://)?signal\.me/#p/(\+\d{7,15})\b", re.IGNORECASE),
        str,
        ("nal.me/#p/+",),
    ),
    ("session", re.compile(r"\b(05[0-9a-f]{64})\b"), str.lower, ("05",)),
    (
        "xmpp",
        re.compile(r"\bxmpp:([A-Za-z0-9._-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24})\b"),
        str.lower,
        ("xmpp:",),
    ),
)


def _payment_indicators(text: str, registry: CheckoutRegistry) -> list[Indicator]:
    out: list[Indicator] = []
    for found in extract_payment_identifiers(text, registry=registry):
        detail: dict[str, Any] = {"context": found.context[:300]}
        identifier = found.identifier
        if isinstance(identifier, CryptoAddress):
            detail["chain"] = str(identifier.chain)
            value = identifier.address
        elif isinstance(identifier, CheckoutAccount):
            detail["provider"] = identifier.provider
            detail["account_id"] = identifier.account_id
            detail["url"] = identifier.url
            value = identifier.url
        else:
            value = found.text
        out.append(Indicator(str(found.type.value), found.key, value, detail, identifier))
    return out


def _capped(items: Iterable[Indicator]) -> list[Indicator]:
    seen: set[tuple[str, str]] = set()
    per_kind: dict[str, int] = {}
    out: list[Indicator] = []
    for item in items:
        ident = (item.kind, item.key)
        if ident in seen or per_kind.get(item.kind, 0) >= MAX_INDICATORS_PER_KIND:
            continue
        seen.add(ident)
        per_kind[item.kind] = per_kind.get(item.kind, 0) + 1
        out.append(item)
    return out


def template_fingerprint(structure: Iterable[str], styles: Iterable[str]) -> str:
    """A fingerprint of a page's template: its inline CSS, the paths of its stylesheets and
    scripts, and the classes of its skeleton (``html``, ``body``, ``header``, ``nav``,
    ``main``, ``footer``, ``aside``), without text, links or content. Pages made from one
    template share it, across pages of a site and across sites."""
    digest = hashlib.sha256()
    for css in styles:
        digest.update(" ".join(css.split()).encode())
        digest.update(b"\x00")
    digest.update(b"\x01")
    for token in sorted(set(structure)):
        digest.update(token.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def extract_page(
    html_text: str,
    base_url: str,
    *,
    registry: CheckoutRegistry = DEFAULT_CHECKOUT_REGISTRY,
    patterns: Sequence[AnalyticsPattern] = BUILTIN_ANALYTICS,
) -> PageExtract:
    """Read a page: its pictures (absolute URLs and ``data:`` URIs, each once, in order), its
    links, its indicators and its template fingerprint. ``base_url`` is the page's final URL."""
    parser = _PageParser()
    try:
        parser.feed(html_text)
        parser.close()
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup
        pass
    base = base_url
    media: list[MediaRef] = []
    seen_media: set[str] = set()
    for ref, embed in parser.media:
        absolute = _absolute(base, ref)
        if absolute is None:
            continue
        key = media_key(absolute)
        if key in seen_media:
            continue
        seen_media.add(key)
        media.append(MediaRef(absolute, "data-uri" if absolute.startswith("data:") else embed))
    links: list[str] = []
    link_domains: dict[str, str] = {}
    for href in parser.links:
        href = href.strip()
        if href.lower().startswith("data:"):
            continue
        resolved = _resolve(base, href)
        if resolved is None or resolved.url in link_domains:
            continue
        # A normalised URL normalises to itself, so its domain is the one read here.
        link_domains[resolved.url] = resolved.registrable_domain
        links.append(resolved.url)
        if len(links) >= MAX_LINKS:
            break
    # Indicators are read from the text with inline pictures taken out: they are long, and a
    # base64 run could otherwise pass for an identifier.
    text, _ = redact_inline_media(html_text)
    indicators: list[Indicator] = _payment_indicators(text, registry)
    for pattern in patterns:
        if pattern.needs not in text:
            continue
        for match in pattern.pattern.finditer(text):
            value = match.group(1) if match.groups() else match.group(0)
            indicators.append(
                Indicator(
                    "analytics_id", f"{pattern.name}:{value}", value, {"service": pattern.name}
                )
            )
    found_emails = (m.group(1) for m in _EMAIL_RE.finditer(text)) if "@" in text else ()
    for address in [*parser.mailtos, *found_emails]:
        address = address.strip()
        if "@" not in address or address.rsplit(".", 1)[-1].lower() in _NOT_EMAIL_TLDS:
            continue
        indicators.append(Indicator("email", address.lower(), address, {}))
    lowered = text.lower()
    for service, messenger, norm, needs in _MESSENGERS:
        if not any(needed in lowered for needed in needs):
            continue
        for match in messenger.finditer(text):
            handle = norm(match.group(1))
            indicators.append(
                Indicator("messenger", f"{service}:{handle}", match.group(1), {"service": service})
            )
    page_domain = _registrable(base)
    for link in links:
        domain = link_domains[link]
        if domain and domain != page_domain:
            indicators.append(Indicator("outbound_link", link, link, {"domain": domain}))
    return PageExtract(
        media=media,
        links=links,
        indicators=_capped(indicators),
        template_fingerprint=template_fingerprint(parser.structure, parser.styles),
        title=parser.title,
    )


def _registrable(url: str) -> str | None:
    try:
        return normalize_url(url).registrable_domain
    except InvalidUrl:
        return None


def same_site(a: str, b: str) -> bool:
    """True when two URLs share a registrable domain."""
    first = _registrable(a)
    return first is not None and first == _registrable(b)
