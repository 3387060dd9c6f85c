"""Against the synthetic world's ground truth: every payment identifier is recorded and linked
to its sites; every test purchase imports (through ``cordon purchase import``) and reaches its
payment provider; descriptor variants of one merchant are linked and those of different
merchants are not."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from cordon.audit.log import Actor
from cordon.cli.main import app
from cordon.clock import FrozenClock
from cordon.domain.payments import extract_payment_identifiers
from cordon.money import descriptors, purchases, repo, sightings
from cordon.money.model import PurchaseIn
from cordon.store.db import make_engine, read, write
from cordon.store.tables_money import test_purchase
from cordon.world.generate import generate
from cordon.world.model import GroundTruth
from cordon.world.spec import WorldSpec
from support import make_member

STAGE = Actor(source="stage")
runner = CliRunner()


@pytest.fixture(scope="module")
def truth() -> GroundTruth:
    return generate(WorldSpec(seed=11, sites=100))


@pytest.fixture
def world_engine(fresh_db: str) -> Iterator[Engine]:
    eng = make_engine(fresh_db)
    yield eng
    eng.dispose()


def _checkout_url(truth: GroundTruth, account: str) -> str:
    psp_id, _, acct = account.partition(":")
    psp = truth.payment_provider(psp_id)
    return f"https://{psp.checkout_host}{psp.checkout_path.format(account=acct)}"


def test_every_identifier_and_test_purchase_of_the_world_is_recorded_and_linked(
    truth: GroundTruth,
    world_engine: Engine,
    fresh_db: str,
    clock: FrozenClock,
    tmp_path: Path,
    key_dir: Path,
) -> None:
    engine = world_engine
    owners: dict[str, int] = {}
    with write(engine) as conn:
        for psp in truth.payment_providers:
            member = make_member(
                conn, clock, org_type="payment_provider", role="admin", org_name=psp.name
            )
            owners[psp.id] = member.org_id
            actor = Actor.of(member, source="cli")
            repo.register_ownership(
                conn,
                clock,
                member,
                actor,
                kind="checkout_provider",
                value=psp.checkout_name,
                spec={
                    "hosts": [psp.checkout_host],
                    "path": psp.checkout_path,
                    "account_case": "preserve",
                },
            )
            bins = {t.acquirer_bin for t in truth.test_purchases if t.payment_provider == psp.id}
            for bin_ in sorted(bins):
                repo.register_ownership(
                    conn, clock, member, actor, kind="acquirer_bin_range", value=bin_
                )
        make_member(conn, clock, org_type="payment_provider", org_name="Purchaser")

    # The crawler's part, played here: each site's payment page is read by the extractor and
    # every identifier found is recorded at that page.
    expected: dict[str, set[str]] = {}
    with write(engine) as conn:
        registry = repo.registry(conn)
        for site in truth.sites:
            shown = site.identifiers
            if not (shown.btc or shown.eth or shown.accounts):
                continue
            lines = [*shown.btc, *shown.eth, *(_checkout_url(truth, a) for a in shown.accounts)]
            page = "<html><body><p>Pay with " + "</p><p>".join(lines) + "</p></body></html>"
            page_url = f"https://{site.domain}{site.payment_page or '/'}"
            url_id = repo.url_id_for(conn, clock.now(), page_url)
            for found in extract_payment_identifiers(page, registry=registry):
                sightings.record_sighting(
                    conn, clock, STAGE, found, url_id, evidence={"context": found.context}
                )
            for a in shown.btc:
                expected.setdefault(f"btc:{a}", set()).add(site.domain)
            for a in shown.eth:
                expected.setdefault(f"eth:{a}", set()).add(site.domain)
            for a in shown.accounts:
                psp_id, _, acct = a.partition(":")
                name = truth.payment_provider(psp_id).name.lower()
                expected.setdefault(f"{name}:{acct}", set()).add(site.domain)
    missing: list[str] = []
    wrong_owner: list[str] = []
    with read(engine) as conn:
        for key, domains in sorted(expected.items()):
            ident = repo.identifier_by_key(conn, key)
            if ident is None:
                missing.append(key)
                continue
            sites = {s.site for s in repo.sightings_of(conn, [ident.id], visible_to=None)}
            if sites != domains:
                missing.append(f"{key}: sites {sorted(sites)} != {sorted(domains)}")
            if ident.provider is not None:
                psp = next(p for p in truth.payment_providers if p.name.lower() == ident.provider)
                if ident.owner_org_id != owners[psp.id]:
                    wrong_owner.append(key)
    print(f"world identifiers: {len(expected)} expected, {len(missing)} missing or mislinked")
    assert not missing, missing
    assert not wrong_owner, wrong_owner

    # Every test purchase imports through the CLI, all at once.
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "date",
            "site_url",
            "scheme",
            "descriptor",
            "merchant_id",
            "acquirer_bin",
            "mcc",
            "amount",
            "currency",
            "provider",
            "account",
            "idempotency_key",
        ]
    )
    for t in truth.test_purchases:
        site = truth.site(t.site)
        writer.writerow(
            [
                t.date.isoformat(),
                f"https://{site.domain}/",
                t.scheme,
                t.merchant_descriptor,
                t.merchant_id,
                t.acquirer_bin,
                t.mcc,
                t.amount,
                t.currency,
                truth.payment_provider(t.payment_provider).name,
                t.account,
                t.id,
            ]
        )
    path = tmp_path / "purchases.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    with write(engine) as conn:
        buyer = make_member(conn, clock, org_type="payment_provider", role="analyst")
    buyer_email = _email_of(engine, buyer.org_id)
    env = {"CORDON_DATABASE_URL": fresh_db, "CORDON_KEY_DIR": str(key_dir)}
    result = runner.invoke(app, ["purchase", "import", str(path), "--as", buyer_email], env=env)
    assert result.exit_code == 0, result.output
    assert f"{len(truth.test_purchases)} test purchase(s) stored" in result.output
    again = runner.invoke(app, ["purchase", "import", str(path), "--as", buyer_email], env=env)
    assert f"{len(truth.test_purchases)} already stored" in again.output
    with read(engine) as conn:
        assert conn.execute(select(func.count()).select_from(test_purchase)).scalar_one() == len(
            truth.test_purchases
        )
        for t in truth.test_purchases:
            card = repo.identifier_by_key(conn, f"card:{t.acquirer_bin}:{t.merchant_id}")
            assert card is not None
            assert card.owner_org_id == owners[t.payment_provider], t.id

    # `cordon money show` tells the owner what it owns, and nobody else.
    owner_email = _email_of(engine, owners[truth.test_purchases[0].payment_provider])
    first = truth.test_purchases[0]
    shown = runner.invoke(
        app,
        ["money", "show", f"card:{first.acquirer_bin}:{first.merchant_id}", "--as", owner_email],
        env=env,
    )
    assert shown.exit_code == 0, shown.output
    assert f"merchant id {first.merchant_id}" in shown.output
    other = next(o for p, o in owners.items() if p != first.payment_provider)
    refused = runner.invoke(
        app,
        [
            "money",
            "show",
            f"card:{first.acquirer_bin}:{first.merchant_id}",
            "--as",
            _email_of(engine, other),
        ],
        env=env,
    )
    assert refused.exit_code != 0
    assert "that you may see" in refused.output


def _email_of(engine: Engine, org_id: int) -> str:
    from cordon.store.tables import app_user, membership

    with read(engine) as conn:
        return str(
            conn.execute(
                select(app_user.c.email)
                .join(membership, membership.c.user_id == app_user.c.id)
                .where(membership.c.org_id == org_id)
                .limit(1)
            ).scalar_one()
        )


def _variants(descriptor: str, rng: random.Random) -> list[str]:
    """How one merchant's descriptor shows up on statements and receipts."""
    word, _, rest = descriptor.partition("*")
    kind = rest.split()[0]
    city = rest.split()[-1]
    return [
        descriptor,
        f"{word} {kind} LTD",
        f"SQ *{word} {kind}",
        f"{word}*{kind} {rng.randint(1000, 9999)}",
        f"WWW.{word}-{kind}.TEST",
        f"{word} {kind}   {city}   GB",
        f"{word[:-1]}{kind[0]}{kind[1:]}" if len(word) > 5 else f"{word}{kind}",  # typo/joined
        f"PAYPAL *{word}{kind}"[:22],
    ]


