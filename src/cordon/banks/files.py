"""Bank files: the formats entries are imported from and exported to, streamed.

Three formats:

- ``pytx``: python-threatexchange's signal file, one ``<signal_type> <signal>`` per line, or
  bare signals when the whole file holds one type (give its type);
- ``dataset``: python-threatexchange's dataset CSV, ``signal_type,signal_str,collab,category,tags``;
- ``csv``: Cordon's plain CSV, ``signal_type,signal,category,classification,source,tags`` (only
  ``signal_type`` and ``signal`` are required on import; an export adds ``added_at``).

Readers take any iterable of lines and yield, per line, an :class:`EntryRecord` or a
:class:`~cordon.signals.formats.LineError`; nothing is held beyond the current line. Writers turn
exported entries into lines, one at a time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from cordon.banks import model
from cordon.signals import formats
from cordon.signals.formats import LineError

Format = Literal["pytx", "dataset", "csv"]
FORMATS: Final = ("pytx", "dataset", "csv")
CSV_FIELDS: Final = ("signal_type", "signal", "category", "classification", "source", "tags")
CSV_EXPORT_FIELDS: Final = (*CSV_FIELDS, "added_at")
MEDIA_TYPES: Final = {"pytx": "text/plain", "dataset": "text/csv", "csv": "text/csv"}


class FileFormatError(ValueError):
    """A file that cannot be read at all (an unknown format, a CSV without its header)."""


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """One entry read from a file; ``None`` fields take the import's defaults."""

    line: int
    signal_type: str
    signal: str
    category: str | None = None
    classification: str | None = None
    source: str | None = None
    tags: tuple[str, ...] = ()


Parsed = EntryRecord | LineError


def check_format(name: str) -> Format:
    """``name`` as a :data:`Format`; :class:`FileFormatError` lists the known ones."""
    if name == "pytx":
        return "pytx"
    if name == "dataset":
        return "dataset"
    if name == "csv":
        return "csv"
    raise FileFormatError(f"unknown format {name!r} (one of {', '.join(FORMATS)})")


def read(fmt: Format, lines: Iterable[str], signal_type: str | None = None) -> Iterator[Parsed]:
    """Read ``lines`` in ``fmt``; ``signal_type`` is the type of bare signals (``pytx`` only).

    Raises :class:`FileFormatError` before yielding anything if the file cannot be read at all.
    """
    if signal_type is not None and fmt != "pytx":
        raise FileFormatError("a signal type for bare signals applies to the pytx format only")
    if fmt == "pytx":
        if signal_type is not None and signal_type not in model.BANK_SIGNAL_TYPES:
            raise FileFormatError(
                f"unknown signal type {signal_type!r} (one of {', '.join(model.BANK_SIGNAL_TYPES)})"
            )
        return _from_pytx(formats.read_signal_file(lines, signal_type))
    if fmt == "dataset":
        try:
            parsed = formats.read_dataset_csv(lines)
            first = next(parsed, None)
        except formats.FormatError as exc:
            raise FileFormatError(str(exc)) from None
        return _from_dataset(first, parsed)
    return _read_plain_csv(lines)


def _from_pytx(parsed: Iterator[formats.Parsed]) -> Iterator[Parsed]:
    for item in parsed:
        if isinstance(item, LineError):
            yield item
        else:
            yield EntryRecord(item.line, item.signal_type, item.signal)


def _from_dataset(first: formats.Parsed | None, rest: Iterator[formats.Parsed]) -> Iterator[Parsed]:
    if first is None:
        return
    for item in _chain(first, rest):
        if isinstance(item, LineError):
            yield item
            continue
        category = model.PYTX_CATEGORY_IN.get(item.category) if item.category else None
        try:
            tags = tuple(model.check_tags(item.tags))
        except ValueError as exc:
            yield LineError(item.line, str(exc))
            continue
        yield EntryRecord(item.line, item.signal_type, item.signal, category=category, tags=tags)


def _chain(first: formats.Parsed, rest: Iterator[formats.Parsed]) -> Iterator[formats.Parsed]:
    yield first
    yield from rest


def _read_plain_csv(lines: Iterable[str]) -> Iterator[Parsed]:
    reader = csv.reader(iter(lines))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise FileFormatError("the file is empty (expected a header row)") from None
    except csv.Error as exc:
        raise FileFormatError(f"line 1: {exc}") from None
    missing = [f for f in ("signal_type", "signal") if f not in header]
    if missing:
        raise FileFormatError(
            f"line 1: the header lacks {', '.join(missing)} (columns: {', '.join(CSV_FIELDS)})"
        )
    unknown = [h for h in header if h not in CSV_EXPORT_FIELDS]
    if unknown:
        raise FileFormatError(
            f"line 1: unknown column {unknown[0]!r} (columns: {', '.join(CSV_EXPORT_FIELDS)})"
        )
    return _plain_rows(reader, header)


def _plain_rows(reader: Any, header: list[str]) -> Iterator[Parsed]:
    where = {name: header.index(name) for name in CSV_FIELDS if name in header}
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield LineError(int(reader.line_num), str(exc))
            continue
        line_no = int(reader.line_num)
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield LineError(line_no, f"expected {len(header)} fields, found {len(row)}")
            continue

        def cell(name: str, row: list[str] = row) -> str:
            return row[where[name]].strip() if name in where else ""

        try:
            signal_type = cell("signal_type")
            signal = model.normalise_signal(signal_type, cell("signal"))
            category = model.check_category(cell("category")) if cell("category") else None
            classification = model.check_classification(cell("classification"))
            source = model.check_source(cell("source")) if cell("source") else None
            tags = tuple(model.check_tags(cell("tags").split()))
        except ValueError as exc:
            yield LineError(line_no, str(exc))
            continue
        yield EntryRecord(line_no, signal_type, signal, category, classification, source, tags)


# ------------------------------------------------------------------------------ writing


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One entry as exported."""

    signal_type: str
    signal: str
    category: str
    classification: str | None
    source: str
    tags: tuple[str, ...]
    added_at: datetime


def header(fmt: Format) -> str:
    """The first line of an export in ``fmt`` (empty for ``pytx``)."""
    if fmt == "dataset":
        return ",".join(formats.DATASET_FIELDS) + "\n"
    if fmt == "csv":
        return ",".join(CSV_EXPORT_FIELDS) + "\n"
    return ""


def render(
    fmt: Format, rows: Iterable[ExportRow], *, collab: str, bare: bool = False
) -> Iterator[str]:
    """Lines of an export in ``fmt``, header first; ``bare`` writes pytx signals without type."""
    head = header(fmt)
    if head:
        yield head
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for r in rows:
        if fmt == "pytx":
            yield f"{r.signal}\n" if bare else f"{r.signal_type} {r.signal}\n"
            continue
        if fmt == "dataset":
            writer.writerow(
                (
                    r.signal_type,
                    r.signal,
                    collab,
                    model.PYTX_CATEGORY_OUT.get(r.category, ""),
                    " ".join(r.tags),
                )
            )
        else:
            writer.writerow(
                (
                    r.signal_type,
                    r.signal,
                    r.category,
                    r.classification or "",
                    r.source,
                    " ".join(r.tags),
                    r.added_at.isoformat().replace("+00:00", "Z"),
                )
            )
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
