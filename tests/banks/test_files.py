"""Bank file formats: reading what was written gives back the same entries, in every format."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cordon.banks import files, model
from cordon.signals.formats import LineError

HEX = "0123456789abcdef"
DIGITS = {"pdq": 64, "photo_md5": 32, "photo_sha256": 64, "video_md5": 32}

signal_types = st.sampled_from(sorted(DIGITS))
tags = st.lists(st.from_regex(model.TAG_RE, fullmatch=True), max_size=4, unique=True)


@st.composite
def rows(draw: st.DrawFn) -> files.ExportRow:
    kind = draw(signal_types)
    return files.ExportRow(
        signal_type=kind,
        signal=draw(st.text(HEX, min_size=DIGITS[kind], max_size=DIGITS[kind])),
        category=draw(st.sampled_from(model.CATEGORIES)),
        classification=draw(st.none() | st.sampled_from(model.CLASSIFICATIONS)),
        source=draw(st.text("abc ,\"'xyz0", max_size=20)).strip(),
        tags=tuple(draw(tags)),
        added_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
    )


def _read(fmt: files.Format, text: str) -> list[files.EntryRecord]:
    out = list(files.read(fmt, text.splitlines(keepends=True)))
    assert not [x for x in out if isinstance(x, LineError)]
    return [x for x in out if isinstance(x, files.EntryRecord)]


@settings(max_examples=60, deadline=None)
@given(st.lists(rows(), max_size=20))
def test_plain_csv_round_trips(entries: list[files.ExportRow]) -> None:
    text = "".join(files.render("csv", entries, collab="LIST"))
    back = _read("csv", text)
    assert [
        (r.signal_type, r.signal, r.category, r.classification, r.source or "", r.tags)
        for r in back
    ] == [
        (e.signal_type, e.signal, e.category, e.classification, e.source, e.tags) for e in entries
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(rows(), max_size=20))
def test_dataset_csv_round_trips_what_pytx_can_say(entries: list[files.ExportRow]) -> None:
    text = "".join(files.render("dataset", entries, collab="LIST"))
    back = _read("dataset", text)
    # python-threatexchange has no "disputed": it is written without a category.
    assert [(r.signal_type, r.signal, r.category, r.tags) for r in back] == [
        (
            e.signal_type,
            e.signal,
            None if e.category == "disputed" else e.category,
            e.tags,
        )
        for e in entries
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(rows(), max_size=20), st.booleans())
def test_signal_file_round_trips(entries: list[files.ExportRow], bare: bool) -> None:
    if bare:
        entries = [e for e in entries if e.signal_type == "pdq"]
    text = "".join(files.render("pytx", entries, collab="LIST", bare=bare))
    back = list(files.read("pytx", text.splitlines(keepends=True), "pdq" if bare else None))
    assert [(r.signal_type, r.signal) for r in back if isinstance(r, files.EntryRecord)] == [
        (e.signal_type, e.signal) for e in entries
    ]


@pytest.mark.parametrize(
    ("fmt", "text", "message"),
    [
        ("csv", "", "the file is empty"),
        ("csv", "signal,category\n", "the header lacks signal_type"),
        ("csv", "signal_type,signal,colour\n", "unknown column 'colour'"),
        ("dataset", "signal_type,collab\n", "the header lacks signal_str"),
    ],
)
def test_unreadable_files_are_refused_before_anything_is_read(
    fmt: files.Format, text: str, message: str
) -> None:
    with pytest.raises(files.FileFormatError, match=message):
        files.read(fmt, text.splitlines(keepends=True))


def test_each_bad_line_is_named_by_its_number() -> None:
    text = (
        "signal_type,signal,category,classification,tags\n"
        f"pdq,{'a' * 64},positive,A1,ok\n"
        f"pdq,{'a' * 63},positive,A1,ok\n"
        f"pdq,{'b' * 64},maybe,A1,ok\n"
        f"pdq,{'c' * 64},positive,C3,ok\n"
        f"pdq,{'d' * 64},positive,A1,bad/tag\n"
        f"tmk,{'e' * 64},positive,A1,ok\n"
        "pdq,short\n"
    )
    out = list(files.read("csv", text.splitlines(keepends=True)))
    errors = [(x.line, x.message.split(" (")[0]) for x in out if isinstance(x, LineError)]
    assert errors == [
        (3, "a PDQ hash has 64 hexadecimal digits, not 63"),
        (4, "unknown category 'maybe'"),
        (5, "unknown classification 'C3'"),
        (6, "tag 'bad/tag' must be 1-64 letters, digits or _.:- starting with a letter or digit"),
        (7, "unknown signal type 'tmk' for a bank"),
        (8, "expected 5 fields, found 2"),
    ]
    with pytest.raises(files.FileFormatError, match="unknown format 'xml'"):
        files.check_format("xml")
