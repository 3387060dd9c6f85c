"""Reading money files: test-purchase CSV and crypto-transaction CSV, every row checked first.

Test purchases (header row required): ``date``, ``site_url``, ``amount``, ``currency``
required; ``scheme``, ``descriptor``, ``merchant_id``, ``acquirer_bin``, ``mcc``,
``provider``, ``account``, ``outcome``, ``evidence_sha256``, ``note``, ``tlp``,
``idempotency_key`` optional. One row is one purchase.

Crypto transactions: ``chain``, ``txid``, ``time``, ``direction`` (``in`` or ``out``),
``address``, ``amount``; one row per input or output, rows of one transaction together or
not. A transaction's rows must agree on its time.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from cordon.domain.payments import Chain, InvalidPaymentIdentifier, parse_crypto_address
from cordon.money.model import PurchaseIn

PURCHASE_REQUIRED = ("date", "site_url", "amount", "currency")
PURCHASE_OPTIONAL = (
    "scheme",
    "descriptor",
    "merchant_id",
    "acquirer_bin",
    "mcc",
    "provider",
    "account",
    "outcome",
    "evidence_sha256",
    "note",
    "tlp",
    "idempotency_key",
)
TX_COLUMNS = ("chain", "txid", "time", "direction", "address", "amount")
_KEY_RE = re.compile(r"[\x21-\x7e]{1,200}")
_TXID_RE = re.compile(r"[0-9A-Za-z]{8,128}")


class FileFormatError(ValueError):
    """The file as a whole cannot be read (wrong header, not UTF-8)."""


@dataclass(frozen=True)
class RowError:
    """Why a row was refused."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, field {self.field}: {self.message}"


@dataclass(frozen=True)
class PurchaseRow:
    line: int
    purchase: PurchaseIn
    idempotency_key: str | None


def _check_header(header: list[str], required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in header]
    if missing:
        raise FileFormatError(f"CSV header lacks column(s): {', '.join(missing)}")
    unknown = [c for c in header if c not in required + optional]
    if unknown:
        raise FileFormatError(
            f"CSV header has unknown column(s): {', '.join(unknown)}; "
            f"allowed: {', '.join(required + optional)}"
        )


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "row"


def _records(
    lines: Iterable[str],
) -> tuple[csv.DictReader[str], Iterator[tuple[int, dict[str, str]] | RowError]]:
    reader = csv.DictReader(lines)

    def rows() -> Iterator[tuple[int, dict[str, str]] | RowError]:
        for record in reader:
            line = reader.line_num
            if None in record:
                yield RowError(line, "row", "more fields than the header has")
            elif any(v is None for v in record.values()):
                yield RowError(line, "row", "fewer fields than the header has")
            else:
                yield line, {k: v.strip() for k, v in record.items()}

    return reader, rows()


def read_purchases(text: str) -> tuple[list[PurchaseRow], list[RowError]]:
    """Every row of a test-purchase CSV, split into valid rows and errors (line and field)."""
    reader, rows = _records(io.StringIO(text, newline=""))
    _check_header(list(reader.fieldnames or []), PURCHASE_REQUIRED, PURCHASE_OPTIONAL)
    good: list[PurchaseRow] = []
    errors: list[RowError] = []
    for item in rows:
        if isinstance(item, RowError):
            errors.append(item)
            continue
        line, record = item
        key = record.pop("idempotency_key", "") or None
        if key is not None and not _KEY_RE.fullmatch(key):
            errors.append(RowError(line, "idempotency_key", "must be 1-200 printable characters"))
            continue
        data = {k: v for k, v in record.items() if v != ""}
        try:
            good.append(PurchaseRow(line, PurchaseIn.model_validate(data), key))
        except ValidationError as exc:
            errors.extend(
                RowError(line, _field(tuple(e["loc"])), str(e["msg"])) for e in exc.errors()
            )
    return good, errors


@dataclass
class TxIn:
    """One transaction of an import, assembled from its rows."""

    chain: str
    txid: str
    time: datetime
    line: int
    inputs: list[tuple[str, Decimal]] = field(default_factory=list)
    outputs: list[tuple[str, Decimal]] = field(default_factory=list)


_UTXO = {Chain.BTC.value, Chain.LTC.value, Chain.BCH.value}


def read_transactions(text: str) -> tuple[list[TxIn], list[RowError]]:
    """Transactions of a crypto-transaction CSV, and every row error (line and field).

    Addresses are validated for the row's chain and stored in normalised form; amounts are
    positive decimals in coin units; times carry a time zone.
    """
    reader, rows = _records(io.StringIO(text, newline=""))
    _check_header(list(reader.fieldnames or []), TX_COLUMNS, ())
    txs: dict[tuple[str, str], TxIn] = {}
    errors: list[RowError] = []
    for item in rows:
        if isinstance(item, RowError):
            errors.append(item)
            continue
        line, r = item
        bad = len(errors)
        chain = r["chain"].lower()
        if chain not in {c.value for c in Chain}:
            errors.append(RowError(line, "chain", f"unknown chain {r['chain']!r}"))
            continue
        if not _TXID_RE.fullmatch(r["txid"]):
            errors.append(RowError(line, "txid", "must be 8-128 letters or digits"))
        try:
            when = datetime.fromisoformat(r["time"].replace("Z", "+00:00"))
            if when.tzinfo is None:
                raise ValueError("no time zone")
        except ValueError:
            errors.append(RowError(line, "time", "must be ISO 8601 with a time zone"))
            when = None
        direction = r["direction"].lower()
        if direction not in ("in", "out"):
            errors.append(RowError(line, "direction", "must be in or out"))
        try:
            address = parse_crypto_address(r["address"], chain)
        except InvalidPaymentIdentifier as exc:
            errors.append(RowError(line, "address", exc.reason))
            address = None
        try:
            amount = Decimal(r["amount"])
            if not amount.is_finite() or amount <= 0:
                raise InvalidOperation
        except InvalidOperation:
            errors.append(RowError(line, "amount", "must be a positive decimal number"))
            amount = None
        if len(errors) > bad or when is None or address is None or amount is None:
            continue
        key = (chain, r["txid"])
        tx = txs.setdefault(key, TxIn(chain, r["txid"], when, line))
        if tx.time != when:
            errors.append(RowError(line, "time", f"differs from line {tx.line} of the same txid"))
            continue
        entry = (f"{chain}:{address.address}", amount)
        (tx.inputs if direction == "in" else tx.outputs).append(entry)
    for tx in txs.values():
        if not tx.outputs:
            errors.append(RowError(tx.line, "direction", f"transaction {tx.txid} has no output"))
        if tx.chain not in _UTXO and len(tx.inputs) > 1:
            errors.append(
                RowError(tx.line, "direction", f"a {tx.chain} transaction has one input at most")
            )
    return list(txs.values()), errors
