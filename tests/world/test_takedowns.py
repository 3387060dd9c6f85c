"""Controls, the world's clock, the SMTP sink and the abuse desks change the running world."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage

import pytest

from cordon.world import NameNotFound, WorldError, WorldHandle
from cordon.world.model import Site


@pytest.fixture
def world(mutable_world: WorldHandle) -> Iterator[WorldHandle]:
    return mutable_world


def _sites(world: WorldHandle, role: str = "storefront") -> Iterator[Site]:
    return (s for s in world.truth.sites if s.role == role and not s.hops)


def _alone_on_address(world: WorldHandle, site: Site) -> bool:
    return sum(s.hosting.address == site.hosting.address for s in world.truth.sites) == 1


def _notice(to: str, site: Site, world: WorldHandle, *, as_json: bool = False) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "notices@cordon.example"
    message["To"] = to
    message["Subject"] = "Notice of hosted material"
    if as_json:
        message.set_content("Details attached.")
        report = {"Category": "content", "Source": {"Url": world.url(site, "/gallery/2")}}
        message.add_attachment(
            json.dumps(report).encode(),
            maintype="application",
            subtype="json",
            filename="report.json",
        )
    else:
        message.set_content(f"Please remove the material at {world.url(site)} .")
    return message


def test_site_taken_down_by_its_host_refuses_or_answers_404(world: WorldHandle) -> None:
    dedicated = next(
        s for s in _sites(world) if s.hosting.cdn is None and _alone_on_address(world, s)
    )
    shared = next(
        s
        for s in world.truth.sites
        if s.hosting.cdn is None and not s.hops and not _alone_on_address(world, s)
    )
    world.take_down(dedicated.id)
    with pytest.raises(ConnectionRefusedError):
        world.fetch(world.url(dedicated))
    world.take_down(shared.id)
    assert world.fetch(world.url(shared, "/")).status == 404
    state = world.bring_back(dedicated.id)
    assert state["up"] is True
    assert world.fetch(world.url(dedicated)).status == 200
    world.bring_back(shared.id)
    assert world.fetch(world.url(shared)).status in (200, 301, 302, 403)


def test_registrar_hold_stops_resolution_and_cdn_suspension_answers_403(
    world: WorldHandle,
) -> None:
    site = next(s for s in _sites(world) if s.hosting.cdn)
    world.take_down(site.id, by="cdn")
    assert world.fetch(world.url(site)).status == 403
    world.take_down(site.id, by="registrar")
    with pytest.raises(NameNotFound):
        world.resolve(site.domain)
    world.bring_back(site.id)
    assert world.fetch(world.url(site)).status == 200
    kinds = [(e["kind"], e["detail"].get("by")) for e in world.events() if e["site"] == site.id]
    assert kinds[-3:] == [("takedown", "cdn"), ("takedown", "registrar"), ("restored", None)]


def test_host_takedown_behind_a_cdn_gives_502_at_the_edge(world: WorldHandle) -> None:
    site = next(s for s in _sites(world) if s.hosting.cdn)
    world.take_down(site.id, by="host")
    assert world.fetch(world.url(site)).status == 502
    world.bring_back(site.id)


def test_a_moved_site_resolves_to_its_new_provider(world: WorldHandle) -> None:
    site = next(s for s in _sites(world) if s.hosting.cdn is None)
    target = next(
        p for p in world.truth.providers if p.kind == "hosting" and p.id != site.hosting.provider
    )
    state = world.move(site.id, target.id)
    address = state["vhosts"][0]["address"]
    assert world.truth.block_of(address).holder == target.id
    assert world.resolve(site.domain) == [address]
    assert world.fetch(world.url(site)).status == 200
    with pytest.raises(WorldError, match="not a hosting provider"):
        world.move(site.id, "P01")


def test_sink_keeps_every_message_for_tests_to_read(world: WorldHandle) -> None:
    before = len(world.messages())
    message = EmailMessage()
    message["From"] = "someone@cordon.example"
    message["To"] = "nobody@elsewhere.test"
    message["Subject"] = "Hello sink"
    message.set_content("Just a message.")
    world.send_mail(message)
    received = world.messages(since=before)
    assert len(received) == 1
    assert received[0].subject == "Hello sink"
    assert received[0].rcpt_tos == ["nobody@elsewhere.test"]
    assert received[0].message.get_content().strip() == "Just a message."
    assert received[0].desks == []


def _site_at(world: WorldHandle, acts: str) -> tuple[Site, str, str]:
    """A live site whose host (or CDN) desk acts as ``acts``: (site, mailbox, state flag)."""
    candidates = [s for s in world.truth.sites if s.role in ("storefront", "noise", "unrelated")]
    for provider in world.truth.providers:
        if provider.desk.acts != acts:
            continue
        cdn = provider.kind == "cdn"
        for site in candidates:
            if site.hops or (site.hosting.cdn if cdn else site.hosting.provider) != provider.id:
                continue
            state = world.site_state(site.id)
            vhost = state["vhosts"][0]
            if state["up"] and vhost["provider"] == site.hosting.provider:
                return site, provider.abuse_email, "cdn_down" if cdn else "host_down"
    raise AssertionError(f"no live site at a provider whose desk acts {acts}")


def test_notice_to_a_responsive_provider_takes_its_site_down(world: WorldHandle) -> None:
    site, mailbox, flag = _site_at(world, "first_notice")
    world.send_mail(_notice(mailbox, site, world))
    mail = world.messages()[-1]
    assert mail.sites == [site.id]
    assert mail.actions[0]["outcome"] == "acted"
    state = world.site_state(site.id)
    assert state["vhosts"][0][flag] is True
    assert state["up"] is False
    try:
        status = world.fetch(world.url(site)).status
    except ConnectionRefusedError:
        status = 0  # the site had its address to itself: the host closed it
    assert status in (0, 403, 404)
    world.bring_back(site.id)


def test_a_desk_that_waits_for_notices_acts_on_the_nth(world: WorldHandle) -> None:
    site, mailbox, flag = _site_at(world, "after_notices")
    provider = next(p for p in world.truth.providers if p.abuse_email == mailbox)
    for n in range(provider.desk.notices):
        assert world.site_state(site.id)["vhosts"][0][flag] is False, n
        world.send_mail(_notice(mailbox, site, world, as_json=True))
    assert world.site_state(site.id)["vhosts"][0][flag] is True
    assert world.messages()[-1].domains == [site.domain]
    world.bring_back(site.id)


def test_a_slow_desk_acts_after_its_delay_on_the_worlds_clock(world: WorldHandle) -> None:
    site, mailbox, flag = _site_at(world, "after_delay")
    delay = next(p for p in world.truth.providers if p.abuse_email == mailbox).desk.delay_seconds
    world.send_mail(_notice(mailbox, site, world))
    assert world.messages()[-1].actions[0]["outcome"] == "scheduled"
    world.advance(timedelta(seconds=delay - 1))
    assert world.site_state(site.id)["vhosts"][0][flag] is False
    world.advance(timedelta(seconds=1))
    assert world.site_state(site.id)["vhosts"][0][flag] is True
    world.bring_back(site.id)


def test_a_desk_that_never_acts_keeps_the_site_up(world: WorldHandle) -> None:
    site, mailbox, _ = _site_at(world, "never")
    for _ in range(3):
        world.send_mail(_notice(mailbox, site, world))
    assert world.messages()[-1].actions[0]["outcome"] == "ignored"
    assert world.site_state(site.id)["up"] is True


def test_payment_provider_closes_the_account_a_notice_names(world: WorldHandle) -> None:
    truth = world.truth
    for psp in truth.payment_providers:
        if psp.desk.acts != "first_notice":
            continue
        account = next((a for a in truth.accounts if a.psp == psp.id), None)
        if account is None:
            continue
        message = EmailMessage()
        message["From"] = "alerts@cordon.example"
        message["To"] = psp.abuse_email
        message["Subject"] = "Merchant alert"
        message.set_content(f"Merchant account {account.account} takes payments for a network.")
        world.send_mail(message)
        checkout = world.rebase(
            f"https://{psp.checkout_host}{psp.checkout_path.format(account=account.account)}"
        )
        assert world.fetch(checkout).status == 410
        world.reopen_account(f"{psp.id}:{account.account}")
        assert world.fetch(checkout).status == 200
        return
    pytest.skip("no payment provider that acts on the first notice")


def test_domain_hops_happen_on_the_worlds_clock(world: WorldHandle) -> None:
    hopper = next(s for s in world.truth.sites if s.hops)
    hop = hopper.hops[0]
    with pytest.raises(NameNotFound):
        world.resolve(hop.domain)
    clock = world.linked_clock()
    clock.set(hop.at)
    assert world.now() == hop.at == clock.now()
    assert world.resolve(hop.domain) == [hop.hosting.address]
    assert world.site_state(hopper.id)["domain"] == hop.domain
    old = world.url(hopper.domain)
    if hop.old_domain == "redirect":
        answer = world.fetch(old)
        assert answer.status == 301
        assert hop.domain in answer.headers["location"]
    else:
        with pytest.raises(NameNotFound):
            world.resolve(hopper.domain)
    assert world.fetch(world.url(hopper)).status == 200
    clock.advance(timedelta(hours=1))
    assert world.now() == hop.at + timedelta(hours=1)
