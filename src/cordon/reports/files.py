"""Reading report files: CSV and JSON Lines, every row checked before anything is stored.

CSV columns (header row required): ``url`` and ``tlp`` required; ``note``, ``source_ref``,
``idempotency_key`` and ``hashes`` optional, where ``hashes`` is ``type:hex`` pairs separated by
spaces or semicolons. One row is one report of one URL.

JSON Lines: one report per line, the body of ``POST /v1/reports`` plus an optional
``idempotency_key``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from cordon.reports.model import IdempotencyKey, ReportIn

REQUIRED_CSV = ("url", "tlp")
OPTIONAL_CSV = ("note", "source_ref", "idempotency_key", "hashes")
MAX_LINE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Row:
    """A valid row: its 1-based line number, the report and its idempotency key."""

    line: int
    report: ReportIn
    idempotency_key: str | None


@dataclass(frozen=True)
class RowError:
    """Why a row was refused."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, field {self.field}: {self.message}"


class FileFormatError(ValueError):
    """The file as a whole cannot be read (wrong header, not UTF-8, unknown format)."""


def _field_of(loc: tuple[Any, ...]) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _validate(line: int, data: dict[str, Any], key: Any) -> Row | list[RowError]:
    errors: list[RowError] = []
    idem: str | None = None
    if key not in (None, ""):
        from pydantic import TypeAdapter

        try:
            idem = TypeAdapter(IdempotencyKey).validate_python(key)
        except ValidationError:
            errors.append(
                RowError(line, "idempotency_key", "must be 1-200 printable ASCII characters")
            )
    try:
        report = ReportIn.model_validate(data)
    except ValidationError as exc:
        errors.extend(
            RowError(line, _field_of(tuple(e["loc"])) or "row", str(e["msg"])) for e in exc.errors()
        )
        return errors
    if errors:
        return errors
    return Row(line, report, idem)


def _parse_hashes(text: str) -> list[dict[str, str]]:
    out = []
    for part in text.replace(";", " ").split():
        kind, sep, value = part.partition(":")
        out.append({"signal_type": kind, "signal": value if sep else ""})
    return out


def read_csv(lines: Iterable[str]) -> Iterator[Row | list[RowError]]:
    """Rows of a report CSV; raises :class:`FileFormatError` for a bad header."""
    reader = csv.DictReader(lines)
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_CSV if c not in header]
    if missing:
        raise FileFormatError(f"CSV header lacks column(s): {', '.join(missing)}")
    unknown = [c for c in header if c not in REQUIRED_CSV + OPTIONAL_CSV]
    if unknown:
        raise FileFormatError(
            f"CSV header has unknown column(s): {', '.join(unknown)}; "
            f"allowed: {', '.join(REQUIRED_CSV + OPTIONAL_CSV)}"
        )
    for record in reader:
        line = reader.line_num
        if None in record:
            yield [RowError(line, "row", "more fields than the header has")]
            continue
        if any(v is None for v in record.values()):
            yield [RowError(line, "row", "fewer fields than the header has")]
            continue
        data: dict[str, Any] = {"urls": [record["url"].strip()], "tlp": record["tlp"]}
        for name in ("note", "source_ref"):
            if record.get(name):
                data[name] = record[name]
        if record.get("hashes"):
            data["hashes"] = _parse_hashes(record["hashes"])
        yield _validate(line, data, record.get("idempotency_key"))


def read_jsonl(lines: Iterable[str]) -> Iterator[Row | list[RowError]]:
    """Rows of a report JSON Lines file; blank lines are skipped."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        if len(text) > MAX_LINE_BYTES:
            yield [RowError(number, "row", f"line is longer than {MAX_LINE_BYTES} bytes")]
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield [RowError(number, "row", f"not JSON: {exc.msg} at column {exc.colno}")]
            continue
        if not isinstance(data, dict):
            yield [RowError(number, "row", "a line must be a JSON object")]
            continue
        key = data.pop("idempotency_key", None)
        yield _validate(number, data, key)


def read_any(text: str, fmt: str) -> tuple[list[Row], list[RowError]]:
    """All rows of a file already in memory, split into valid rows and errors."""
    if fmt not in ("csv", "jsonl"):
        raise FileFormatError(f"unknown report file format {fmt!r}: use csv or jsonl")
    lines = io.StringIO(text, newline="") if fmt == "csv" else io.StringIO(text)
    rows: list[Row] = []
    errors: list[RowError] = []
    for item in read_csv(lines) if fmt == "csv" else read_jsonl(lines):
        if isinstance(item, Row):
            rows.append(item)
        else:
            errors.extend(item)
    return rows, errors


def format_of(name: str) -> str:
    """``csv`` or ``jsonl`` from a file name."""
    lower = name.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    raise FileFormatError(f"cannot tell the format of {name!r}: name it .csv or .jsonl")
