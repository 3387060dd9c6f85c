"""python-threatexchange hash-list formats: streaming readers and writers.

Two formats, as python-threatexchange and HMA write and read them:

- the **signal file**: one ``<signal_type> <signal>`` per line, or bare signals when the whole
  file holds one type (python-threatexchange's local file exchange reads both);
- the **dataset CSV**: header ``signal_type,signal_str,collab,category,tags`` (``threatexchange
  dataset --csv``), ``category`` one of ``NEGATIVE_CLASS``, ``INVESTIGATION_SEED``,
  ``POSITIVE_CLASS`` or empty, ``tags`` separated by spaces.

Readers take any iterable of lines (an open file streams: nothing is loaded whole) and yield, per
line, either a :class:`SignalRecord` or a :class:`LineError` with the line number, so the caller
decides whether to stop or skip. Signals are validated and normalised by their signal type.
``photo_md5`` and ``photo_sha256`` are Cordon's own types; python-threatexchange knows ``pdq``
and ``video_md5``, so files meant for it should hold only those.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, TextIO

from cordon.signals import types

DATASET_FIELDS: Final = ("signal_type", "signal_str", "collab", "category", "tags")
CATEGORIES: Final = ("NEGATIVE_CLASS", "INVESTIGATION_SEED", "POSITIVE_CLASS")
"""python-threatexchange's opinion categories, by name."""

MAX_LINE_CHARS: Final = 4096


@dataclass(frozen=True, slots=True)
class SignalRecord:
    """One signal read from a file, with where it was found."""

    line: int
    signal_type: str
    signal: str
    collab: str = ""
    category: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LineError:
    """A line that could not be read, and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


Parsed = SignalRecord | LineError


class FormatError(ValueError):
    """A file that cannot be read at all (for example a CSV without the expected header)."""


def _validated(line_no: int, signal_type: str, signal: str) -> Parsed:
    try:
        kind = types.get(signal_type)
    except types.UnknownSignalType as exc:
        return LineError(line_no, str(exc))
    try:
        return SignalRecord(line_no, kind.name, kind.validate(signal))
    except types.InvalidSignal as exc:
        return LineError(line_no, str(exc))


def read_signal_file(lines: Iterable[str], signal_type: str | None = None) -> Iterator[Parsed]:
    """Read a signal file: ``<signal_type> <signal>`` per line, or bare signals of ``signal_type``.

    Blank lines and lines starting with ``#`` are skipped. With ``signal_type`` given, a line may
    still name its type (python-threatexchange writes either form); the type must then agree.
    """
    if signal_type is not None:
        types.get(signal_type)  # unknown types fail before reading anything
    for line_no, raw in enumerate(lines, start=1):
        if len(raw) > MAX_LINE_CHARS:
            yield LineError(line_no, f"line longer than {MAX_LINE_CHARS} characters")
            continue
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        first, _, rest = text.partition(" ")
        rest = rest.strip()
        if rest:
            if signal_type is not None and first != signal_type:
                yield LineError(line_no, f"signal type {first!r} in a {signal_type} file")
                continue
            if " " in rest:
                yield LineError(line_no, "expected `<signal_type> <signal>`, found more fields")
                continue
            yield _validated(line_no, first, rest)
        elif signal_type is not None:
            yield _validated(line_no, signal_type, first)
        else:
            yield LineError(line_no, "expected `<signal_type> <signal>` (no signal type given)")


def read_dataset_csv(lines: Iterable[str]) -> Iterator[Parsed]:
    """Read python-threatexchange's dataset CSV (header row first).

    Raises :class:`FormatError` when the header lacks ``signal_type`` or ``signal_str``; other
    columns are optional. Line numbers count the header as line 1.
    """
    reader = csv.reader(iter(lines))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise FormatError("the file is empty (expected a header row)") from None
    except csv.Error as exc:
        raise FormatError(f"line 1: {exc}") from None
    missing = [f for f in ("signal_type", "signal_str") if f not in header]
    if missing:
        raise FormatError(f"line 1: the header lacks {', '.join(missing)} (found {header})")
    where = {name: header.index(name) for name in DATASET_FIELDS if name in header}
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield LineError(reader.line_num, str(exc))
            continue
        line_no = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield LineError(line_no, f"expected {len(header)} fields, found {len(row)}")
            continue

        def cell(name: str, row: list[str] = row) -> str:
            return row[where[name]].strip() if name in where else ""

        parsed = _validated(line_no, cell("signal_type"), cell("signal_str"))
        if isinstance(parsed, LineError):
            yield parsed
            continue
        category = cell("category")
        if category and category not in CATEGORIES:
            yield LineError(
                line_no, f"unknown category {category!r} (one of {', '.join(CATEGORIES)})"
            )
            continue
        yield SignalRecord(
            line_no,
            parsed.signal_type,
            parsed.signal,
            collab=cell("collab"),
            category=category,
            tags=tuple(cell("tags").split()),
        )


def write_signal_file(
    records: Iterable[SignalRecord], out: TextIO, *, signal_type: str | None = None
) -> int:
    """Write a signal file; with ``signal_type``, bare signals of that one type.

    Returns the number of lines written. A record of another type than ``signal_type`` raises
    ``ValueError`` (nothing of a mixed file is silently dropped).
    """
    written = 0
    for record in records:
        if signal_type is None:
            out.write(f"{record.signal_type} {record.signal}\n")
        elif record.signal_type != signal_type:
            raise ValueError(f"a {record.signal_type} signal in a {signal_type} file")
        else:
            out.write(f"{record.signal}\n")
        written += 1
    return written


def write_dataset_csv(records: Iterable[SignalRecord], out: TextIO) -> int:
    """Write python-threatexchange's dataset CSV with its header; returns the rows written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DATASET_FIELDS)
    written = 0
    for record in records:
        writer.writerow(
            (
                record.signal_type,
                record.signal,
                record.collab,
                record.category,
                " ".join(record.tags),
            )
        )
        written += 1
    return written
