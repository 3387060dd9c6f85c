"""Fixtures for signal tests: the PDQ conformance pictures and generated pictures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def conformance_root() -> Path:
    """``$CORDON_CONFORMANCE_DIR``, else ``shared/conformance`` beside the checkout."""
    configured = os.environ.get("CORDON_CONFORMANCE_DIR")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "conformance"


@pytest.fixture(scope="session")
def pdq_conformance() -> Path:
    """The folder of the PDQ reference pictures; missing fails under CI and skips loudly else."""
    folder = conformance_root() / "pdq"
    if not (folder / "bridge-mods").is_dir():
        message = (
            f"PDQ conformance pictures not found at {folder} "
            "(set CORDON_CONFORMANCE_DIR to the folder holding pdq/)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI requires them", pytrace=False)
        pytest.skip(f"!!! SKIPPED: {message}")
    return folder
