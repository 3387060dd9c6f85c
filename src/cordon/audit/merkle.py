"""The audit log's Merkle tree (RFC 6962 / RFC 9162 hashing) and its signed tree heads.

Every audit event is a leaf. The tree is the one Certificate Transparency uses: SHA-256, a leaf
hashed as ``H(0x00 || data)``, an inner node as ``H(0x01 || left || right)``, and a tree of
``n`` leaves split at the largest power of two below ``n``. Because of that shape, the root of
a growing log can be kept in O(log n) state (:class:`MerkleAccumulator`), any event can be
shown to be in the tree (inclusion proofs), and any later tree can be shown to extend an
earlier one without rewriting it (consistency proofs).

A signed tree head (checkpoint) binds a tree size and root hash to a time with an Ed25519
signature. It is written in the C2SP ``tlog-checkpoint`` signed-note format, so that
standard transparency-log tooling can read it::

    cordon.test/audit
    1234
    3q2+7w...base64 root hash...=
    timestamp 2026-01-01T00:00:00.000Z

    — cordon.test/audit AbCd...base64 key hash and signature...

Everything here is pure: the caller supplies leaf hashes, keys and the time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HASH_SIZE: Final = 32
LEAF_PREFIX: Final = b"\x00"
NODE_PREFIX: Final = b"\x01"
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
"""The root of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1)."""


# --------------------------------------------------------------------------- hashing


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one leaf (one audit event's canonical bytes)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an inner node."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} is {len(value)} bytes; a SHA-256 hash is {HASH_SIZE}")


def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 6962: the largest power of two strictly less than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleAccumulator:
    """The root of an append-only tree, kept in O(log n) space while leaves stream in.

    The state is the roots of the perfect subtrees that the binary digits of the size
    describe, largest first; appending a leaf merges equal-sized neighbours like a binary
    counter. ``root()`` is the RFC 6962 Merkle tree hash of all leaves appended so far.
    """

    __slots__ = ("_size", "_subtrees")

    def __init__(self) -> None:
        self._size = 0
        self._subtrees: list[bytes] = []

    @classmethod
    def from_state(cls, size: int, subtree_hashes: Sequence[bytes]) -> MerkleAccumulator:
        """Resume from a saved :attr:`state`; raises ``ValueError`` when it cannot be one."""
        if size < 0:
            raise ValueError(f"tree size {size} is negative")
        if len(subtree_hashes) != size.bit_count():
            raise ValueError(
                f"a tree of {size} leaves has {size.bit_count()} subtree hashes, "
                f"not {len(subtree_hashes)}"
            )
        for index, value in enumerate(subtree_hashes):
            _check_hash(value, f"subtree hash {index}")
        accumulator = cls()
        accumulator._size = size
        accumulator._subtrees = list(subtree_hashes)
        return accumulator

    @property
    def size(self) -> int:
        """Number of leaves appended."""
        return self._size

    @property
    def state(self) -> tuple[int, tuple[bytes, ...]]:
        """``(size, subtree hashes)``: enough to resume with :meth:`from_state`."""
        return self._size, tuple(self._subtrees)

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash (from :func:`leaf_hash`), in O(log n) time at worst."""
        _check_hash(leaf, "leaf hash")
        self._subtrees.append(leaf)
        self._size += 1
        # Each trailing zero bit of the new size is a pair of equal subtrees to merge.
        size = self._size
        while size & 1 == 0:
            right = self._subtrees.pop()
            left = self._subtrees.pop()
            self._subtrees.append(node_hash(left, right))
            size >>= 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append leaf hashes in order."""
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """The Merkle tree hash of the leaves so far (:data:`EMPTY_ROOT` for none)."""
        if not self._subtrees:
            return EMPTY_ROOT
        result = self._subtrees[-1]
        for left in reversed(self._subtrees[:-1]):
            result = node_hash(left, result)
        return result

    def copy(self) -> MerkleAccumulator:
        """An independent accumulator in the same state."""
        return MerkleAccumulator.from_state(self._size, self._subtrees)


def _range_root(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    accumulator = MerkleAccumulator()
    for index in range(start, end):
        accumulator.append(leaves[index])
    return accumulator.root()


def tree_root(leaf_hashes: Iterable[bytes]) -> bytes:
    """MTH(D[n]) of RFC 6962 §2.1 over leaf hashes, in O(n) time and O(log n) space."""
    accumulator = MerkleAccumulator()
    accumulator.extend(leaf_hashes)
    return accumulator.root()


# --------------------------------------------------------------------------- inclusion


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The audit path PATH(index, D[n]) of RFC 6962 §2.1.1, nearest the leaf first.

    Raises ``ValueError`` unless ``0 <= index < len(leaf_hashes)``.
    """
    size = len(leaf_hashes)
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
    siblings: list[bytes] = []  # collected from the top down, returned bottom up
    start, end, m = 0, size, index
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if m < k:
            siblings.append(_range_root(leaf_hashes, start + k, end))
            end = start + k
        else:
            siblings.append(_range_root(leaf_hashes, start, start + k))
            start, m = start + k, m - k
    siblings.reverse()
    return siblings


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True when ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree with ``root``.

    The algorithm of RFC 9162 §2.1.3.2.
    """
    if not 0 <= index < tree_size or len(leaf) != HASH_SIZE or len(root) != HASH_SIZE:
        return False
    if any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn, r = index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# --------------------------------------------------------------------------- consistency


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(old_size, D[n]) of RFC 6962 §2.1.2: the new tree ``leaf_hashes`` extends the old.

    Empty when ``old_size`` is 0 or ``n`` (nothing to prove). Raises ``ValueError`` unless
    ``0 <= old_size <= n``.
    """
    size = len(leaf_hashes)
    if not 0 <= old_size <= size:
        raise ValueError(f"old tree size {old_size} is outside 0..{size}")
    if old_size in (0, size):
        return []
    nodes: list[bytes] = []  # collected top down, returned bottom up
    start, end, m, whole = 0, size, old_size, True
    while True:
        if m == end - start:
            # SUBPROOF(m, D[m], b): nothing when the old tree is this whole subtree.
            if not whole:
                nodes.append(_range_root(leaf_hashes, start, end))
            break
        k = _largest_power_of_two_below(end - start)
        if m <= k:
            nodes.append(_range_root(leaf_hashes, start + k, end))
            end = start + k
        else:
            nodes.append(_range_root(leaf_hashes, start, start + k))
            start, m, whole = start + k, m - k, False
    nodes.reverse()
    return nodes


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True when ``proof`` shows the tree (new_size, new_root) extends (old_size, old_root).

    The algorithm of RFC 9162 §2.1.4.2, with its edge cases: equal sizes need an empty proof
    and equal roots; an empty old tree needs an empty proof and the empty root.
    """
    if not 0 <= old_size <= new_size:
        return False
    if len(old_root) != HASH_SIZE or len(new_root) != HASH_SIZE:
        return False
    if any(len(p) != HASH_SIZE for p in proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the path
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


# --------------------------------------------------------------------------- signed tree heads

SIGNATURE_ALGORITHM_ED25519: Final = b"\x01"
"""The signed-note algorithm byte for Ed25519 (golang.org/x/mod/sumdb/note, C2SP signed-note)."""

_NAME_RE: Final = re.compile(r"^[^\s+]+$")
_TIMESTAMP_RE: Final = re.compile(r"^timestamp (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)$")
_SIGNATURE_PREFIX: Final = "\u2014 "


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or whose signature does not hold; says which."""


