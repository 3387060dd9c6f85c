"""Reading pages: pictures wherever a browser loads them, indicators, and inline pictures
replaced by their hashes before anything is kept."""

from __future__ import annotations

import base64
import hashlib

from hypothesis import given
from hypothesis import strategies as st

from cordon.crawl.extract import (
    extract_page,
    parse_data_uri,
    parse_srcset,
    redact_inline_media,
    sniff_type,
    template_fingerprint,
)
from cordon.domain.payments import make_btc_p2pkh, make_eth_address, synthetic_address
from cordon.signals.synthetic import encode, photo_like

PNG = encode(photo_like(5, 40, 30), "PNG")
DATA_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()


def _page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


def test_pictures_are_found_wherever_a_browser_loads_them() -> None:
    html = _page(
        '<img src="/a.jpg"><img src="/blank.gif" srcset="/b-1x.jpg 1x, /b-2x.jpg 2x">'
        '<img class="lazy" data-src="/c.jpg"><img data-srcset="/d.webp 640w">'
        "<div style=\"background-image:url('/e.png')\"></div>"
        '<picture><source srcset="/f.avif"></picture><video poster="/g.jpg"></video>'
        f'<img src="{DATA_URI}">',
        head='<style>.hero{background:url("/h.jpg")}</style>'
        '<meta property="og:image" content="https://cdn.example.test/i.jpg">',
    )
    found = extract_page(html, "https://shop.example.test/page")
    urls = [m.url for m in found.media]
    assert urls[:0] == []
    expected = {
        "https://shop.example.test/a.jpg": "img",
        "https://shop.example.test/b-1x.jpg": "srcset",
        "https://shop.example.test/b-2x.jpg": "srcset",
        "https://shop.example.test/c.jpg": "data-src",
        "https://shop.example.test/d.webp": "data-src",
        "https://shop.example.test/e.png": "css",
        "https://shop.example.test/f.avif": "srcset",
        "https://shop.example.test/g.jpg": "poster",
        "https://shop.example.test/h.jpg": "css",
        "https://cdn.example.test/i.jpg": "meta",
    }
    by_url = {m.url: m.embed for m in found.media}
    for url, embed in expected.items():
        assert by_url.get(url) == embed, url
    inline = [m for m in found.media if m.embed == "data-uri"]
    assert len(inline) == 1
    decoded = parse_data_uri(inline[0].url)
    assert decoded is not None
    assert decoded.data == PNG


def test_indicators_are_read_and_only_valid_payment_ids_kept() -> None:
    btc = make_btc_p2pkh(bytes(range(20)))
    eth = make_eth_address(bytes(range(1, 21)))
    broken = btc[:-1] + ("1" if btc[-1] != "1" else "2")
    html = _page(
        f"<p>Bitcoin: {btc}</p><p>Broken: {broken}</p><p>ETH {eth}</p>"
        '<a href="https://pay.paybridge.test/checkout/velvet-shop">Pay</a>'
        '<a href="mailto:sales@shop.example.test">mail</a> Contact: help@other.test '
        "logo@2x.png <a href='https://t.me/velvet_shop'>tg</a> Telegram: @velvetsupport "
        '<a href="https://wa.me/15555550123">wa</a>'
        '<a href="https://elsewhere.test/x">out</a><a href="/inside">in</a>',
        head="<script>gtag('config', 'G-ABCDEF1234');ga('create','UA-1234567-1');</script>"
        '<script src="https://metrics.test/t.js" data-site="TLY-12345678"></script>',
    )
    found = extract_page(html, "https://shop.example.test/")
    keys = {(i.kind, i.key) for i in found.indicators}
    assert ("crypto_address", f"btc:{btc}") in keys
    assert ("crypto_address", f"eth:{eth}") in keys
    assert not any(broken in k for _, k in keys)
    assert ("checkout_account", "paybridge:velvet-shop") in keys
    assert ("email", "sales@shop.example.test") in keys
    assert ("email", "help@other.test") in keys
    assert not any(k.endswith(".png") for kind, k in keys if kind == "email")
    assert ("messenger", "telegram:velvet_shop") in keys
    assert ("messenger", "telegram:velvetsupport") in keys
    assert ("messenger", "whatsapp:15555550123") in keys
    assert ("analytics_id", "google_tag:G-ABCDEF1234") in keys
    assert ("analytics_id", "google_analytics:UA-1234567-1") in keys
    assert ("analytics_id", "tally:TLY-12345678") in keys
    assert ("outbound_link", "https://elsewhere.test/x") in keys
    assert not any(k.endswith("/inside") for kind, k in keys if kind == "outbound_link")
    assert found.payment_keys() == {f"btc:{btc}", f"eth:{eth}", "paybridge:velvet-shop"}


def test_pages_of_one_template_share_a_fingerprint_and_others_do_not() -> None:
    style = "<style>body{font-family:serif}.mg article{margin:1em}</style>"
    one = _page(
        '<main class="mg"><article class="story"><img src="/1.jpg"></article></main>', style
    )
    two = _page(
        '<main class="mg"><article class="story"><img src="/2.jpg"></article>'
        '<article class="story"><img src="/3.jpg"></article></main><p>other text</p>',
        style,
    )
    other = _page('<div class="cards"><div class="card"></div></div>', "<style>.cards{}</style>")
    base = "https://a.example.test/"
    fp = extract_page(one, base).template_fingerprint
    assert fp == extract_page(two, "https://b.example.test/x").template_fingerprint
    assert fp != extract_page(other, base).template_fingerprint
    assert len(fp) == 64


