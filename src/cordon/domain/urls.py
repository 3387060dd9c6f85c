"""URL normalisation for reports: one spelling per resource, split into its registrable domain.

Two reports of the same page must land on one URL record, so every reported URL is brought to
one canonical form (see docs/url-normalisation.md for the rules with examples):

* http and https only; scheme and host in lower case; default ports dropped;
* host in IDNA ASCII form (UTS-46 mapping, then punycode), one trailing dot dropped;
* IP hosts in every spelling a browser accepts (``0x7f.1``, ``2130706433``) written as the
  address (``127.0.0.1``; IPv6 compressed, lower case, in brackets);
* percent-encoding normalised (upper-case hex, unreserved characters decoded, characters that
  may not appear raw encoded as UTF-8), dot segments removed (RFC 3986 §5.2.4), an empty path
  written ``/``;
* the fragment dropped, the query kept in its order (a bare ``?`` is dropped);
* user information (``user:pass@``) rejected: it exists only to make a link look like another
  site's.

Registrable domains come from tldextract's bundled Public Suffix List snapshot, never from the
network, with the reserved suffixes ``test``, ``example`` and ``invalid`` added.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Final, Literal

import idna
import tldextract

from cordon.domain.netpolicy import InvalidAddress, parse_ipv4_number_form

MAX_URL_LENGTH: Final = 8192
"""Longest URL accepted, before and after normalisation, in characters."""

MAX_HOST_LENGTH: Final = 253
MAX_LABEL_LENGTH: Final = 63

DEFAULT_PORTS: Final[dict[str, int]] = {"http": 80, "https": 443}

RESERVED_SUFFIXES: Final = ("test", "example", "invalid")
"""Suffixes added to the Public Suffix List: the RFC 2606/6761 names synthetic sites use."""

IDNA_BACKEND: Final[str] = f"idna {idna.__version__} (UTS-46 mapping, IDNA 2008)"
"""Which IDNA implementation hosts go through.

The ``idna`` package (which tldextract itself depends on) is used rather than Python's
``encodings.idna``, which implements the withdrawn IDNA 2003 and maps some names (``ß``)
differently from browsers.
"""


class InvalidUrl(ValueError):
    """A URL that cannot be normalised; the message names what is wrong."""


@dataclass(frozen=True, slots=True)
class NormalizedUrl:
    """A URL in canonical form and its parts.

    ``url`` is the canonical string; the other fields are its parts. ``host`` is ASCII (IDNA
    A-labels) in lower case, an IPv4 address in dotted decimal, or an IPv6 address without
    brackets. ``port`` is None for the scheme's default port. ``query`` is empty when there is
    none, and never starts with ``?``. ``registrable_domain`` is the domain a registrant holds
    (``example.test`` for ``a.b.example.test``); for a host under no listed suffix, a host
    that is itself a public suffix, or an IP address, it is the whole host.
    """

    url: str
    scheme: str
    host: str
    port: int | None
    path: str
    query: str
    registrable_domain: str
    suffix: str
    subdomain: str
    is_ip: bool = False
    private_suffix: bool = False

    @property
    def effective_port(self) -> int:
        """The port a connection goes to: the explicit one or the scheme's default."""
        return self.port if self.port is not None else DEFAULT_PORTS[self.scheme]

    @property
    def origin(self) -> str:
        """``scheme://host[:port]``, as in the canonical URL."""
        return self.url[: len(self.url) - len(self._path_and_query)]

    @property
    def _path_and_query(self) -> str:
        return self.path + ("?" + self.query if self.query else "")

    def __str__(self) -> str:
        return self.url


# --------------------------------------------------------------------------- suffixes


def make_suffix_extractor() -> tldextract.TLDExtract:
    """A tldextract extractor that uses only the bundled suffix-list snapshot.

    ``suffix_list_urls=()`` means nothing is fetched and ``cache_dir=None`` means nothing is
    read from or written to disk; the snapshot shipped inside the package is the only source.
    The private section of the list is included, so that ``name.github.io`` and
    ``name.blogspot.com`` count as sites of their own, as browsers count them.
    """
    return tldextract.TLDExtract(
        cache_dir=None,
        suffix_list_urls=(),
        fallback_to_snapshot=True,
        include_psl_private_domains=True,
        extra_suffixes=RESERVED_SUFFIXES,
    )


