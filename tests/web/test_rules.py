"""Rules of the console that need no database: where a login may return to, what the vendored
files are, what templates may hold, and that pages cannot skip the CSRF check."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from fastapi import FastAPI

from cordon.api.routing import CordonRouter, RouteWithoutPermission, check_routes
from cordon.domain.permissions import Permission
from cordon.web.errors import safe_next
from web.helpers import ROOT


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/reports?tlp=RED", "/reports?tlp=RED"),
        ("https://elsewhere.test/", "/"),
        ("//elsewhere.test/", "/"),
        ("/\\elsewhere.test", "/"),
        ("/\r\nSet-Cookie:x", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_only_paths_of_this_site_are_places_to_return_to(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_vendored_files_match_their_manifest_and_the_dependency_list() -> None:
    docs = (ROOT / "docs" / "dependencies.md").read_text(encoding="utf-8")
    manifests = [
        ROOT / "src" / "cordon" / "web" / "static" / "vendor" / "VENDORED.json",
        ROOT / "tests" / "web" / "vendor" / "VENDORED.json",
    ]
    names = set()
    for manifest in manifests:
        for entry in json.loads(manifest.read_text(encoding="utf-8")):
            names.add(entry["name"])
            folder: Path = manifest.parent / entry["folder"]
            for item in entry["files"]:
                digest = hashlib.sha256((folder / item["file"]).read_bytes()).hexdigest()
                assert digest == item["sha256"], f"{entry['name']}: {item['file']} was changed"
            assert any(f.name.startswith("LICENSE") for f in folder.iterdir())
            row = f"| `{entry['name']}` | {entry['version']} | {entry['licence']} |"
            assert row in docs, f"docs/dependencies.md lacks the row {row}"
    assert names == {"htmx.org", "chart.js", "cytoscape", "axe-core"}


def test_no_template_links_to_anything_outside_cordon() -> None:
    folder = ROOT / "src" / "cordon" / "web" / "templates"
    for template in folder.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), template.name
        assert "<img" not in text, template.name
        assert "data:" not in text, template.name


def test_a_state_changing_page_outside_the_console_router_is_refused_at_start_up() -> None:
    app = FastAPI()
    router = CordonRouter()

    @router.post("/sneaky", permission=Permission.SELF_READ, summary="no csrf")
    def sneaky() -> None:
        return None

    app.include_router(router)
    with pytest.raises(RouteWithoutPermission, match="POST /sneaky changes state"):
        check_routes(app)