def _check_name(name: str, what: str) -> None:
    if not name or not _NAME_RE.match(name) or not name.isprintable():
        raise CheckpointError(f"{what} {name!r} must be non-empty, without spaces or '+'")


def _format_timestamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _public_key_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_hash(key_id: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte signed-note key hash: ``SHA-256(key_id || "\\n" || 0x01 || public key)[:4]``."""
    data = key_id.encode("utf-8") + b"\n" + SIGNATURE_ALGORITHM_ED25519
    return hashlib.sha256(data + _public_key_bytes(public_key)).digest()[:4]


def verifier_key(key_id: str, public_key: Ed25519PublicKey) -> str:
    """The public key as a signed-note verifier key: ``key_id+hexhash+base64(0x01||key)``.

    This one line is what partners need to check Cordon's checkpoints.
    """
    _check_name(key_id, "key id")
    encoded = base64.b64encode(SIGNATURE_ALGORITHM_ED25519 + _public_key_bytes(public_key))
    return f"{key_id}+{key_hash(key_id, public_key).hex()}+{encoded.decode('ascii')}"


def parse_verifier_key(text: str) -> tuple[str, Ed25519PublicKey]:
    """Read a :func:`verifier_key` line back into ``(key_id, public key)``; checks its hash."""
    parts = text.strip().split("+", 2)  # the base64 key may itself contain "+"
    if len(parts) != 3:
        raise CheckpointError("a verifier key is 'key_id+hash+key'")
    key_id, hash_hex, key_b64 = parts
    _check_name(key_id, "key id")
    try:
        raw = base64.b64decode(key_b64, validate=True)
    except binascii.Error:
        raise CheckpointError("verifier key is not valid base64") from None
    if len(raw) != 33 or raw[:1] != SIGNATURE_ALGORITHM_ED25519:
        raise CheckpointError("verifier key is not an Ed25519 key")
    public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
    if key_hash(key_id, public_key).hex() != hash_hex.lower():
        raise CheckpointError("verifier key hash does not match its name and key")
    return key_id, public_key


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """A checkpoint: the log ``origin`` had ``tree_size`` leaves with ``root_hash`` at
    ``timestamp``, signed by key ``key_id``.

    ``signature`` is the Ed25519 signature over :meth:`body` (the checkpoint text).
    ``key_hash`` is the signed-note hash of the key's name and public key (:func:`key_hash`),
    which tells a verifier holding several keys which one to use. The timestamp is UTC at
    millisecond precision, as in RFC 6962.
    """

    tree_size: int
    root_hash: bytes
    timestamp: datetime
    key_id: str
    signature: bytes
    origin: str
    key_hash: bytes

    def body(self) -> bytes:
        """The signed message: the C2SP checkpoint body with a timestamp extension line."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        stamp = _format_timestamp(self.timestamp)
        return f"{self.origin}\n{self.tree_size}\n{root}\ntimestamp {stamp}\n".encode()

    def to_checkpoint(self) -> str:
        """The checkpoint as a signed note (C2SP tlog-checkpoint), ready to be written out."""
        signature = base64.b64encode(self.key_hash + self.signature).decode("ascii")
        return f"{self.body().decode()}\n{_SIGNATURE_PREFIX}{self.key_id} {signature}\n"

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces): the same facts as the checkpoint."""
        return json.dumps(
            {
                "key_hash": self.key_hash.hex(),
                "key_id": self.key_id,
                "origin": self.origin,
                "root_hash": self.root_hash.hex(),
                "signature": base64.b64encode(self.signature).decode("ascii"),
                "timestamp": _format_timestamp(self.timestamp),
                "tree_size": self.tree_size,
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> SignedTreeHead:
        """Read :meth:`to_json` output; raises :class:`CheckpointError` naming the field."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CheckpointError(f"checkpoint JSON is not valid: {exc}") from None
        if not isinstance(data, dict):
            raise CheckpointError("checkpoint JSON is not an object")
        expected = {
            "key_hash",
            "key_id",
            "origin",
            "root_hash",
            "signature",
            "timestamp",
            "tree_size",
        }
        if set(data) != expected:
            raise CheckpointError(
                f"checkpoint JSON has fields {sorted(data)}, not {sorted(expected)}"
            )
        for field in ("key_hash", "key_id", "origin", "root_hash", "signature", "timestamp"):
            if not isinstance(data[field], str):
                raise CheckpointError(f"checkpoint field {field!r} is not a string")
        size = data["tree_size"]
        if not isinstance(size, int) or isinstance(size, bool):
            raise CheckpointError("checkpoint field 'tree_size' is not an integer")
        try:
            root = bytes.fromhex(data["root_hash"])
            hash_bytes = bytes.fromhex(data["key_hash"])
            signature = base64.b64decode(data["signature"], validate=True)
        except (ValueError, binascii.Error):
            raise CheckpointError(
                "checkpoint root_hash, key_hash or signature is not well encoded"
            ) from None
        return _build(
            origin=data["origin"],
            tree_size=size,
            root_hash=root,
            timestamp_text=data["timestamp"],
            key_id=data["key_id"],
            signature=signature,
            key_hash=hash_bytes,
        )


