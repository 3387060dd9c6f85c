"""The list of command groups; a new group adds one line here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer


def groups() -> list[tuple[str, typer.Typer]]:
    """Command groups, in the order ``cordon --help`` lists them."""
    out: list[tuple[str, typer.Typer]] = []
    return out


def single_commands() -> list[Callable[..., Any]]:
    """Top-level commands that are not groups."""
    out: list[Callable[..., Any]] = []
    return out
