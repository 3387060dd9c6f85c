"""RFC 6962 Merkle tree, proofs and signed tree heads of the audit log."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from cordon.audit.merkle import (
    EMPTY_ROOT,
    CheckpointError,
    MerkleAccumulator,
    SignedTreeHead,
    consistency_proof,
    inclusion_proof,
    key_hash,
    leaf_hash,
    node_hash,
    parse_checkpoint,
    parse_verifier_key,
    sign_tree_head,
    tree_root,
    verifier_key,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion,
    verify_tree_head,
)

# --------------------------------------------------------------------------- reference

# A direct transcription of RFC 6962 §2.1, kept deliberately naive.


def ref_mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [ref_mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*ref_subproof(m, leaves[:k], whole), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


def data_of(n: int) -> list[bytes]:
    return [f"event {i}".encode() for i in range(n)]


def hashes_of(n: int) -> list[bytes]:
    return [leaf_hash(d) for d in data_of(n)]


# --------------------------------------------------------------------------- known answers


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    expected = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert expected == EMPTY_ROOT
    assert tree_root([]) == expected
    assert MerkleAccumulator().root() == expected


def test_leaf_and_node_hashes_are_domain_separated_sha256() -> None:
    assert leaf_hash(b"") == bytes.fromhex(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    left, right = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert leaf_hash(left + right) != node_hash(left, right)


def test_one_leaf_tree_root_is_the_leaf_hash() -> None:
    assert tree_root([leaf_hash(b"x")]) == leaf_hash(b"x")


# Roots of the RFC 6962 test tree used by Certificate Transparency implementations
# (certificate-transparency-go, transparency-dev/merkle): eight leaves of these bytes.
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_certificate_transparency_test_vectors(size: int) -> None:
    leaves = [leaf_hash(d) for d in CT_LEAVES[:size]]
    assert tree_root(leaves).hex() == CT_ROOTS[size - 1]


def test_inclusion_proof_matches_the_rfc_example_tree() -> None:
    # RFC 6962 §2.1.3: the path for leaf d (index 3) in the 7-leaf tree is [c, g, l].
    leaves = [leaf_hash(d) for d in CT_LEAVES[:7]]
    a, b, c, _d, e, f, g = leaves
    assert inclusion_proof(3, leaves) == [c, node_hash(a, b), node_hash(node_hash(e, f), g)]
    assert inclusion_proof(6, leaves) == [node_hash(e, f), ref_mth(CT_LEAVES[:4])]


def test_consistency_proofs_match_the_rfc_examples() -> None:
    # RFC 6962 §2.1.3: between sizes 3 and 7 the proof is [c, d, g, l]; 4 → 7 is [l];
    # 6 → 7 is [i, j, k].
    leaves = [leaf_hash(d) for d in CT_LEAVES[:7]]
    a, b, c, d, e, f, g = leaves
    k = node_hash(a, b)
    i = node_hash(e, f)
    j = node_hash(c, d)
    l_node = node_hash(i, g)
    assert consistency_proof(3, leaves) == [c, d, k, l_node]
    assert consistency_proof(4, leaves) == [l_node]
    assert consistency_proof(6, leaves) == [i, g, node_hash(k, j)]


# --------------------------------------------------------------------------- accumulator


@settings(max_examples=60)
@given(st.lists(st.binary(max_size=8), max_size=80))
def test_accumulator_root_equals_the_recursive_root_at_every_size(data: list[bytes]) -> None:
    accumulator = MerkleAccumulator()
    assert accumulator.root() == ref_mth([])
    for size, item in enumerate(data, start=1):
        accumulator.append(leaf_hash(item))
        assert accumulator.size == size
        assert accumulator.root() == ref_mth(data[:size])
        assert len(accumulator.state[1]) == size.bit_count()


@given(st.integers(0, 300))
def test_tree_root_equals_the_recursive_root_for_any_size(n: int) -> None:
    assert tree_root(hashes_of(n)) == ref_mth(data_of(n))


def test_accumulator_resumes_from_its_saved_state() -> None:
    leaves = hashes_of(100)
    first = MerkleAccumulator()
    first.extend(leaves[:37])
    size, subtrees = first.state
    resumed = MerkleAccumulator.from_state(size, subtrees)
    resumed.extend(leaves[37:])
    assert resumed.root() == tree_root(leaves)
    copy = first.copy()
    copy.append(leaves[37])
    assert first.size == 37
    assert copy.size == 38


def test_accumulator_rejects_a_malformed_state_or_leaf() -> None:
    with pytest.raises(ValueError, match="has 2 subtree hashes, not 1"):
        MerkleAccumulator.from_state(3, [leaf_hash(b"x")])
    with pytest.raises(ValueError, match="negative"):
        MerkleAccumulator.from_state(-1, [])
    with pytest.raises(ValueError, match="leaf hash is 3 bytes"):
        MerkleAccumulator().append(b"abc")


# --------------------------------------------------------------------------- inclusion


def _flip(value: bytes, position: int) -> bytes:
    index = position % len(value)
    return value[:index] + bytes([value[index] ^ 0x01]) + value[index + 1 :]


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int]:
    n = draw(st.integers(1, 70))
    return hashes_of(n), draw(st.integers(0, n - 1))


@settings(max_examples=150)
@given(tree_and_index())
def test_every_inclusion_proof_is_the_rfc_path_and_verifies(
    case: tuple[list[bytes], int],
) -> None:
    leaves, index = case
    root = tree_root(leaves)
    proof = inclusion_proof(index, leaves)
    assert proof == ref_path(index, data_of(len(leaves)))
    assert verify_inclusion(leaves[index], index, len(leaves), proof, root)


@settings(max_examples=150)
@given(tree_and_index(), st.integers(0, 10_000))
def test_an_inclusion_proof_fails_when_any_byte_or_number_changes(
    case: tuple[list[bytes], int], position: int
) -> None:
    leaves, index = case
    n = len(leaves)
    root = tree_root(leaves)
    proof = inclusion_proof(index, leaves)
    assert not verify_inclusion(_flip(leaves[index], position), index, n, proof, root)
    assert not verify_inclusion(leaves[index], index, n, proof, _flip(root, position))
    if proof:
        which = position % len(proof)
        edited = [*proof[:which], _flip(proof[which], position), *proof[which + 1 :]]
        assert not verify_inclusion(leaves[index], index, n, edited, root)
        assert not verify_inclusion(leaves[index], index, n, proof[:-1], root)
    assert not verify_inclusion(leaves[index], index, n, [*proof, root], root)
    if n > 1:
        other = (index + 1) % n
        assert not verify_inclusion(leaves[index], other, n, proof, root)


def test_inclusion_rejects_out_of_range_indices() -> None:
    leaves = hashes_of(5)
    root = tree_root(leaves)
    with pytest.raises(ValueError, match="leaf index 5 is outside a tree of 5 leaves"):
        inclusion_proof(5, leaves)
    assert not verify_inclusion(leaves[0], 5, 5, [], root)
    assert not verify_inclusion(leaves[0], -1, 5, [], root)
    assert verify_inclusion(leaves[0], 0, 1, [], leaves[0])


# --------------------------------------------------------------------------- consistency


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(0, 70))
    return draw(st.integers(0, new)), new


@settings(max_examples=200)
@given(two_sizes())
def test_every_consistency_proof_is_the_rfc_proof_and_verifies(sizes: tuple[int, int]) -> None:
    old, new = sizes
    leaves = hashes_of(new)
    proof = consistency_proof(old, leaves)
    if 0 < old < new:
        assert proof == ref_subproof(old, data_of(new), True)
    else:
        assert proof == []
    assert verify_consistency(old, new, tree_root(leaves[:old]), tree_root(leaves), proof)


@settings(max_examples=200)
@given(two_sizes(), st.integers(0, 10_000))
def test_a_consistency_proof_fails_when_any_byte_or_size_changes(
    sizes: tuple[int, int], position: int
) -> None:
    old, new = sizes
    leaves = hashes_of(new)
    old_root, new_root = tree_root(leaves[:old]), tree_root(leaves)
    proof = consistency_proof(old, leaves)
    assert not verify_consistency(old, new, _flip(old_root, position), new_root, proof)
    if old > 0:  # every tree extends the empty tree, whatever its root
        assert not verify_consistency(old, new, old_root, _flip(new_root, position), proof)
    if proof:
        which = position % len(proof)
        edited = [*proof[:which], _flip(proof[which], position), *proof[which + 1 :]]
        assert not verify_consistency(old, new, old_root, new_root, edited)
        assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
        assert not verify_consistency(old, new, old_root, new_root, [*proof, new_root])


def test_a_rewritten_history_is_not_consistent() -> None:
    leaves = hashes_of(20)
    forged = [*leaves[:5], leaf_hash(b"edited"), *leaves[6:]]
    proof = consistency_proof(10, forged)
    assert not verify_consistency(10, 20, tree_root(leaves[:10]), tree_root(forged), proof)


def test_consistency_edge_cases() -> None:
    leaves = hashes_of(4)
    root = tree_root(leaves)
    assert verify_consistency(4, 4, root, root, [])
    assert not verify_consistency(4, 4, root, EMPTY_ROOT, [])
    assert not verify_consistency(4, 4, root, root, [root])
    assert verify_consistency(0, 4, EMPTY_ROOT, root, [])
    assert not verify_consistency(0, 4, root, root, [])
    assert not verify_consistency(5, 4, root, root, [])
    assert not verify_consistency(2, 4, tree_root(leaves[:2]), root, [])
    with pytest.raises(ValueError, match=r"old tree size 5 is outside 0\.\.4"):
        consistency_proof(5, leaves)


# --------------------------------------------------------------------------- signed tree heads

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
WHEN = datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC)


def _head(tree_size: int = 1234, key: Ed25519PrivateKey = KEY) -> SignedTreeHead:
    return sign_tree_head(
        origin="cordon.test/audit",
        tree_size=tree_size,
        root_hash=tree_root(hashes_of(3)),
        timestamp=WHEN,
        private_key=key,
        key_id="cordon.test/audit",
    )


def test_signed_tree_head_round_trips_through_its_checkpoint_text() -> None:
    head = _head()
    text = head.to_checkpoint()
    root_b64 = base64.b64encode(head.root_hash).decode()
    assert text.startswith(
        f"cordon.test/audit\n1234\n{root_b64}\ntimestamp 2026-01-02T03:04:05.678Z\n\n— "
    )
    assert text.endswith("\n")
    assert head.timestamp == WHEN.replace(microsecond=678_000)
    assert parse_checkpoint(text) == head
    assert verify_checkpoint(text, KEY.public_key()) == head
    verify_tree_head(head, KEY.public_key())


def test_signed_tree_head_round_trips_through_canonical_json() -> None:
    head = _head()
    text = head.to_json()
    assert " " not in text
    assert SignedTreeHead.from_json(text) == head
    assert SignedTreeHead.from_json(text).to_json() == text


def test_timestamp_in_another_zone_is_kept_in_utc() -> None:
    local = WHEN.astimezone(timezone(timedelta(hours=5, minutes=30)))
    head = sign_tree_head(
        origin="o",
        tree_size=0,
        root_hash=EMPTY_ROOT,
        timestamp=local,
        private_key=KEY,
        key_id="k",
    )
    assert head.timestamp.tzinfo is UTC
    assert "timestamp 2026-01-02T03:04:05.678Z" in head.to_checkpoint()


def test_key_hash_follows_the_signed_note_definition() -> None:
    public = KEY.public_key().public_bytes_raw()
    expected = hashlib.sha256(b"cordon.test/audit\n\x01" + public).digest()[:4]
    assert key_hash("cordon.test/audit", KEY.public_key()) == expected
    assert _head().key_hash == expected


def test_verifier_key_round_trips_and_checks_its_hash() -> None:
    line = verifier_key("cordon.test/audit", KEY.public_key())
    name, public_key = parse_verifier_key(line)
    assert name == "cordon.test/audit"
    assert public_key.public_bytes_raw() == KEY.public_key().public_bytes_raw()
    with pytest.raises(CheckpointError, match="hash does not match"):
        parse_verifier_key(line.replace("cordon.test/audit", "cordon.test/other"))


@settings(max_examples=150)
@given(st.integers(0, 10_000))
def test_any_edit_of_a_checkpoint_is_refused(position: int) -> None:
    text = _head().to_checkpoint()
    index = position % len(text)
    original = text[index]
    replacement = "0" if original != "0" else "1"
    edited = text[:index] + replacement + text[index + 1 :]
    with pytest.raises(CheckpointError):
        verify_checkpoint(edited, KEY.public_key())


@pytest.mark.parametrize(
    "field",
    ["tree_size", "root_hash", "timestamp", "origin", "key_id", "signature", "key_hash"],
)
def test_any_edited_field_fails_verification(field: str) -> None:
    head = _head()
    changes: dict[str, object] = {
        "tree_size": head.tree_size + 1,
        "root_hash": _flip(head.root_hash, 0),
        "timestamp": head.timestamp + timedelta(milliseconds=1),
        "origin": "cordon.test/other",
        "key_id": "cordon.test/other",
        "signature": _flip(head.signature, 10),
        "key_hash": _flip(head.key_hash, 0),
    }
    edited = SignedTreeHead(**{**_as_dict(head), field: changes[field]})  # type: ignore[arg-type]  # values per field above
    with pytest.raises(CheckpointError):
        verify_tree_head(edited, KEY.public_key())


def _as_dict(head: SignedTreeHead) -> dict[str, object]:
    return {name: getattr(head, name) for name in SignedTreeHead.__dataclass_fields__}


def test_a_checkpoint_by_another_key_is_refused_naming_the_key() -> None:
    text = _head(key=OTHER_KEY).to_checkpoint()
    with pytest.raises(CheckpointError, match="not the key given to verify it"):
        verify_checkpoint(text, KEY.public_key())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no blank line", "no blank line"),
        ("o\n1\nAAAA\n\n— k AAAA\n", "body has 3 lines"),
        ("o\nx\nAAAA\ntimestamp 2026-01-01T00:00:00.000Z\n\n— k AAAA\n", "is not a number"),
        ("o\n01\nAAAA\ntimestamp 2026-01-01T00:00:00.000Z\n\n— k AAAA\n", "is not a number"),
        ("o\n1\n!!\ntimestamp 2026-01-01T00:00:00.000Z\n\n— k AAAA\n", "not base64"),
        ("o\n1\nAAAA\ntime 2026-01-01\n\n— k AAAA\n", "line 4"),
        ("o\n1\nAAAA\ntimestamp 2026-01-01T00:00:00.000Z\n\nk AAAA\n", "'— '"),
        ("o\n1\nAAAA\ntimestamp 2026-01-01T00:00:00.000Z\n\n— k AAAA\n", "not 68"),
    ],
)
def test_malformed_checkpoints_are_refused_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(CheckpointError) as caught:
        parse_checkpoint(text)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timestamp": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"root_hash": b"short"}, "root hash is 5 bytes"),
        ({"tree_size": -1}, "negative"),
        ({"key_id": "has space"}, "key id"),
        ({"origin": "two\nlines"}, "origin"),
    ],
)
def test_signing_refuses_malformed_input(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "origin": "o",
        "tree_size": 1,
        "root_hash": EMPTY_ROOT,
        "timestamp": WHEN,
        "private_key": KEY,
        "key_id": "k",
        **kwargs,
    }
    with pytest.raises(CheckpointError, match=message):
        sign_tree_head(**arguments)  # type: ignore[arg-type]  # deliberately malformed values