@functools.cache
def _suffix_extractor() -> tldextract.TLDExtract:
    return make_suffix_extractor()


# --------------------------------------------------------------------------- parsing

# RFC 3986 appendix B, with the scheme restricted to the RFC's grammar.
_URL_RE: Final = re.compile(
    r"^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*):)?"
    r"(?://(?P<authority>[^/?#]*))?"
    r"(?P<path>[^?#]*)"
    r"(?:\?(?P<query>[^#]*))?"
    r"(?:#.*)?$",
    re.DOTALL,
)
_HAS_SCHEME_RE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")

_UNRESERVED: Final = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)
_SUB_DELIMS: Final = frozenset(b"!$&'()*+,;=")
# Bytes that may stand raw in a path segment (pchar) and in a query (pchar / "/" / "?").
_PATH_RAW: Final = _UNRESERVED | _SUB_DELIMS | frozenset(b":@/")
_QUERY_RAW: Final = _PATH_RAW | frozenset(b"?")
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")
_LABEL_RE: Final = re.compile(r"^[a-z0-9_-]+$")


def _reject_controls(text: str) -> None:
    for index, char in enumerate(text):
        if ord(char) < 0x20 or ord(char) == 0x7F:
            raise InvalidUrl(f"URL contains control character U+{ord(char):04X} at {index}")
        if unicodedata.category(char) == "Cs":
            raise InvalidUrl(f"URL contains a lone surrogate U+{ord(char):04X} at {index}")