def _parse_timestamp(text: str) -> datetime:
    match = re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", text)
    if match is None:
        raise CheckpointError(f"timestamp {text!r} is not YYYY-MM-DDTHH:MM:SS.mmmZ")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        raise CheckpointError(f"timestamp {text!r} is not a real time") from None


def _build(
    *,
    origin: str,
    tree_size: int,
    root_hash: bytes,
    timestamp_text: str,
    key_id: str,
    signature: bytes,
    key_hash: bytes,
) -> SignedTreeHead:
    _check_name(key_id, "key id")
    if not origin or not origin.isprintable() or origin != origin.strip():
        raise CheckpointError(f"origin {origin!r} must be one printable line")
    if tree_size < 0:
        raise CheckpointError(f"tree size {tree_size} is negative")
    if len(root_hash) != HASH_SIZE:
        raise CheckpointError(f"root hash is {len(root_hash)} bytes, not {HASH_SIZE}")
    if len(signature) != 64:
        raise CheckpointError(f"signature is {len(signature)} bytes, not 64")
    if len(key_hash) != 4:
        raise CheckpointError(f"key hash is {len(key_hash)} bytes, not 4")
    return SignedTreeHead(
        tree_size=tree_size,
        root_hash=root_hash,
        timestamp=_parse_timestamp(timestamp_text),
        key_id=key_id,
        signature=signature,
        origin=origin,
        key_hash=key_hash,
    )


