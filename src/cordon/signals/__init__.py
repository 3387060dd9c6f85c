"""Signals: hashing pictures in memory (PDQ, MD5, SHA-256), signal types, hash-list formats and
the exact match index. See docs/signals.md."""
