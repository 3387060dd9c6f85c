"""Each server of a running world answers as the ground truth says."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import socket
import ssl

import dns.message
import dns.query
import dns.rcode
import httpx
import maxminddb
import pytest
from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes

from cordon.config import load_settings
from cordon.world import NameNotFound, WorldHandle
from cordon.world.model import Site


def _storefront(world: WorldHandle, **want: object) -> Site:
    for site in world.truth.sites:
        if (
            site.role == "storefront"
            and not site.hops
            and all(getattr(site, k) == v if not callable(v) else v(site) for k, v in want.items())
        ):
            return site
    raise AssertionError(f"no storefront with {want}")


def test_world_toml_is_a_cordon_configuration(world: WorldHandle) -> None:
    settings = load_settings(world.config_file, environ={})
    assert settings.dns.resolvers == [f"127.0.0.1:{world.endpoints.dns_port}"]
    assert settings.smtp.port == world.endpoints.smtp_port
    assert settings.smtp.starttls is False
    assert settings.ipdb.asn_database is not None
    assert settings.ipdb.asn_database.is_file()
    assert settings.ipdb.country_database is not None
    assert settings.ipdb.country_database.is_file()
    assert settings.rdap.bootstrap_dir is not None
    assert (settings.rdap.bootstrap_dir / "dns.json").is_file()
    assert [p.resolve() for p in settings.crawl.ca_files] == [world.ca_file.resolve()]
    allowed = [ipaddress.ip_network(n) for n in settings.crawl.allow_networks]
    assert sorted(map(str, allowed)) == sorted(b.cidr for b in world.truth.blocks)
    assert not any(n.overlaps(ipaddress.ip_network("127.0.0.0/16")) for n in allowed)
    assert set(settings.crawl.extra_ports) == {
        world.endpoints.http_port,
        world.endpoints.https_port,
    }


def test_a_name_resolves_to_its_providers_address(world: WorldHandle) -> None:
    truth = world.truth
    direct = _storefront(world, hosting=lambda s: s.hosting.cdn is None)
    assert world.resolve(direct.domain) == [direct.hosting.address]
    provider = truth.provider(direct.hosting.provider)
    assert truth.block_of(direct.hosting.address).holder == provider.id
    fronted = _storefront(world, hosting=lambda s: s.hosting.cdn is not None)
    assert world.resolve(fronted.domain) == [fronted.hosting.cdn_address]
    assert world.resolve(f"www.{fronted.domain}", "CNAME")[0].endswith(
        f".cdn.{truth.provider(str(fronted.hosting.cdn)).domain}."
    )
    assert world.resolve(f"www.{fronted.domain}") == [fronted.hosting.cdn_address]
    ns = world.resolve(direct.domain, "NS")
    assert ns == [f"{n}." for n in provider.nameservers]
    assert world.resolve(direct.domain, "MX") == [f"10 mail.{direct.domain}."]
    assert any("v=spf1" in t for t in world.resolve(direct.domain, "TXT"))


def test_dns_leaks_the_origin_of_some_cdn_sites(world: WorldHandle) -> None:
    leaky = [s for s in world.truth.sites if s.hosting.origin_leak and not s.hops]
    assert leaky
    for site in leaky:
        if site.hosting.origin_leak == "mx":
            assert world.resolve(f"mail.{site.domain}") == [site.hosting.address]
        else:
            assert f'"v=spf1 ip4:{site.hosting.address} -all"' in world.resolve(site.domain, "TXT")


def test_dns_refuses_the_internet_and_denies_unknown_names(world: WorldHandle) -> None:
    with pytest.raises(NameNotFound):
        world.resolve("no-such-site.test")
    query = dns.message.make_query("example.com", "A")
    reply = dns.query.udp(query, "127.0.0.1", port=world.endpoints.dns_port, timeout=5)
    assert reply.rcode() == dns.rcode.REFUSED
    tcp = dns.query.tcp(
        dns.message.make_query(world.truth.sites[0].domain, "A"),
        "127.0.0.1",
        port=world.endpoints.dns_port,
        timeout=5,
    )
    assert tcp.rcode() == dns.rcode.NOERROR
    assert tcp.answer
    with pytest.raises(NameNotFound):
        world.resolve(world.truth.sites[0].domain, "AAAA")


def test_rdap_gives_the_abuse_mailbox_of_network_asn_and_domain(world: WorldHandle) -> None:
    truth = world.truth
    site = _storefront(world, hosting=lambda s: s.hosting.cdn is None)
    provider = truth.provider(site.hosting.provider)
    bootstrap = json.loads((world.folder / "rdap-bootstrap" / "ipv4.json").read_text())
    base = bootstrap["services"][0][1][0]
    assert base == world.endpoints.rdap_url
    with httpx.Client(base_url=base, trust_env=False) as client:
        net = client.get(f"ip/{site.hosting.address}")
        assert net.status_code == 200
        assert net.headers["content-type"] == "application/rdap+json"
        body = net.json()
        assert body["objectClassName"] == "ip network"
        assert _abuse_emails(body) == [provider.abuse_email]
        asn = client.get(f"autnum/{provider.asn}").json()
        assert asn["handle"] == f"AS{provider.asn}"
        assert _abuse_emails(asn) == [provider.abuse_email]
        domain = client.get(f"domain/{site.domain}").json()
        registrar = truth.registrar(site.registrar)
        assert domain["ldhName"] == site.domain
        assert domain["entities"][0]["roles"] == ["registrar"]
        assert domain["entities"][0]["publicIds"][0]["identifier"] == str(registrar.iana_id)
        assert _abuse_emails(domain) == [registrar.abuse_email]
        missing = client.get("domain/no-such-site.test")
        assert missing.status_code == 404
        assert missing.json()["errorCode"] == 404
        assert client.get("ip/not-an-address").status_code == 400
    dns_bootstrap = json.loads((world.folder / "rdap-bootstrap" / "dns.json").read_text())
    assert dns_bootstrap["services"] == [[["test"], [base]]]


def _abuse_emails(obj: dict[str, object]) -> list[str]:
    found: list[str] = []
    for entity in obj.get("entities", []):  # type: ignore[attr-defined]
        if "abuse" in entity.get("roles", []):
            found += [p[3] for p in entity["vcardArray"][1] if p[0] == "email"]
        found += _abuse_emails(entity)
    return sorted(set(found))


def test_ip_database_gives_asn_and_country(world: WorldHandle) -> None:
    settings = world.settings()
    truth = world.truth
    spread = next(p for p in truth.providers if len(p.countries) == 2)
    assert settings.ipdb.asn_database
    assert settings.ipdb.country_database
    with (
        maxminddb.open_database(str(settings.ipdb.asn_database)) as asn_db,
        maxminddb.open_database(str(settings.ipdb.country_database)) as country_db,
    ):
        for block in truth.blocks:
            address = str(ipaddress.ip_network(block.cidr)[300])
            record = asn_db.get(address)
            assert isinstance(record, dict)
            assert record["autonomous_system_number"] == block.asn
            country = country_db.get(address)
            assert isinstance(country, dict)
            assert country["country"]["iso_code"] == block.country  # type: ignore[index]
        countries = {
            country_db.get(str(ipaddress.ip_network(b.cidr)[300]))["country"]["iso_code"]  # type: ignore[index]
            for b in truth.blocks
            if b.holder == spread.id
        }
        assert countries == set(spread.countries)
        assert asn_db.get("127.0.0.1") is None


def test_a_site_serves_its_pictures_as_the_truth_says(world: WorldHandle) -> None:
    truth = world.truth
    site = next(
        s
        for s in truth.sites
        if s.role == "storefront" and not s.hops and any(p.picture[0] == "K" for p in s.pictures)
    )
    page = world.fetch(world.url(site))
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    for placement in site.pictures:
        picture = truth.picture(placement.picture)
        if placement.embed == "data-uri":
            if placement.page == "/":
                match = re.search(r'src="data:image/[a-z]+;base64,([^"]+)"', page.text)
                assert match is not None
            continue
        host_site = truth.site(placement.host)
        fetched = world.fetch(world.url(host_site, placement.path))
        assert fetched.status == 200
        assert fetched.headers["content-type"] == f"image/{picture.format}"
        if picture.kind == "known":
            assert hashlib.md5(fetched.body).hexdigest() == picture.md5
        if picture.pdq:
            assert pdq_from_bytes(fetched.body)[0] == picture.pdq


def test_pages_embed_pictures_in_each_way_the_truth_names(world: WorldHandle) -> None:
    truth = world.truth
    patterns = {
        "img": ' src="{u}"',
        "srcset": 'srcset="{u} 1x"',
        "data-src": 'data-src="{u}"',
        "css": "background-image:url('{u}')",
    }
    checked = set()
    for site in truth.sites:
        if site.hops or site.role != "storefront":
            continue
        for placement in site.pictures:
            if placement.embed in checked or placement.embed == "data-uri":
                continue
            page = world.fetch(world.url(site, placement.page)).text
            url = placement.path
            if placement.host != site.domain:
                url = world.url(truth.site(placement.host), placement.path)
            assert patterns[placement.embed].format(u=url) in page, placement
            checked.add(placement.embed)
    assert checked == set(patterns)
    inline = next(
        (s, p) for s in truth.sites for p in s.pictures if p.embed == "data-uri" and not s.hops
    )
    page = world.fetch(world.url(inline[0], inline[1].page)).text
    blobs = re.findall(r'src="data:image/[a-z]+;base64,([^"]+)"', page)
    served = [base64.b64decode(b) for b in blobs]
    want = truth.picture(inline[1].picture)
    assert any(pdq_from_bytes(b)[0] == want.pdq for b in served)


def test_gateway_only_page_hides_payments_without_the_referrer(world: WorldHandle) -> None:
    site = _storefront(world, gateway=lambda s: s.gateway is not None)
    assert site.payment_page
    assert site.gateway
    url = world.url(site, site.payment_page)
    shown = site.identifiers.btc + site.identifiers.eth
    hidden = world.fetch(url)
    assert hidden.status == 200
    assert not any(identifier in hidden.text for identifier in shown)
    wrong = world.fetch(url, headers={"Referer": world.url(site)})
    assert not any(identifier in wrong.text for identifier in shown)
    gateway_page = world.fetch(world.url(site.gateway)).text
    assert url in gateway_page
    revealed = world.fetch(url, headers={"Referer": world.url(site.gateway)})
    assert all(identifier in revealed.text for identifier in shown)


def test_payment_page_shows_the_sites_identifiers_and_checkouts_work(world: WorldHandle) -> None:
    truth = world.truth
    site = _storefront(world, gateway=None, identifiers=lambda s: bool(s.identifiers.accounts))
    page = world.fetch(world.url(site, str(site.payment_page))).text
    for identifier in site.identifiers.btc + site.identifiers.eth + site.identifiers.emails:
        assert identifier in page
    for ref in site.identifiers.accounts:
        psp_id, account = ref.split(":")
        psp = truth.payment_provider(psp_id)
        checkout = world.rebase(
            f"https://{psp.checkout_host}{psp.checkout_path.format(account=account)}"
        )
        assert f'href="{checkout}?plan=vip"' in page
        answer = world.fetch(checkout)
        merchant = next(a for a in truth.accounts if a.account == account)
        assert answer.status == 200
        assert merchant.merchant_descriptor in answer.text


def test_redirect_chains_lead_to_their_storefront(world: WorldHandle) -> None:
    site = next(s for s in world.truth.sites if len(s.redirect_chain) >= 2)
    url = world.rebase(site.redirect_chain[0])
    hops = [url]
    for _ in range(6):
        answer = world.fetch(url)
        if answer.status not in (301, 302):
            break
        url = answer.headers["location"]
        hops.append(url)
    assert answer.status == 200
    assert hops[: len(site.redirect_chain)] == [world.rebase(u) for u in site.redirect_chain]


def test_https_verifies_against_the_world_ca_only(world: WorldHandle) -> None:
    secure = _storefront(world, https=True)
    plain = next(s for s in world.truth.sites if not s.https and s.role != "redirector")
    answer = world.fetch(world.url(secure))
    assert answer.status == 200
    insecure = world.fetch(world.url(secure, https=False))
    assert insecure.status == 301
    assert insecure.headers["location"] == world.url(secure)
    with pytest.raises(ssl.SSLCertVerificationError):
        world.fetch(world.url(plain, https=True))
    # The world's certificates mean nothing to a client that trusts only the system store.
    system_only = ssl.create_default_context()
    address = (world.resolve(secure.domain)[0], world.endpoints.https_port)
    with (
        socket.create_connection(address, timeout=5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        system_only.wrap_socket(raw, server_hostname=secure.domain)


def test_unknown_host_gets_the_servers_default_404(world: WorldHandle) -> None:
    site = _storefront(world, hosting=lambda s: s.hosting.cdn is None, https=False)
    address = site.hosting.address
    with httpx.Client(trust_env=False) as client:
        answer = client.get(
            f"http://{address}:{world.endpoints.http_port}/", headers={"Host": "not-here.test"}
        )
    assert answer.status_code == 404
    assert answer.headers["server"] == world.truth.provider(site.hosting.provider).server_header


def test_world_clock_starts_at_the_spec_start_and_dates_responses(world: WorldHandle) -> None:
    assert world.now() == world.truth.spec.start
    answer = world.fetch(world.url(world.truth.sites[0]))
    assert answer.headers["date"] == "Thu, 01 Jan 2026 00:00:00 GMT"


def test_nothing_served_is_written_to_the_world_folder(world: WorldHandle) -> None:
    files = sorted(str(p.relative_to(world.folder)) for p in world.folder.rglob("*") if p.is_file())
    assert files == [
        "ca/world-ca-key.pem",
        "ca/world-ca.pem",
        "cdn.json",
        "ground_truth.json",
        "ipdb/world-asn.mmdb",
        "ipdb/world-country.mmdb",
        "known.txt",
        "rdap-bootstrap/asn.json",
        "rdap-bootstrap/dns.json",
        "rdap-bootstrap/ipv4.json",
        "rdap-bootstrap/ipv6.json",
        "runtime.json",
        "serve.lock",
        "spec.json",
        "world.toml",
    ]


def test_control_rejects_bad_requests_with_a_clear_message(world: WorldHandle) -> None:
    with httpx.Client(base_url=world.endpoints.control_url, trust_env=False) as client:
        answer = client.post("clock/advance", json={"seconds": -5})
        assert answer.status_code == 400
        assert "seconds" in answer.json()["error"]
        answer = client.get("sites/no-such-site.test")
        assert answer.status_code == 404
        assert "no-such-site.test" in answer.json()["error"]
        answer = client.post(f"sites/{world.truth.sites[0].id}/down", json={"by": "everyone"})
        assert answer.status_code == 400
    assert world.site_state(world.truth.sites[0].id)["up"] is True
