"""Fixtures for the outcomes tests: the published XARF v4 schemas as a validator, checks every
e-mailed notice must pass, and a small synthetic world that the end-to-end test changes."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from conftest import conformance_root

XarfCheck = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="session")
def xarf_schemas() -> Path:
    folder = conformance_root() / "xarf" / "schemas" / "v4"
    if not (folder / "xarf-v4-master.json").is_file():
        message = f"XARF v4 schemas not found at {folder} (set CORDON_CONFORMANCE_DIR)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI requires them", pytrace=False)
        pytest.skip(f"!!! SKIPPED: {message}")
    return folder


@pytest.fixture(scope="session")
def xarf_valid(xarf_schemas: Path) -> XarfCheck:
    """Validates a report against every schema that applies to it (master, core, content
    base and content-csam), with formats checked; raises on the first error."""
    resources = []
    for path in sorted(xarf_schemas.rglob("*.json")):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    registry: Registry[Any] = Registry().with_resources(resources)
    names = ["xarf-v4-master.json", "xarf-core.json", "types/content-base.json"]
    names.append("types/content-csam.json")
    validators = [
        Draft202012Validator(
            json.loads((xarf_schemas / name).read_text()),
            registry=registry,
            format_checker=FormatChecker(),
        )
        for name in names
    ]

    def check(report: dict[str, Any]) -> None:
        for v in validators:
            v.validate(report)
        assert "evidence" not in report
        assert "screenshot_url" not in report
        assert report["classification"] in ("baseline", "A1", "A2", "B1", "B2")

    return check


def json_parts(message: EmailMessage) -> dict[str, Any]:
    """Every JSON attachment of a message, by file name."""
    out = {}
    for part in message.iter_attachments():
        if part.get_content_type() == "application/json":
            out[part.get_filename() or ""] = json.loads(part.get_content())
    return out


def assert_no_media(message: EmailMessage, picture_paths: set[str]) -> None:
    """A notice carries no picture, no link to one, no evidence payload, no screenshot."""
    for part in message.walk():
        if part.is_multipart():
            continue
        assert part.get_content_maintype() in ("text", "application"), part.get_content_type()
        assert part.get_content_type() in ("text/plain", "application/json")
        content = part.get_content()
        text = content if isinstance(content, str) else content.decode()
        for path in picture_paths:
            assert path not in text, f"a picture's address {path} is in a notice"
        assert "data:image" not in text
        assert '"screenshot_url"' not in text
        assert '"evidence": [' not in text


@pytest.fixture(scope="session")
def clean_message() -> Callable[[EmailMessage, set[str]], None]:
    return assert_no_media
