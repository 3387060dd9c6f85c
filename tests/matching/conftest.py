"""Fixtures of the matching tests: a picture server on loopback and generated pictures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from matching.captures import PictureServer


@pytest.fixture(scope="module")
def pictures() -> Iterator[PictureServer]:
    server = PictureServer()
    yield server
    server.close()