def test_inline_pictures_are_replaced_by_their_hashes() -> None:
    bare = base64.b64encode(encode(photo_like(6, 64, 64), "JPEG")).decode()
    text = _page(f'<img src="{DATA_URI}"><script>var p = "{bare}";</script>')
    redacted, count = redact_inline_media(text)
    assert count == 2
    assert "base64" not in redacted
    assert f"data:image/png;sha256={hashlib.sha256(PNG).hexdigest()}" in redacted
    assert "[picture sha256=" in redacted
    assert bare[100:200] not in redacted
    # A data URI broken by line breaks leaves no base64 behind either.
    broken = DATA_URI[:300] + "\n" + DATA_URI[300:]
    redacted, _ = redact_inline_media(_page(f'<img src="{broken}">'))
    assert DATA_URI[400:460] not in redacted


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_redaction_is_idempotent_and_leaves_plain_text_alone(text: str) -> None:
    once, _ = redact_inline_media(text)
    twice, count = redact_inline_media(once)
    assert twice == once
    assert count == 0 or "base64" in text or "data:" in text.lower()


@given(
    st.lists(st.from_regex(r"/[a-z0-9]{1,12}\.(jpg|png)", fullmatch=True), min_size=1, max_size=5)
)
def test_srcset_gives_back_every_url(urls: list[str]) -> None:
    srcset = ", ".join(f"{u} {i + 1}x" for i, u in enumerate(urls))
    assert parse_srcset(srcset) == urls


def test_sniffing_tells_picture_formats_apart() -> None:
    assert sniff_type(PNG) == "png"
    assert sniff_type(encode(photo_like(1, 8, 8), "JPEG")) == "jpeg"
    assert sniff_type(encode(photo_like(1, 8, 8), "WEBP")) == "webp"
    assert sniff_type(encode(photo_like(1, 8, 8), "GIF")) == "gif"
    assert sniff_type(encode(photo_like(1, 8, 8), "BMP")) == "bmp"
    assert sniff_type(b"<svg xmlns='http://www.w3.org/2000/svg'/>") == "svg"
    assert sniff_type(b"<!DOCTYPE html><html>") == "html"
    assert sniff_type(b"\x00\x01garbage") == "unknown"


def test_a_synthetic_wallet_is_checked_by_its_checksum() -> None:
    valid = synthetic_address("btc", b"crawl")
    found = extract_page(_page(f"<p>{valid}</p>"), "https://x.example.test/")
    assert [i.kind for i in found.indicators] == ["crypto_address"]
    assert template_fingerprint([], []) != found.template_fingerprint


_TRICKY = st.lists(
    st.sampled_from(
        [
            "t.me/",
            "T.ME/",
            "Telegram.Dog/",
            "tg",
            "TG",
            "@",
            "wa.me/",
            "WA.ME/",
            "ſ",
            "İ",
            "ı",
            "\u212a",
            "signal.me/#p/+",
            "SIGNAL.ME/#P/+",
            "xmpp:",
            "05",
            "UA-",
            "G-",
            "GTM-",
            "AW-",
            "fbq(",
            "ym(",
            "TLY-",
            "'init'",
            ", ",
            ":",
            " ",
            "a",
            "b.test",
            "1234567",
            "89",
            "abcdef0123456789" * 4,
            "shop_",
            "data:",
            "DATA:",
            "image/png;base64,",
            "AAAA",
        ]
    ),
    max_size=30,
).map("".join)


@given(_TRICKY)
def test_no_indicator_pattern_is_skipped_on_a_page_where_it_matches(text: str) -> None:
    from cordon.crawl.extract import _EMAIL_RE, _MESSENGERS, BUILTIN_ANALYTICS

    lowered = text.lower()
    for pattern in BUILTIN_ANALYTICS:
        if pattern.pattern.search(text):
            assert pattern.needs in text, pattern.name
    for service, messenger, _, needs in _MESSENGERS:
        if messenger.search(text):
            assert any(needed in lowered for needed in needs), service
    if _EMAIL_RE.search(text):
        assert "@" in text


def test_a_page_read_twice_gives_the_same_result() -> None:
    html = _page(
        '<a href="/x">x</a><a href="/x#top">x</a><a href="https://Elsewhere.test/y">y</a>'
        '<img src="/blank.gif" srcset="/a.jpg 1x"><img src="/blank.gif" srcset="/b.jpg 1x">'
        "<p>Signal.me/#p/+15555550123 WA.ME/15555550124 Tg: @velvet_help</p>"
    )
    first = extract_page(html, "https://shop.example.test/p")
    again = extract_page(html, "https://shop.example.test/p")
    assert first == again
    assert first.links == ["https://shop.example.test/x", "https://elsewhere.test/y"]
    assert [m.url for m in first.media] == [
        "https://shop.example.test/blank.gif",
        "https://shop.example.test/a.jpg",
        "https://shop.example.test/b.jpg",
    ]
    keys = {i.key for i in first.indicators}
    assert {"signal:+15555550123", "whatsapp:15555550124", "telegram:velvet_help"} <= keys
    assert "https://elsewhere.test/y" in keys
