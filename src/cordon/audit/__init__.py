"""The append-only audit log: Merkle tree, signed checkpoints and verification."""
