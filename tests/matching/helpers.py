"""Helpers for the matching tests: banks made through the banks package, hashes at chosen
distances, queries."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import Connection, select

from cordon.audit.log import Actor
from cordon.banks import model as banks_model
from cordon.banks import repo as banks
from cordon.clock import FrozenClock
from cordon.domain.partners import Principal
from cordon.store.tables_banks import bank as bank_table
from cordon.store.tables_banks import bank_entry

ACTOR = Actor(source="cli")


def make_bank(
    conn: Connection, clock: FrozenClock, owner: Principal, name: str, **options: Any
) -> int:
    """A bank owned by ``owner``'s organisation; returns its id."""
    options.setdefault("signal_types", ["pdq", "photo_md5", "photo_sha256"])
    spec = banks_model.BankIn(name=name, **options)
    return banks.create_bank(conn, clock, owner, ACTOR, spec).id


def add_entries(
    conn: Connection,
    clock: FrozenClock,
    owner: Principal,
    bank: str,
    signals: list[tuple[str, str]],
    classification: str | None = None,
) -> list[int]:
    """Add ``(signal_type, signal)`` entries; returns their ids in the order given."""
    entries = [
        banks_model.EntryIn(signal_type=t, signal=s, classification=classification)
        for t, s in signals
    ]
    banks.add_entries(conn, clock, owner, ACTOR, bank, entries)
    bank_id = conn.execute(select(bank_table.c.id).where(bank_table.c.name == bank)).scalar_one()
    ids = []
    for t, s in signals:
        ids.append(
            int(
                conn.execute(
                    select(bank_entry.c.id).where(
                        bank_entry.c.bank_id == bank_id,
                        bank_entry.c.signal_type == t,
                        bank_entry.c.signal == s.lower(),
                    )
                ).scalar_one()
            )
        )
    return ids


def random_pdq(rng: random.Random) -> str:
    return rng.getrandbits(256).to_bytes(32, "big").hex()


def at_distance(signal: str, d: int, rng: random.Random) -> str:
    """A PDQ hash exactly ``d`` bits away from ``signal``."""
    value = int(signal, 16)
    for bit in rng.sample(range(256), d):
        value ^= 1 << bit
    return value.to_bytes(32, "big").hex()