def parse_checkpoint(text: str) -> SignedTreeHead:
    """Read a checkpoint written by :meth:`SignedTreeHead.to_checkpoint`.

    Raises
    :class:`CheckpointError` naming the line that is wrong. Only the format is checked here;
    :func:`verify_tree_head` checks the signature.
    """
    body, separator, signatures = text.partition("\n\n")
    if not separator:
        raise CheckpointError("checkpoint has no blank line before its signature")
    lines = body.split("\n")
    if len(lines) != 4:
        raise CheckpointError(
            f"checkpoint body has {len(lines)} lines; expected origin, size, root, timestamp"
        )
    origin, size_text, root_text, stamp_line = lines
    if not re.fullmatch(r"0|[1-9][0-9]*", size_text):
        raise CheckpointError(f"checkpoint line 2, tree size {size_text!r}, is not a number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error:
        raise CheckpointError("checkpoint line 3, the root hash, is not base64") from None
    stamp = _TIMESTAMP_RE.match(stamp_line)
    if stamp is None:
        raise CheckpointError("checkpoint line 4 is not 'timestamp YYYY-MM-DDTHH:MM:SS.mmmZ'")
    signature_lines = signatures.split("\n")
    if len(signature_lines) != 2 or signature_lines[1] != "":
        raise CheckpointError("checkpoint must end with exactly one signature line")
    line = signature_lines[0]
    if not line.startswith(_SIGNATURE_PREFIX):
        raise CheckpointError("checkpoint signature line does not start with '— '")
    name, space, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    if not space:
        raise CheckpointError("checkpoint signature line is not '— key_id signature'")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise CheckpointError("checkpoint signature is not base64") from None
    if len(raw) != 4 + 64:
        raise CheckpointError(f"checkpoint signature is {len(raw)} bytes, not 68")
    if base64.b64encode(raw).decode("ascii") != encoded:
        raise CheckpointError("checkpoint signature is not in canonical base64")
    head = _build(
        origin=origin,
        tree_size=int(size_text),
        root_hash=root,
        timestamp_text=stamp.group(1),
        key_id=name,
        signature=raw[4:],
        key_hash=raw[:4],
    )
    if head.body() != (body + "\n").encode():
        raise CheckpointError("checkpoint body is not in canonical form")
    return head


def sign_tree_head(
    *,
    origin: str,
    tree_size: int,
    root_hash: bytes,
    timestamp: datetime,
    private_key: Ed25519PrivateKey,
    key_id: str,
) -> SignedTreeHead:
    """Sign (origin, tree_size, root_hash, timestamp) with an Ed25519 key.

    ``timestamp`` must be timezone-aware (from the Clock); it is kept in UTC at millisecond
    precision. Raises :class:`CheckpointError` for a malformed origin, key id, size or hash.
    """
    if timestamp.tzinfo is None or timestamp.utcoffset() is None:
        raise CheckpointError("timestamp must be timezone-aware")
    stamp = _format_timestamp(timestamp)
    unsigned = _build(
        origin=origin,
        tree_size=tree_size,
        root_hash=root_hash,
        timestamp_text=stamp,
        key_id=key_id,
        signature=bytes(64),
        key_hash=bytes(4),
    )
    signature = private_key.sign(unsigned.body())
    return SignedTreeHead(
        tree_size=unsigned.tree_size,
        root_hash=unsigned.root_hash,
        timestamp=unsigned.timestamp,
        key_id=unsigned.key_id,
        signature=signature,
        origin=unsigned.origin,
        key_hash=key_hash(unsigned.key_id, private_key.public_key()),
    )


def verify_tree_head(head: SignedTreeHead, public_key: Ed25519PublicKey) -> None:
    """Raise :class:`CheckpointError` unless ``head`` is signed by ``public_key``.

    Checks the key hash (the head names this key under its key id) and the signature.
    """
    if head.key_hash != key_hash(head.key_id, public_key):
        raise CheckpointError(
            f"checkpoint names key {head.key_id!r} with hash {head.key_hash.hex()}, "
            "which is not the key given to verify it"
        )
    try:
        public_key.verify(head.signature, head.body())
    except InvalidSignature:
        raise CheckpointError(
            f"signature of the checkpoint at size {head.tree_size} does not verify "
            f"with key {head.key_id!r}"
        ) from None


def verify_checkpoint(text: str, public_key: Ed25519PublicKey) -> SignedTreeHead:
    """Parse a checkpoint file and check its key hash and signature; return the tree head."""
    head = parse_checkpoint(text)
    verify_tree_head(head, public_key)
    return head