def test_descriptor_variants_of_one_merchant_are_linked_and_others_are_not(
    engine: Engine, clock: FrozenClock
) -> None:
    # Merchants of three worlds. A merchant is its trading name: accounts of different
    # networks that trade under the same name print the same descriptor, which no linker
    # can tell apart (their merchant ids do).
    names: dict[str, str] = {}
    for seed in (11, 12, 3):
        for account in generate(WorldSpec(seed=seed, sites=100)).accounts:
            names.setdefault(account.merchant_descriptor.split("*")[0], account.merchant_descriptor)
    rng = random.Random(7)
    truth_of: dict[str, str] = {}
    rows: list[tuple[int, PurchaseIn, str | None]] = []
    for n, (name, descriptor) in enumerate(sorted(names.items())):
        for v, text in enumerate(_variants(descriptor, rng)):
            text = " ".join(text.split())
            if text in truth_of:
                continue
            truth_of[text] = name
            rows.append(
                (
                    len(rows) + 2,
                    PurchaseIn.model_validate(
                        {
                            "date": "2026-02-01T00:00:00Z",
                            "site_url": f"https://m{n}.test/",
                            "scheme": "visa",
                            "descriptor": text,
                            "merchant_id": f"{n:07d}{v:08d}",
                            "acquirer_bin": "400000",
                            "amount": "9.99",
                            "currency": "EUR",
                        }
                    ),
                    None,
                )
            )
    with write(engine) as conn:
        analyst = make_member(conn, clock, org_type="payment_provider")
        purchases.import_rows(
            conn, clock, analyst, Actor.of(analyst, source="cli"), rows, channel="import"
        )
        groups = descriptors.merchants(conn, analyst)
    predicted = {frozenset(p) for g in groups for p in combinations([d.text for d in g], 2)}
    actual = {
        frozenset((a, b))
        for a, b in combinations(sorted(truth_of), 2)
        if truth_of[a] == truth_of[b]
    }
    true_pos = len(predicted & actual)
    precision = true_pos / len(predicted) if predicted else 1.0
    recall = true_pos / len(actual)
    print(
        f"descriptor linking: {len(truth_of)} descriptors of {len(names)} merchants, "
        f"{len(actual)} true pairs, precision {precision:.3f}, recall {recall:.3f}"
    )
    assert precision >= 0.95
    assert recall >= 0.95
