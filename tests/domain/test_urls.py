"""URL normalisation: canonical forms, rejections, registrable domains, no network."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cordon.domain.urls import (
    DEFAULT_PORTS,
    IDNA_BACKEND,
    MAX_URL_LENGTH,
    InvalidUrl,
    NormalizedUrl,
    defang,
    make_suffix_extractor,
    normalize_url,
    refang,
    remove_dot_segments,
)

# --------------------------------------------------------------------------- table tests

CANONICAL = [
    # scheme and host case, default port, empty path
    ("HTTP://Example.TEST", "http://example.test/"),
    ("HtTpS://EXAMPLE.test:443", "https://example.test/"),
    ("http://example.test:80/", "http://example.test/"),
    ("https://example.test:80/", "https://example.test:80/"),
    ("http://example.test:8080/", "http://example.test:8080/"),
    ("http://example.test:08080/", "http://example.test:8080/"),
    ("http://example.test:/", "http://example.test/"),
    ("  http://example.test/  ", "http://example.test/"),
    # trailing dot of the root label
    ("http://example.test./a", "http://example.test/a"),
    # dot segments
    ("http://example.test/a/./b/../c", "http://example.test/a/c"),
    ("http://example.test/../../a", "http://example.test/a"),
    ("http://example.test/a/b/..", "http://example.test/a/"),
    ("http://example.test/a/.", "http://example.test/a/"),
    ("http://example.test/%2e%2E/a", "http://example.test/a"),
    ("http://example.test/a/..%2Fb", "http://example.test/a/..%2Fb"),
    # percent-encoding
    ("http://example.test/%7euser", "http://example.test/~user"),
    ("http://example.test/%41%62c", "http://example.test/Abc"),
    ("http://example.test/a%2fb", "http://example.test/a%2Fb"),
    ("http://example.test/a%zzb", "http://example.test/a%25zzb"),
    ("http://example.test/100%", "http://example.test/100%25"),
    ("http://example.test/a b", "http://example.test/a%20b"),
    ("http://example.test/ä", "http://example.test/%C3%A4"),
    ('http://example.test/"<>`{}|^', "http://example.test/%22%3C%3E%60%7B%7D%7C%5E"),
    ("http://example.test/!$&'()*+,;=:@", "http://example.test/!$&'()*+,;=:@"),
    # query kept in order, fragment dropped, bare "?" dropped
    ("http://example.test/?b=2&a=1", "http://example.test/?b=2&a=1"),
    ("http://example.test/p?q=a%2bb&r=%7e", "http://example.test/p?q=a%2Bb&r=~"),
    ("http://example.test/p?a=[1]", "http://example.test/p?a=%5B1%5D"),
    ("http://example.test/p?x=/y?z", "http://example.test/p?x=/y?z"),
    ("http://example.test/p#frag", "http://example.test/p"),
    ("http://example.test/p?q=1#frag?x", "http://example.test/p?q=1"),
    ("http://example.test/p?", "http://example.test/p"),
    ("http://example.test?q", "http://example.test/?q"),
    ("http://example.test#@other.test", "http://example.test/"),
    # IDNA
    ("http://Bücher.example/", "http://xn--bcher-kva.example/"),
    ("http://BÜCHER.EXAMPLE/", "http://xn--bcher-kva.example/"),
    ("http://ｅｘａｍｐｌｅ。test/", "http://example.test/"),
    ("http://straße.test/", "http://xn--strae-oqa.test/"),
    ("http://XN--BCHER-KVA.example/", "http://xn--bcher-kva.example/"),
    ("http://%65xample.test/", "http://example.test/"),
    ("http://b%C3%BCcher.example/", "http://xn--bcher-kva.example/"),
    ("http://under_score.example.test/", "http://under_score.example.test/"),
    ("http://ab--cd.test/", "http://ab--cd.test/"),
    # IPv4 in every spelling a browser accepts
    ("http://127.0.0.1/", "http://127.0.0.1/"),
    ("http://2130706433/", "http://127.0.0.1/"),
    ("http://0x7f000001/", "http://127.0.0.1/"),
    ("http://0177.0.0.1/", "http://127.0.0.1/"),
    ("http://0x7f.1/", "http://127.0.0.1/"),
    ("http://127.1/", "http://127.0.0.1/"),
    ("http://127.0.1/", "http://127.0.0.1/"),
    ("http://0x7F.0.0.01/", "http://127.0.0.1/"),
    ("http://192.0.2.1.:81/", "http://192.0.2.1:81/"),
    ("http://１２７.０.０.１/", "http://127.0.0.1/"),
    # IPv6 literals
    ("http://[::1]/", "http://[::1]/"),
    ("http://[2001:DB8:0:0:0:0:0:1]:8443/", "http://[2001:db8::1]:8443/"),
    ("http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/"),
    ("http://[2001:db8:0:1:1:1:1:1]/", "http://[2001:db8:0:1:1:1:1:1]/"),
    ("http://[2001:0:0:1:0:0:0:1]/", "http://[2001:0:0:1::1]/"),
    ("https://[::1]:443/", "https://[::1]/"),
]


@pytest.mark.parametrize(("raw", "expected"), CANONICAL)
def test_normalize_url_writes_the_canonical_form(raw: str, expected: str) -> None:
    result = normalize_url(raw)
    assert result.url == expected
    assert normalize_url(expected) == result


REJECTED = [
    ("ftp://example.test/", "scheme 'ftp' is not http or https"),
    ("javascript:alert(1)", "scheme 'javascript' is not http or https"),
    ("file:///etc/passwd", "scheme 'file' is not http or https"),
    ("example.test/page", "URL has no scheme"),
    ("//example.test/page", "URL has no scheme"),
    ("", "URL is empty"),
    ("   ", "URL is empty"),
    ("http:example.test", "http URL has no '//' and host"),
    ("http://", "host is empty"),
    ("http:///path", "host is empty"),
    ("http://:80/", "host is empty"),
    ("http://example.test:70000/", "port 70000 is out of range"),
    ("http://example.test:0/", "port 0 is out of range"),
    ("http://example.test:8o/", "port '8o' is not a number"),
    ("http://example.test:-1/", "port '-1' is not a number"),
    ("http://user@example.test/", "user information"),
    ("http://user:pass@example.test/", "user information"),
    ("http://good.test@evil.test/", "user information"),
    ("http://@example.test/", "user information"),
    ("http://evil.test\\@good.test/", "backslash"),
    ("http://example.test/a\\b", "backslash"),
    ("http://exa mple.test/", "contains ' '"),
    ("http://exa\tmple.test/", "control character U+0009"),
    ("http://example.test/a\nb", "control character U+000A"),
    ("http://example.test/\x00", "control character U+0000"),
    ("http://exa!mple.test/", "contains '!'"),
    ("http://example..test/", "empty label"),
    ("http://.example.test/", "empty label"),
    ("http://1.2.3.4.5/", "more than four parts"),
    ("http://256.1.1.1/", "above 255"),
    ("http://1.2.3.256/", "out of the IPv4 range"),
    ("http://4294967296/", "out of the IPv4 range"),
    ("http://example.123/", "part 'example' is not a number"),
    ("http://09.1.1.1/", "part '09' is not a number"),
    ("http://::1/", "must be written in brackets"),
    ("http://[::1/", "no closing ']'"),
    ("http://[::1]x/", "unexpected 'x'"),
    ("http://[::zz]/", "not a valid IPv6 address"),
    ("http://[fe80::1%25eth0]/", "zone id"),
    ("http://[v1.abc]/", "IP-future"),
    ("http://xn--zz.test/", "not valid punycode"),
    ("http://☃.test/", "not a valid IDNA name"),
    ("http://%ff.test/", "not valid UTF-8"),
    ("http://%zz.test/", "not percent-encoding"),
    ("http://" + "a" * 64 + ".test/", "longer than 63"),
    ("http://" + ".".join(["a" * 60] * 5) + ".test/", "over 253"),
    ("http://example.test/" + "a" * MAX_URL_LENGTH, "over the limit of 8192"),
    ("http://example.test/" + "ä" * 2000, "normalised URL is 12020 characters"),
]


@pytest.mark.parametrize(("raw", "message"), REJECTED)
def test_normalize_url_rejects_bad_input_naming_the_problem(raw: str, message: str) -> None:
    with pytest.raises(InvalidUrl, match=None) as caught:
        normalize_url(raw)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_assume_scheme_completes_a_url_written_without_one() -> None:
    assert normalize_url("Example.test/a", assume_scheme="https").url == "https://example.test/a"
    assert normalize_url("//example.test/a", assume_scheme="http").url == "http://example.test/a"
    assert normalize_url("http://example.test/", assume_scheme="https").scheme == "http"
    with pytest.raises(InvalidUrl, match="scheme 'ftp'"):
        normalize_url("ftp://example.test/", assume_scheme="https")


# --------------------------------------------------------------------------- fields


def test_fields_of_a_name_host_split_at_the_registrable_domain() -> None:
    result = normalize_url("HTTPS://a.b.Example.TEST:8443/x/../y?q=1#f")
    assert result == NormalizedUrl(
        url="https://a.b.example.test:8443/y?q=1",
        scheme="https",
        host="a.b.example.test",
        port=8443,
        path="/y",
        query="q=1",
        registrable_domain="example.test",
        suffix="test",
        subdomain="a.b",
        is_ip=False,
        private_suffix=False,
    )
    assert result.effective_port == 8443
    assert result.origin == "https://a.b.example.test:8443"
    assert str(result) == result.url


@pytest.mark.parametrize(
    ("raw", "registrable", "suffix", "subdomain", "private"),
    [
        ("http://shop.example.test/", "example.test", "test", "shop", False),
        ("http://example.example/", "example.example", "example", "", False),
        ("http://x.y.site.invalid/", "site.invalid", "invalid", "x.y", False),
        ("http://www.brand.co.uk/", "brand.co.uk", "co.uk", "www", False),
        ("http://name.github.io/", "name.github.io", "github.io", "", True),
        ("http://a.name.blogspot.com/", "name.blogspot.com", "blogspot.com", "a", True),
        ("http://www.xn--bcher-kva.xn--p1ai/", "xn--bcher-kva.xn--p1ai", "xn--p1ai", "www", False),
        # no listed suffix: the whole host is the site
        ("http://files.intranet.corp/", "files.intranet.corp", "", "", False),
        ("http://localhost/", "localhost", "", "", False),
        # the host is itself a public suffix
        ("http://co.uk/", "co.uk", "co.uk", "", False),
        ("http://test/", "test", "test", "", False),
    ],
)
def test_registrable_domain_follows_the_public_suffix_list_and_reserved_names(
    raw: str, registrable: str, suffix: str, subdomain: str, private: bool
) -> None:
    result = normalize_url(raw)
    assert (result.registrable_domain, result.suffix, result.subdomain) == (
        registrable,
        suffix,
        subdomain,
    )
    assert result.private_suffix is private


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://[::FFFF:7F00:1]/", "::ffff:7f00:1"),
        ("http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1"),
    ],
)
def test_an_ip_host_is_its_own_registrable_domain(raw: str, host: str) -> None:
    result = normalize_url(raw)
    assert result.is_ip
    assert result.host == host
    assert result.registrable_domain == host
    assert (result.suffix, result.subdomain) == ("", "")


def test_idna_backend_is_the_idna_package_with_uts46() -> None:
    assert IDNA_BACKEND.startswith("idna ")
    assert "UTS-46" in IDNA_BACKEND


# --------------------------------------------------------------------------- dot segments


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # RFC 3986 §5.2.4 and §5.4 examples (merged paths)
        ("/a/b/c/./../../g", "/a/g"),
        ("mid/content=5/../6", "mid/6"),
        ("/b/c/d;p/../../g", "/b/g"),
        ("/b/c/d;p/../../../g", "/g"),
        ("/b/c/d;p/../../../../g", "/g"),
        ("/./g", "/g"),
        ("/b/c/g.", "/b/c/g."),
        ("/b/c/.g", "/b/c/.g"),
        ("/b/c/g..", "/b/c/g.."),
        ("/b/c/..g", "/b/c/..g"),
        ("/b/c/./../g", "/b/g"),
        ("/b/c/g/./h", "/b/c/g/h"),
        ("/b/c/g/../h", "/b/c/h"),
        ("/b/c/g;x=1/./y", "/b/c/g;x=1/y"),
        ("/b/c/g;x=1/../y", "/b/c/y"),
        ("", ""),
        ("/", "/"),
        ("..", ""),
        ("//a/../b", "//b"),
    ],
)
def test_remove_dot_segments_follows_rfc_3986(path: str, expected: str) -> None:
    assert remove_dot_segments(path) == expected


# --------------------------------------------------------------------------- defang


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.example.test/a.b?x=1.2", "hxxps://www[.]example[.]test/a.b?x=1.2"),
        ("HTTP://example.test", "HxxP://example[.]test"),
        ("http://127.0.0.1:8080/", "hxxp://127[.]0[.]0[.]1:8080/"),
        ("http://[::1]/", "hxxp://[::1]/"),
        ("example.test", "example[.]test"),
        ("hxxp://example[.]test/", "hxxp://example[.]test/"),
    ],
)
def test_defang_breaks_the_link_but_keeps_it_readable(url: str, expected: str) -> None:
    assert defang(url) == expected


def test_defang_accepts_a_normalized_url_and_refang_undoes_it() -> None:
    result = normalize_url("https://Shop.Example.test/buy?id=1")
    fanged = defang(result)
    assert fanged == "hxxps://shop[.]example[.]test/buy?id=1"
    assert normalize_url(refang(fanged)) == result
    assert refang("hxxp[:]//example(.)test/") == "http://example.test/"


# --------------------------------------------------------------------------- properties

_ascii_label = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9_-]{0,8}[a-zA-Z0-9])?", fullmatch=True)
_unicode_label = st.text(alphabet="abcxyzäöüéèñçåøÄÖÜÉ", min_size=1, max_size=8)
_suffix = st.sampled_from(["test", "TEST", "example", "invalid", "co.uk", "github.io", "corp"])
_name_host = st.builds(
    lambda labels, suffix: ".".join([*labels, suffix]),
    st.lists(st.one_of(_ascii_label, _unicode_label), min_size=1, max_size=4),
    _suffix,
)


def _ipv4_spellings(address: IPv4Address) -> list[str]:
    """The spellings browsers (and inet_aton) accept for one IPv4 address."""
    value = int(address)
    octets = address.packed
    return [
        str(address),
        str(value),
        hex(value),
        ".".join(f"0{b:o}" for b in octets),
        ".".join(hex(b) for b in octets),
        f"{octets[0]}.{int.from_bytes(octets[1:], 'big')}",
        f"{octets[0]}.{octets[1]}.{int.from_bytes(octets[2:], 'big')}",
    ]


_ipv4_host = st.ip_addresses(v=4).flatmap(
    lambda a: st.sampled_from(_ipv4_spellings(IPv4Address(a)))
)
_ipv6_host = st.ip_addresses(v=6).map(lambda a: f"[{IPv6Address(a).exploded.upper()}]")
_host = st.one_of(_name_host, _ipv4_host, _ipv6_host)
_port = st.one_of(st.none(), st.integers(1, 65535).map(str), st.just(""))
_path_char = st.sampled_from([*"abcAZ09-._~!$&'()*+,;=:@%/ äé\"<>{}|^`[]", "%2e", "%7E"])
_segment = st.one_of(
    st.sampled_from([".", "..", "%2e", "%2E%2e", ""]),
    st.lists(_path_char, max_size=6).map("".join),
    st.text(max_size=5).filter(lambda s: not any(c in s for c in "?#\\")),
)
_path = st.lists(_segment, max_size=6).map(lambda segments: "".join("/" + s for s in segments))
_query = st.one_of(
    st.none(),
    st.lists(st.one_of(_path_char, st.sampled_from(["?", "=", "&"])), max_size=10).map("".join),
)
_fragment = st.one_of(st.none(), st.text(max_size=5))


@st.composite
def valid_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    host = draw(_host)
    port = draw(_port)
    path = draw(_path)
    query = draw(_query)
    fragment = draw(_fragment)
    url = f"{scheme}://{host}"
    if port is not None:
        url += f":{port}"
    url += path
    if query is not None:
        url += f"?{query}"
    if fragment is not None:
        url += f"#{fragment}"
    return url


def _strip_controls(text: str) -> str:
    return "".join(c for c in text if ord(c) >= 0x20 and ord(c) != 0x7F)


def _reassemble(result: NormalizedUrl) -> str:
    host = f"[{result.host}]" if ":" in result.host else result.host
    port = "" if result.port is None else f":{result.port}"
    query = f"?{result.query}" if result.query else ""
    return f"{result.scheme}://{host}{port}{result.path}{query}"


@settings(max_examples=400)
@given(valid_urls())
def test_normalisation_is_idempotent_and_parses_back_to_the_same_fields(raw: str) -> None:
    raw = _strip_controls(raw)
    result = normalize_url(raw)
    again = normalize_url(result.url)
    assert again == result
    assert _reassemble(result) == result.url
    assert result.url.isascii()
    assert not any(c.isspace() for c in result.url)
    assert result.path.startswith("/")
    assert "#" not in result.url
    assert result.port != DEFAULT_PORTS[result.scheme]


@settings(max_examples=300)
@given(valid_urls())
def test_percent_encoding_in_the_canonical_form_is_upper_case_and_minimal(raw: str) -> None:
    result = normalize_url(_strip_controls(raw))
    text = result.path + result.query
    index = text.find("%")
    while index != -1:
        code = text[index + 1 : index + 3]
        assert code == code.upper()
        assert not (chr(int(code, 16)).isalnum() and int(code, 16) < 0x80)
        assert chr(int(code, 16)) not in "-._~"
        index = text.find("%", index + 1)


@given(st.ip_addresses(v=4))
def test_every_ipv4_spelling_normalises_to_dotted_decimal(address: IPv4Address) -> None:
    address = IPv4Address(address)
    for spelling in _ipv4_spellings(address):
        assert normalize_url(f"http://{spelling}/").host == str(address)


@settings(max_examples=500)
@given(st.one_of(st.text(max_size=60), st.text(max_size=60).map(lambda s: "http://" + s)))
def test_any_string_either_normalises_to_a_fixed_point_or_raises_invalid_url(raw: str) -> None:
    try:
        result = normalize_url(raw)
    except InvalidUrl as exc:
        message = str(exc)
    else:
        assert normalize_url(result.url) == result
        return
    assert message


# --------------------------------------------------------------------------- no network


def _refuse_network(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("tldextract tried to use the network")


class _RefusedSocket(socket.socket):
    def __init__(self, *_args: object, **_kwargs: object) -> None:
        raise AssertionError("tldextract tried to open a socket")


def test_a_fresh_suffix_extractor_never_touches_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(socket, "socket", _RefusedSocket)
    monkeypatch.setattr(socket, "create_connection", _refuse_network)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse_network)
    extractor = make_suffix_extractor()
    parts = extractor("www.brand.co.uk")
    assert (parts.subdomain, parts.domain, parts.suffix) == ("www", "brand", "co.uk")
    assert extractor("a.b.example.test").suffix == "test"


def test_normalisation_in_a_fresh_process_with_sockets_disabled_uses_only_the_snapshot(
    tmp_path: Path,
) -> None:
    # A fresh interpreter, so that no extractor or suffix list was loaded before the sockets
    # were taken away; HOME and XDG_CACHE_HOME point at an empty directory that must stay so.
    script = textwrap.dedent(
        """
        import socket
        def refuse(*args, **kwargs):
            raise OSError("network disabled by the test")
        class RefusedSocket(socket.socket):
            def __init__(self, *args, **kwargs):
                refuse()
        socket.socket = RefusedSocket
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from cordon.domain.urls import normalize_url
        for raw in ["http://www.Brand.CO.UK/a", "http://shop.example.test/", "http://x.github.io/"]:
            result = normalize_url(raw)
            print(result.registrable_domain, result.suffix)
        """
    )
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("TLDEXTRACT_CACHE", None)
    completed = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split("\n")[:3] == [
        "brand.co.uk co.uk",
        "example.test test",
        "x.github.io github.io",
    ]
    assert list(tmp_path.rglob("*")) == []
