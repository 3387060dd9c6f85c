"""Crypto transactions: CSV import with line and field, wallets by common-input ownership,
total received without change, visibility by the importer's marking."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Engine

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.domain.payments import Chain, synthetic_address
from cordon.domain.tlp import Tlp
from cordon.money import crypto, files
from cordon.store.db import read, write
from support import make_member

A, B, C, D, E, F = (synthetic_address(Chain.BTC, bytes([i])) for i in range(6))
HEADER = "chain,txid,time,direction,address,amount\n"


def _csv(*rows: tuple[str, str, str, str]) -> str:
    return HEADER + "".join(
        f"btc,{txid},2026-01-0{txid[-1]}T00:00:00Z,{d},{a},{v}\n" for txid, d, a, v in rows
    )


# tx1: E pays A and B (the merchant's receiving addresses).
# tx2: A and B are spent together (so one wallet) to C and D.
# tx3: D and F are spent together (another wallet) to C.
# tx4: C pays B again: income of the merchant's wallet.
# tx5: B pays C, with change back to A: the change is not income.
DATA = _csv(
    ("tx000001", "in", E, "1.5"),
    ("tx000001", "out", A, "1.0"),
    ("tx000001", "out", B, "0.4"),
    ("tx000002", "in", A, "1.0"),
    ("tx000002", "in", B, "0.4"),
    ("tx000002", "out", C, "1.2"),
    ("tx000002", "out", D, "0.19"),
    ("tx000003", "in", D, "0.19"),
    ("tx000003", "in", F, "0.3"),
    ("tx000003", "out", C, "0.48"),
    ("tx000004", "in", C, "0.25"),
    ("tx000004", "out", B, "0.25"),
    ("tx000005", "in", B, "0.25"),
    ("tx000005", "out", C, "0.2"),
    ("tx000005", "out", A, "0.05"),
)


def test_bad_rows_are_named_by_line_and_field() -> None:
    text = HEADER + (
        f"btc,tx000001,2026-01-01T00:00:00Z,in,{E},1\n"
        f"btc,tx000001,2026-01-01T00:00:00,out,{A},1\n"
        f"btc,tx000001,2026-01-01T00:00:00Z,sideways,{A},1\n"
        f"btc,tx000001,2026-01-01T00:00:00Z,out,{A[:-1]}x,1\n"
        f"btc,tx000001,2026-01-01T00:00:00Z,out,{A},-2\n"
        f"doge,tx000001,2026-01-01T00:00:00Z,out,{A},1\n"
        f"btc,tx000002,2026-01-02T00:00:00Z,in,{A},1\n"
    )
    _, errors = files.read_transactions(text)
    assert [(e.line, e.field) for e in errors] == [
        (3, "time"),
        (4, "direction"),
        (5, "address"),
        (6, "amount"),
        (7, "chain"),
        (2, "direction"),  # once its bad rows are left out, tx000001 has no output
        (8, "direction"),  # tx000002 has none either
    ]
    with pytest.raises(files.FileFormatError, match="lacks column"):
        files.read_transactions("chain,txid\n")


def test_common_input_ownership_groups_addresses_and_totals_exclude_change(
    engine: Engine, clock: FrozenClock
) -> None:
    txs, errors = files.read_transactions(DATA)
    assert not errors
    with write(engine) as conn:
        analyst = make_member(conn, clock, org_type="law_enforcement")
        outsider = make_member(conn, clock, org_type="hotline")
        provider = make_member(conn, clock, org_type="payment_provider")
        done = crypto.import_transactions(
            conn, clock, analyst, Actor.of(analyst, source="cli"), txs, tlp=Tlp.AMBER_STRICT
        )
        again = crypto.import_transactions(
            conn, clock, analyst, Actor.of(analyst, source="cli"), txs, tlp=Tlp.AMBER_STRICT
        )
    assert (done.created, done.already_present) == (5, 0)
    assert (again.created, again.already_present) == (0, 5)
    with read(engine) as conn:
        wallets = crypto.wallets(conn, analyst, "btc")
        merchant = crypto.wallet_of(conn, analyst, f"btc:{A}")
        hidden = crypto.wallet_of(conn, outsider, f"btc:{A}")
        nothing = crypto.wallets(conn, provider, "btc")
    assert merchant is not None
    assert merchant.addresses == tuple(sorted(f"btc:{x}" for x in (A, B)))
    # 1.0 + 0.4 from E and 0.25 from C; what it sends itself is not income.
    assert merchant.total_received == Decimal("1.65")
    assert merchant.transactions == 4
    groups = sorted(sorted(a.split(":")[1] for a in w.addresses) for w in wallets)
    assert groups == sorted([sorted([A, B]), sorted([D, F]), [C], [E]])
    c_wallet = next(w for w in wallets if w.addresses == (f"btc:{C}",))
    assert c_wallet.total_received == Decimal("1.88")
    d_wallet = next(w for w in wallets if f"btc:{D}" in w.addresses)
    assert d_wallet.total_received == Decimal("0.19")
    assert hidden is None  # AMBER+STRICT: the importer's organisation only
    assert nothing == []
