"""Plain-text e-mail bodies of takedown notices, from editable Jinja2 templates.

Templates are ``<language>/<kind>.txt.j2``: first in ``outcomes.templates_dir`` (an operator's
own wording), then the ones shipped in ``cordon/outcomes/templates/``. A language without a
template of the kind falls back to English. URLs reach templates already defanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

SHIPPED = Path(__file__).parent / "templates"
FALLBACK_LANGUAGE = "en"


class TemplateError(ValueError):
    """A template is missing or fails to render; the message names it."""


def _environment(templates_dir: Path | None) -> jinja2.Environment:
    folders = [str(templates_dir)] if templates_dir else []
    folders.append(str(SHIPPED))
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701  # plain-text e-mail, not HTML: nothing to escape
    )


def render(
    kind: str, language: str, context: Mapping[str, Any], *, templates_dir: Path | None = None
) -> str:
    """The text of a notice of ``kind`` in ``language`` (English when it has no template)."""
    env = _environment(templates_dir)
    names = [f"{language}/{kind}.txt.j2", f"{FALLBACK_LANGUAGE}/{kind}.txt.j2"]
    try:
        template = env.select_template(names)
        return template.render(**context)
    except jinja2.TemplateNotFound:
        raise TemplateError(f"no template {names[0]} (nor {names[1]})") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template for {kind} ({language}): {exc}") from None
