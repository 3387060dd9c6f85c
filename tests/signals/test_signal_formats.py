"""python-threatexchange file formats: streaming reads, line-numbered errors, round trips."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from threatexchange.exchanges.impl.file_api import (
    FileCollaborationConfig,
    LocalFileSignalExchangeAPI,
)
from threatexchange.signal_type.pdq.signal import PdqSignal

from cordon.signals.formats import (
    FormatError,
    LineError,
    SignalRecord,
    read_dataset_csv,
    read_signal_file,
    write_dataset_csv,
    write_signal_file,
)

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "d35c785545392755e7e4164457657269"


def pdq_signals(count: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [bytes(row).hex() for row in rng.integers(0, 256, (count, 32), dtype=np.uint8)]


def test_typed_lines_and_bare_lines_are_read_with_their_line_numbers() -> None:
    text = f"pdq {PDQ}\n\n# a comment\nvideo_md5 {MD5.upper()}\n"
    assert list(read_signal_file(io.StringIO(text))) == [
        SignalRecord(1, "pdq", PDQ),
        SignalRecord(4, "video_md5", MD5),
    ]
    bare = f"{PDQ}\npdq {PDQ}\n"
    assert [r.signal for r in read_signal_file(io.StringIO(bare), "pdq")] == [PDQ, PDQ]  # type: ignore[union-attr]  # all records here


def test_bad_lines_are_reported_by_number_and_reading_goes_on() -> None:
    text = "\n".join(
        [
            f"pdq {PDQ}",
            f"pdq {PDQ[:-2]}",
            f"vpdq {PDQ}",
            PDQ,
            f"pdq {PDQ} extra",
            f"pdq {PDQ}",
        ]
    )
    out = list(read_signal_file(io.StringIO(text)))
    errors = [o for o in out if isinstance(o, LineError)]
    assert [e.line for e in errors] == [2, 3, 4, 5]
    assert "64 hexadecimal digits, not 62" in str(errors[0])
    assert "unknown signal type 'vpdq'" in str(errors[1])
    assert "no signal type given" in str(errors[2])
    assert str(errors[0]).startswith("line 2: ")
    assert [o.line for o in out if isinstance(o, SignalRecord)] == [1, 6]


def test_a_single_type_file_refuses_lines_of_another_type() -> None:
    out = list(read_signal_file(io.StringIO(f"video_md5 {MD5}\n"), "pdq"))
    assert out == [LineError(1, "signal type 'video_md5' in a pdq file")]
    with pytest.raises(ValueError, match="unknown signal type"):
        list(read_signal_file(io.StringIO(""), "nope"))


def test_100000_lines_round_trip_and_stream(tmp_path: Path) -> None:
    signals = pdq_signals(100_000)
    path = tmp_path / "bank.txt"
    with path.open("w") as out:
        written = write_signal_file((SignalRecord(0, "pdq", s) for s in signals), out)
    assert written == 100_000
    with path.open() as lines:  # streamed line by line
        back = [r.signal for r in read_signal_file(lines) if isinstance(r, SignalRecord)]
    assert back == signals
    bare = tmp_path / "bare.txt"
    with bare.open("w") as out:
        write_signal_file((SignalRecord(0, "pdq", s) for s in signals), out, signal_type="pdq")
    with bare.open() as lines:
        assert {
            r.signal for r in read_signal_file(lines, "pdq") if isinstance(r, SignalRecord)
        } == set(signals)


def test_threatexchange_reads_cordons_pdq_export(tmp_path: Path) -> None:
    signals = pdq_signals(500, seed=1)
    for name, single in (("typed.txt", None), ("bare.txt", "pdq")):
        path = tmp_path / name
        with path.open("w") as out:
            write_signal_file((SignalRecord(0, "pdq", s) for s in signals), out, signal_type=single)
        config = FileCollaborationConfig(name="cordon", filename=str(path), signal_type=single)
        api = LocalFileSignalExchangeAPI.for_collab(config)
        deltas = list(api.fetch_iter([PdqSignal], None))
        read = {key for delta in deltas for key in delta.updates}
        assert read == {("pdq", s) for s in signals}
        assert all(PdqSignal.validate_signal_str(s) == s for _, s in read)


def test_dataset_csv_round_trips_with_collab_category_and_tags() -> None:
    records = [
        SignalRecord(0, "pdq", PDQ, "hotline-a", "POSITIVE_CLASS", ("b1", "seen-twice")),
        SignalRecord(0, "video_md5", MD5, "", "", ()),
        SignalRecord(0, "photo_sha256", "ab" * 32, "x, with comma", "NEGATIVE_CLASS", ()),
    ]
    buffer = io.StringIO()
    assert write_dataset_csv(records, buffer) == 3
    assert buffer.getvalue().splitlines()[0] == "signal_type,signal_str,collab,category,tags"
    back = list(read_dataset_csv(io.StringIO(buffer.getvalue())))
    assert [(r.line, r.collab, r.category, r.tags) for r in back] == [  # type: ignore[union-attr]  # all records
        (2, "hotline-a", "POSITIVE_CLASS", ("b1", "seen-twice")),
        (3, "", "", ()),
        (4, "x, with comma", "NEGATIVE_CLASS", ()),
    ]


def test_dataset_csv_errors_name_the_line() -> None:
    text = (
        "signal_type,signal_str,collab,category,tags\n"
        f"pdq,{PDQ},c,POSITIVE_CLASS,\n"
        f"pdq,{PDQ},c,MAYBE,\n"
        "pdq,zz,c,,\n"
        f"pdq,{PDQ}\n"
    )
    out = list(read_dataset_csv(io.StringIO(text)))
    assert isinstance(out[0], SignalRecord)
    assert [str(e) for e in out[1:]] == [
        "line 3: unknown category 'MAYBE' "
        "(one of NEGATIVE_CLASS, INVESTIGATION_SEED, POSITIVE_CLASS)",
        "line 4: a PDQ hash has 64 hexadecimal digits, not 2",
        "line 5: expected 5 fields, found 2",
    ]
    with pytest.raises(FormatError, match="lacks signal_str"):
        list(read_dataset_csv(io.StringIO("signal_type,hash\n")))
    with pytest.raises(FormatError, match="empty"):
        list(read_dataset_csv(io.StringIO("")))


def test_a_mixed_list_cannot_be_written_as_a_single_type_file() -> None:
    with pytest.raises(ValueError, match="a video_md5 signal in a pdq file"):
        write_signal_file([SignalRecord(0, "video_md5", MD5)], io.StringIO(), signal_type="pdq")
