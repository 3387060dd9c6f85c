"""The signal type registry: names partners use, validation, comparison, extension."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cordon.signals import types
from cordon.signals.types import InvalidSignal, SignalType, UnknownSignalType

PDQ_EXAMPLE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def test_builtin_names_are_exactly_the_interop_names() -> None:
    assert types.names() == ["pdq", "photo_md5", "photo_sha256", "video_md5"]
    assert types.get("pdq").default_threshold == 31
    assert types.get("pdq").match == "hamming"
    assert {t.name: t.content for t in types.all_types()} == {
        "pdq": "photo",
        "photo_md5": "photo",
        "photo_sha256": "photo",
        "video_md5": "video",
    }


def test_names_do_not_clash_with_python_threatexchange() -> None:
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal
    from threatexchange.signal_type.sha256 import VideoSHA256Signal

    assert PdqSignal.get_name() == "pdq"
    assert VideoMD5Signal.get_name() == "video_md5"
    assert VideoSHA256Signal.get_name() not in ("photo_md5", "photo_sha256")


def test_unknown_types_are_named_with_the_known_ones() -> None:
    with pytest.raises(UnknownSignalType, match=r"unknown signal type 'vpdq' \(known: pdq, "):
        types.get("vpdq")


def test_validation_normalises_case_and_space_and_says_what_is_wrong() -> None:
    assert types.get("pdq").validate(f"  {PDQ_EXAMPLE.upper()}\n") == PDQ_EXAMPLE
    with pytest.raises(InvalidSignal, match="64 hexadecimal digits, not 63"):
        types.get("pdq").validate(PDQ_EXAMPLE[1:])
    with pytest.raises(InvalidSignal, match="only hexadecimal"):
        types.get("photo_md5").validate("z" * 32)
    with pytest.raises(InvalidSignal, match="32 hexadecimal digits"):
        types.get("video_md5").validate(PDQ_EXAMPLE)


@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_pdq_comparison_is_the_hamming_distance(a: bytes, b: bytes) -> None:
    result = types.get("pdq").compare(a.hex(), b.hex())
    expected = (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()
    assert result.distance == expected
    assert result.matched == (expected <= 31)
    assert types.get("pdq").compare(a.hex(), b.hex(), threshold=256).matched


def test_digest_comparison_is_equality() -> None:
    md5 = types.get("photo_md5")
    assert md5.compare("AB" * 16, "ab" * 16).matched
    assert not md5.compare("ab" * 16, "ac" * 16).matched


def test_a_new_signal_type_plugs_in_once() -> None:
    vpdq = SignalType(
        name="test_vpdq_like",
        content="video",
        description="a test type",
        match="exact",
        default_threshold=0,
        normalise=str.lower,
    )
    types.register(vpdq)
    try:
        assert types.get("test_vpdq_like") is vpdq
        with pytest.raises(ValueError, match="already registered"):
            types.register(vpdq)
    finally:
        types._REGISTRY.pop("test_vpdq_like")
    with pytest.raises(ValueError, match="lowercase"):
        types.register(
            SignalType("Bad Name", "photo", "", "exact", 0, str.lower)  # names are words
        )