def _normalize_percent(component: str, raw_allowed: frozenset[int], what: str) -> str:
    """Percent-encoding in one canonical form.

    Upper-case hex; unreserved characters decoded; a ``%`` not followed by two hex digits
    encoded as ``%25``; every other byte outside ``raw_allowed`` (spaces, quotes, non-ASCII
    as UTF-8) encoded. Applying it twice changes nothing.
    """
    if "\\" in component:
        raise InvalidUrl(
            f"{what} contains a backslash; browsers read it as '/', so write '/' or %5C"
        )
    data = component.encode("utf-8")
    out: list[str] = []
    i = 0
    n = len(data)
    while i < n:
        byte = data[i]
        if byte == 0x25:  # "%"
            if i + 2 < n and data[i + 1] in _HEX and data[i + 2] in _HEX:
                value = int(data[i + 1 : i + 3], 16)
                out.append(chr(value) if value in _UNRESERVED else f"%{value:02X}")
                i += 3
                continue
            out.append("%25")
        elif byte in raw_allowed:
            out.append(chr(byte))
        else:
            out.append(f"%{byte:02X}")
        i += 1
    return "".join(out)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4: resolve ``.`` and ``..`` segments; ``..`` never climbs above root."""
    output: list[str] = []
    rest = path
    while rest:
        if rest.startswith("../"):
            rest = rest[3:]
        elif rest.startswith(("./", "/./")):
            rest = rest[2:]
        elif rest == "/.":
            rest = "/"
        elif rest.startswith("/../"):
            rest = rest[3:]
            if output:
                output.pop()
        elif rest == "/..":
            rest = "/"
            if output:
                output.pop()
        elif rest in (".", ".."):
            rest = ""
        else:
            # Move the first segment (with its leading "/", up to the next "/") to the output.
            start = 1 if rest.startswith("/") else 0
            end = rest.find("/", start)
            if end == -1:
                end = len(rest)
            output.append(rest[:end])
            rest = rest[end:]
    return "".join(output)


def _format_ipv6(address: IPv6Address) -> str:
    """RFC 5952 text form: lower case, longest run (≥ 2) of zero groups as ``::``, no IPv4 tail.

    Written out here so the canonical form does not depend on the Python version's
    ``str(IPv6Address)`` (3.13 started writing mapped addresses with a dotted tail).
    """
    groups = [(int(address) >> (16 * (7 - i))) & 0xFFFF for i in range(8)]
    best_start, best_len = -1, 0
    i = 0
    while i < 8:
        if groups[i] == 0:
            j = i
            while j < 8 and groups[j] == 0:
                j += 1
            if j - i > best_len:
                best_start, best_len = i, j - i
            i = j
        else:
            i += 1
    texts = [f"{g:x}" for g in groups]
    if best_len < 2:
        return ":".join(texts)
    head = ":".join(texts[:best_start])
    tail = ":".join(texts[best_start + best_len :])
    return f"{head}::{tail}"


def _to_ascii_label(label: str) -> str:
    try:
        encoded: bytes = idna.encode(label, uts46=False)
    except UnicodeError as exc:  # idna.IDNAError and the codec errors it lets through
        raise InvalidUrl(f"host label {label!r} is not a valid IDNA name: {exc}") from None
    return encoded.decode("ascii")


def _check_a_label(label: str) -> None:
    """An ``xn--`` label must be valid punycode of a valid name (browsers refuse others)."""
    try:
        idna.decode(label)
    except UnicodeError as exc:
        raise InvalidUrl(f"host label {label!r} is not valid punycode: {exc}") from None


def _map_host(host: str) -> str:
    """UTS-46 mapping (case folding, width, ideographic full stops) of a non-ASCII host."""
    try:
        return str(idna.uts46_remap(host, std3_rules=False, transitional=False))
    except UnicodeError as exc:
        raise InvalidUrl(f"host {host!r} cannot be mapped for IDNA: {exc}") from None


def _normalize_domain(host: str) -> str:
    if not host.isascii():
        host = _map_host(host)
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]  # the root label: "example.test." and "example.test" are one site
    if host == "":
        raise InvalidUrl("host is empty")
    labels: list[str] = []
    for label in host.split("."):
        if label == "":
            raise InvalidUrl(f"host {host!r} has an empty label")
        if not label.isascii():
            label = _to_ascii_label(label)
        elif not _LABEL_RE.fullmatch(label):
            bad = next(c for c in label if not re.match(r"[a-z0-9_-]", c))
            raise InvalidUrl(f"host {host!r} contains {bad!r}, which a host name may not contain")
        elif label.startswith("xn--"):
            _check_a_label(label)
        if len(label) > MAX_LABEL_LENGTH:
            raise InvalidUrl(f"host label {label[:20]!r}… is longer than {MAX_LABEL_LENGTH}")
        labels.append(label)
    ascii_host = ".".join(labels)
    if len(ascii_host) > MAX_HOST_LENGTH:
        raise InvalidUrl(f"host is {len(ascii_host)} characters, over {MAX_HOST_LENGTH}")
    return ascii_host


def _split_authority(authority: str) -> tuple[str, str | None]:
    """Host text and port text (None when absent) of an authority without user information."""
    if authority.startswith("["):
        end = authority.find("]")
        if end == -1:
            raise InvalidUrl("IPv6 host has no closing ']'")
        host, rest = authority[: end + 1], authority[end + 1 :]
        if rest == "":
            return host, None
        if not rest.startswith(":"):
            raise InvalidUrl(f"unexpected {rest!r} after the IPv6 host")
        return host, rest[1:]
    if authority.count(":") > 1:
        raise InvalidUrl("host contains ':'; an IPv6 address must be written in brackets")
    host, colon, port = authority.partition(":")
    return host, (port if colon else None)


def _parse_port(text: str | None, scheme: str) -> int | None:
    if text is None or text == "":
        return None  # "http://host:/" is allowed by RFC 3986 and means the default
    if not (text.isascii() and text.isdigit()):
        raise InvalidUrl(f"port {text!r} is not a number")
    port = int(text)
    if not 1 <= port <= 65535:
        raise InvalidUrl(f"port {port} is out of range 1-65535")
    return None if port == DEFAULT_PORTS[scheme] else port


def _normalize_host(text: str) -> tuple[str, str, bool]:
    """(host as stored, host as written in the URL, is an IP address)."""
    if text.startswith("["):
        inner = text[1:-1]
        if inner[:1] in ("v", "V"):
            raise InvalidUrl(f"IP-future host {text!r} is not supported")
        if "%" in inner:
            raise InvalidUrl(
                f"IPv6 host {text!r} has a zone id, which means nothing outside one machine"
            )
        try:
            address = IPv6Address(inner)
        except ValueError:
            raise InvalidUrl(f"host {text!r} is not a valid IPv6 address") from None
        formatted = _format_ipv6(address)
        return formatted, f"[{formatted}]", True
    if "%" in text:
        text = _percent_decode_host(text)  # browsers decode percent-encoded host names
    if text == "":
        raise InvalidUrl("host is empty")
    for char in text:
        if char in ' <>^|"`{}@[]\\/?#%' or ord(char) < 0x21:
            raise InvalidUrl(f"host {text!r} contains {char!r}, which a host may not contain")
    try:
        ipv4 = parse_ipv4_number_form(_map_host(text) if not text.isascii() else text)
    except InvalidAddress as exc:
        raise InvalidUrl(str(exc)) from None
    if ipv4 is not None:
        return str(ipv4), str(ipv4), True
    domain = _normalize_domain(text)
    return domain, domain, False


def _percent_decode_host(text: str) -> str:
    data = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "%":
            digits = text[i + 1 : i + 3]
            if len(digits) != 2 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise InvalidUrl(f"host {text!r} contains a '%' that is not percent-encoding")
            data.append(int(digits, 16))
            i += 3
        else:
            data.extend(text[i].encode("utf-8"))
            i += 1
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidUrl("percent-encoded host is not valid UTF-8") from None


def normalize_url(
    raw: str, *, assume_scheme: Literal["http", "https"] | None = None
) -> NormalizedUrl:
    """Bring ``raw`` to Cordon's canonical form and split its host (see the module docstring).

    Surrounding whitespace is ignored. With ``assume_scheme``, a URL written without a scheme
    (``example.test/page``) gets that one; without it, such a URL is rejected. Raises
    :class:`InvalidUrl` naming what is wrong; never any other exception for a ``str``. The
    result is a fixed point: ``normalize_url(normalize_url(u).url) == normalize_url(u)``.
    """
    if len(raw) <= _CACHED_LENGTH:
        # The crawler reads the same URLs again and again (every hop, picture and link).
        return _normalize_cached(raw, assume_scheme)
    return _normalize(raw, assume_scheme)


_CACHED_LENGTH: Final = 512


@functools.lru_cache(maxsize=8192)
def _normalize_cached(raw: str, assume_scheme: Literal["http", "https"] | None) -> NormalizedUrl:
    return _normalize(raw, assume_scheme)


def _normalize(raw: str, assume_scheme: Literal["http", "https"] | None) -> NormalizedUrl:
    text = raw.strip()
    if len(text) > MAX_URL_LENGTH:
        raise InvalidUrl(f"URL is {len(text)} characters, over the limit of {MAX_URL_LENGTH}")
    if text == "":
        raise InvalidUrl("URL is empty")
    _reject_controls(text)
    if assume_scheme is not None and not _HAS_SCHEME_RE.match(text):
        text = f"{assume_scheme}:{text}" if text.startswith("//") else f"{assume_scheme}://{text}"
    match = _URL_RE.match(text)
    if match is None:  # pragma: no cover - every string matches the RFC 3986 pattern
        raise InvalidUrl("URL cannot be parsed")
    scheme_text = match.group("scheme")
    if scheme_text is None:
        raise InvalidUrl("URL has no scheme; write http:// or https://")
    scheme = scheme_text.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidUrl(f"scheme {scheme_text!r} is not http or https")
    authority = match.group("authority")
    if authority is None:
        if "\\" in text:
            raise InvalidUrl("URL contains a backslash; browsers read it as '/', so write '/'")
        raise InvalidUrl(f"{scheme} URL has no '//' and host")
    if "\\" in authority:
        raise InvalidUrl("host contains a backslash; browsers read it as '/', so write '/'")
    if "@" in authority:
        raise InvalidUrl(
            "URL contains user information before '@'; it is not allowed, because it only "
            "serves to make a link look like another site's"
        )
    host_text, port_text = _split_authority(authority)
    port = _parse_port(port_text, scheme)
    host, url_host, is_ip = _normalize_host(host_text)

    path = remove_dot_segments(_normalize_percent(match.group("path"), _PATH_RAW, "path"))
    if path == "":
        path = "/"
    query_text = match.group("query")
    query = _normalize_percent(query_text, _QUERY_RAW, "query") if query_text else ""

    url = f"{scheme}://{url_host}{'' if port is None else f':{port}'}{path}"
    if query:
        url += f"?{query}"
    if len(url) > MAX_URL_LENGTH:
        raise InvalidUrl(
            f"normalised URL is {len(url)} characters, over the limit of {MAX_URL_LENGTH}"
        )

    if is_ip:
        registrable, suffix, subdomain, private = host, "", "", False
    else:
        parts = _suffix_extractor()(host)
        suffix, private = parts.suffix, bool(parts.is_private)
        if parts.domain and parts.suffix:
            registrable = f"{parts.domain}.{parts.suffix}"
            subdomain = parts.subdomain
        else:
            # No listed suffix ("intranet.corp"), or the host is itself a suffix ("co.uk"):
            # the whole host stands for the site.
            registrable, subdomain = host, ""
    return NormalizedUrl(
        url=url,
        scheme=scheme,
        host=host,
        port=port,
        path=path,
        query=query,
        registrable_domain=registrable,
        suffix=suffix,
        subdomain=subdomain,
        is_ip=is_ip,
        private_suffix=private,
    )


# --------------------------------------------------------------------------- display

_DEFANG_SCHEME_RE: Final = re.compile(r"^\s*(h)(tt)(ps?)(?=[:\[])", re.IGNORECASE)
_REFANG_SCHEME_RE: Final = re.compile(r"^\s*h[xX]{2}(ps?)(?:\[:\]|:)", re.IGNORECASE)


def defang(url: str | NormalizedUrl) -> str:
    """A URL that no viewer turns into a live link: ``hxxps://example[.]test/page``.

    The scheme becomes ``hxxp``/``hxxps`` and every dot of the host becomes ``[.]``; path and
    query are left as they are. Works on any string, normalised or not.
    """
    text = url.url if isinstance(url, NormalizedUrl) else url
    text = _DEFANG_SCHEME_RE.sub(lambda m: f"{m.group(1)}xx{m.group(3)}", text, count=1)
    start = text.find("//")
    if start == -1:
        return text.replace(".", "[.]")
    start += 2
    end = len(text)
    for stop in "/?#":
        found = text.find(stop, start)
        if found != -1:
            end = min(end, found)
    authority = text[start:end].replace("[.]", ".").replace(".", "[.]")
    return text[:start] + authority + text[end:]


def refang(text: str) -> str:
    """Undo the usual defanging (``hxxp``, ``[.]``, ``(.)``, ``[:]``) so a URL can be parsed."""
    text = _REFANG_SCHEME_RE.sub(lambda m: f"htt{m.group(1)}:", text.strip(), count=1)
    for fanged in ("[.]", "(.)", "{.}", "[dot]", "(dot)"):
        text = text.replace(fanged, ".")
    return text.replace("[:]", ":")


__all__ = [
    "DEFAULT_PORTS",
    "IDNA_BACKEND",
    "MAX_URL_LENGTH",
    "RESERVED_SUFFIXES",
    "InvalidUrl",
    "NormalizedUrl",
    "defang",
    "make_suffix_extractor",
    "normalize_url",
    "refang",
    "remove_dot_segments",
]
