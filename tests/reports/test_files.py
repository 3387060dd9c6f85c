"""Report files: every bad row is named by line and field, and a bad file stores nothing."""

from __future__ import annotations

import pytest

from cordon.reports import files


def test_csv_rows_become_reports() -> None:
    text = (
        "url,tlp,note,idempotency_key,hashes\n"
        "https://a.example.test/x,green,first,k1,\n"
        "https://b.example.test/y,AMBER,,k2,pdq:" + "0" * 64 + ";photo_md5:" + "a" * 32 + "\n"
    )
    rows, errors = files.read_any(text, "csv")
    assert errors == []
    assert [r.line for r in rows] == [2, 3]
    assert rows[1].report.hashes[1].signal_type == "photo_md5"
    assert rows[0].idempotency_key == "k1"


def test_every_bad_csv_row_is_named() -> None:
    text = (
        "url,tlp\n"
        "https://ok.example.test/,GREEN\n"
        "notaurl,GREEN\n"
        "https://ok.example.test/,PURPLE\n"
        "https://ok.example.test/,GREEN,extra\n"
        "https://ok.example.test/\n"
    )
    rows, errors = files.read_any(text, "csv")
    assert len(rows) == 1
    described = [(e.line, e.field) for e in errors]
    assert (3, "urls[0]") in described
    assert (4, "tlp") in described
    assert (5, "row") in described
    assert (6, "row") in described
    assert all(str(e).startswith(f"line {e.line}, field ") for e in errors)


def test_a_csv_without_required_columns_is_refused() -> None:
    with pytest.raises(files.FileFormatError, match="tlp"):
        files.read_any("url\nhttps://a.test/\n", "csv")
    with pytest.raises(files.FileFormatError, match="unknown column"):
        files.read_any("url,tlp,colour\n", "csv")


def test_jsonl_rows_and_their_errors() -> None:
    text = (
        '{"urls": ["https://a.example.test/"], "tlp": "RED", "idempotency_key": "x"}\n'
        "\n"
        "{not json}\n"
        '["a list"]\n'
        '{"urls": ["https://a.example.test/"], "tlp": "GREEN", "idempotency_key": "has space"}\n'
    )
    rows, errors = files.read_any(text, "jsonl")
    assert [r.line for r in rows] == [1]
    assert [(e.line, e.field) for e in errors] == [(3, "row"), (4, "row"), (5, "idempotency_key")]


def test_formats_are_known_by_name() -> None:
    assert files.format_of("reports.CSV") == "csv"
    assert files.format_of("r.ndjson") == "jsonl"
    with pytest.raises(files.FileFormatError):
        files.format_of("reports.xlsx")
