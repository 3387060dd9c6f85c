"""Crypto transactions: import, and addresses grouped into wallets.

Wallets follow the common-input-ownership heuristic: the addresses spent together as inputs of
one transaction are taken to be held by one owner, and the groups are closed over shared
addresses (union-find). It applies to UTXO chains (BTC, LTC, BCH); on account chains (ETH,
TRX, XMR rows) every address is a wallet of its own. The heuristic is wrong for CoinJoin and
similar collaborative transactions; a wallet is a lead, not a finding.

Total received by a wallet: the outputs paid to its addresses by transactions none of whose
inputs are its own, so that change returning to the wallet is not counted as income.

Transaction data is a shared record of the organisation that imported it, under its TLP
marking; wallets are computed over the transactions the reader may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, select

from cordon.audit import log as audit
from cordon.clock import Clock
from cordon.domain.partners import Principal
from cordon.domain.tlp import Tlp
from cordon.money.files import TxIn
from cordon.store import access
from cordon.store.tables_money import crypto_tx, crypto_tx_io

KIND = "crypto_tx"
UTXO_CHAINS = frozenset({"btc", "ltc", "bch"})


@dataclass(frozen=True)
class ImportResult:
    created: int
    already_present: int


@dataclass(frozen=True)
class Wallet:
    """A group of addresses taken to have one owner.

    ``addresses`` are ``chain:address`` keys, sorted; ``transactions`` counts the visible
    transactions touching it; ``total_received`` is in coin units.
    """

    chain: str
    addresses: tuple[str, ...]
    transactions: int
    total_received: Decimal
    first_seen_at: datetime | None
    last_seen_at: datetime | None

    @property
    def id(self) -> str:
        """A stable name: the first address of the group."""
        return self.addresses[0]


def import_transactions(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    txs: Sequence[TxIn],
    *,
    tlp: Tlp = Tlp.AMBER,
    share_with: Sequence[int] = (),
) -> ImportResult:
    """Store transactions as the principal's organisation's records, in the caller's
    transaction. A transaction it imported before (same chain and txid) is left as it is."""
    now = clock.now()
    created: list[int] = []
    present = 0
    for tx in txs:
        exists = conn.execute(
            select(crypto_tx.c.id).where(
                crypto_tx.c.owner_org_id == principal.org_id,
                crypto_tx.c.chain == tx.chain,
                crypto_tx.c.txid == tx.txid,
            )
        ).first()
        if exists is not None:
            present += 1
            continue
        tid = int(
            conn.execute(
                crypto_tx.insert()
                .values(
                    owner_org_id=principal.org_id,
                    tlp=tlp.value,
                    chain=tx.chain,
                    txid=tx.txid,
                    occurred_at=tx.time,
                    imported_at=now,
                )
                .returning(crypto_tx.c.id)
            ).scalar_one()
        )
        rows: list[dict[str, Any]] = [
            {"tx_id": tid, "direction": "in", "address_key": a, "amount": str(v), "position": i}
            for i, (a, v) in enumerate(tx.inputs)
        ] + [
            {"tx_id": tid, "direction": "out", "address_key": a, "amount": str(v), "position": i}
            for i, (a, v) in enumerate(tx.outputs)
        ]
        conn.execute(crypto_tx_io.insert(), rows)
        access.set_sharing(
            conn,
            KIND,
            tid,
            org_ids=share_with if tlp is Tlp.AMBER else (),
            red_user_ids=[principal.user_id] if tlp is Tlp.RED else [],
        )
        created.append(tid)
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:crypto_tx:import",
        object_kind=KIND,
        object_ids=list(created),
        details={"created": len(created), "already_present": present, "tlp": tlp.value},
    )
    return ImportResult(len(created), present)


def _visible(principal: Principal) -> ColumnElement[bool]:
    return access.visible(
        principal,
        KIND,
        id_col=crypto_tx.c.id,
        owner_col=crypto_tx.c.owner_org_id,
        tlp_col=crypto_tx.c.tlp,
    )


def wallets(conn: Connection, principal: Principal, chain: str) -> list[Wallet]:
    """Every wallet of ``chain`` over the transactions the principal may see, largest total
    received first."""
    rows = conn.execute(
        select(
            crypto_tx.c.id,
            crypto_tx.c.occurred_at,
            crypto_tx_io.c.direction,
            crypto_tx_io.c.address_key,
            crypto_tx_io.c.amount,
        )
        .join(crypto_tx_io, crypto_tx_io.c.tx_id == crypto_tx.c.id)
        .where(crypto_tx.c.chain == chain, _visible(principal))
        .order_by(crypto_tx.c.id, crypto_tx_io.c.direction, crypto_tx_io.c.position)
    ).all()
    txs: dict[int, dict[str, Any]] = {}
    for r in rows:
        tx = txs.setdefault(int(r.id), {"at": r.occurred_at, "in": [], "out": []})
        tx[r.direction].append((r.address_key, Decimal(r.amount)))
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(x: str, y: str) -> None:
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)

    for tx in txs.values():
        addresses = [a for a, _ in tx["in"]] + [a for a, _ in tx["out"]]
        for a in addresses:
            find(a)
        if chain in UTXO_CHAINS:
            inputs = [a for a, _ in tx["in"]]
            for a in inputs[1:]:
                union(inputs[0], a)
    received: dict[str, Decimal] = {}
    touched: dict[str, set[int]] = {}
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    for tid, tx in txs.items():
        own_inputs = {find(a) for a, _ in tx["in"]}
        for a, amount in tx["out"]:
            w = find(a)
            if w not in own_inputs:
                received[w] = received.get(w, Decimal(0)) + amount
        for a, _ in tx["in"] + tx["out"]:
            w = find(a)
            touched.setdefault(w, set()).add(tid)
            first[w] = min(first.get(w, tx["at"]), tx["at"])
            last[w] = max(last.get(w, tx["at"]), tx["at"])
    groups: dict[str, list[str]] = {}
    for a in parent:
        groups.setdefault(find(a), []).append(a)
    out = [
        Wallet(
            chain=chain,
            addresses=tuple(sorted(members)),
            transactions=len(touched.get(root, ())),
            total_received=received.get(root, Decimal(0)),
            first_seen_at=first.get(root),
            last_seen_at=last.get(root),
        )
        for root, members in groups.items()
    ]
    return sorted(out, key=lambda w: (-w.total_received, w.id))


def wallet_of(conn: Connection, principal: Principal, address_key: str) -> Wallet | None:
    """The wallet holding ``address_key`` (``chain:address``), or None when no visible
    transaction names it."""
    chain = address_key.split(":", 1)[0]
    for wallet in wallets(conn, principal, chain):
        if address_key in wallet.addresses:
            return wallet
    return None


def wallet_as_dict(w: Wallet) -> dict[str, Any]:
    return {
        "id": w.id,
        "chain": w.chain,
        "addresses": [a.split(":", 1)[1] for a in w.addresses],
        "transactions": w.transactions,
        "total_received": str(w.total_received),
        "first_seen_at": None if w.first_seen_at is None else w.first_seen_at.isoformat(),
        "last_seen_at": None if w.last_seen_at is None else w.last_seen_at.isoformat(),
    }
