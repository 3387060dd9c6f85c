"""`cordon hash`: files, folders and standard input, as a table, JSON or CSV."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from cordon.cli.main import app
from cordon.signals.hashing import hash_picture
from cordon.signals.synthetic import encode, photo_like

runner = CliRunner()


def write_pictures(folder: Path) -> dict[str, bytes]:
    folder.mkdir()
    (folder / "inner").mkdir()
    files = {
        "a.jpg": encode(photo_like(1, 320, 240)),
        "inner/b.png": encode(photo_like(2, 200, 150), "PNG"),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def test_json_lists_reference_hashes_of_every_picture_in_a_folder(tmp_path: Path) -> None:
    files = write_pictures(tmp_path / "pics")
    result = runner.invoke(app, ["hash", "--json", str(tmp_path / "pics")])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [Path(r["path"]).name for r in rows] == ["a.jpg", "b.png"]
    for row, data in zip(rows, files.values(), strict=True):
        expected = hash_picture(data, path="reference")
        assert row["pdq"] == expected.pdq.hex
        assert row["quality"] == expected.pdq.quality
        assert row["low_quality"] is False
        assert row["md5"] == hashlib.md5(data).hexdigest()
        assert row["sha256"] == hashlib.sha256(data).hexdigest()


def test_csv_from_standard_input(tmp_path: Path) -> None:
    data = encode(photo_like(3, 300, 300))
    result = runner.invoke(app, ["hash", "--csv", "--fast", "-"], input=data)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1
    assert rows[0]["path"] == "-"
    assert rows[0]["pdq"] == hash_picture(data, path="fast").pdq.hex
    assert rows[0]["format"] == "JPEG"


def test_table_shows_full_hashes_folded_never_cut(tmp_path: Path) -> None:
    data = encode(photo_like(4, 300, 200))
    (tmp_path / "x.jpg").write_bytes(data)
    result = runner.invoke(app, ["hash", str(tmp_path / "x.jpg")])
    assert result.exit_code == 0, result.output
    rows = [line.split("│") for line in result.stdout.splitlines() if line.count("│") == 8]
    # columns: path, format, size, pdq, quality, md5, sha256
    assert "".join(r[4].strip() for r in rows) == hash_picture(data, path="reference").pdq.hex
    assert "".join(r[7].strip() for r in rows) == hashlib.sha256(data).hexdigest()


def test_a_bad_file_is_named_the_rest_hashed_and_the_exit_code_says_so(tmp_path: Path) -> None:
    (tmp_path / "good.jpg").write_bytes(encode(photo_like(5, 200, 200)))
    (tmp_path / "notes.txt").write_text("not a picture")
    result = runner.invoke(
        app,
        [
            "hash",
            "--json",
            str(tmp_path / "good.jpg"),
            str(tmp_path / "notes.txt"),
            str(tmp_path / "gone.jpg"),
        ],
    )
    assert result.exit_code == 1
    assert len(json.loads(result.stdout)) == 1
    assert "notes.txt: not a picture in an allowed format" in result.stderr
    assert "gone.jpg: no such file" in result.stderr


def test_conflicting_options_are_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["hash", "--json", "--csv", str(tmp_path)])
    assert result.exit_code != 0
    assert "choose one of --json and --csv" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["hash", str(empty)])
    assert result.exit_code != 0
    assert "no files found" in result.stderr
