"""The list of command groups; a new group adds one line here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer


def groups() -> list[tuple[str, typer.Typer]]:
    """Command groups, in the order ``cordon --help`` lists them."""
    from cordon.cli import audit, db, keys, org, report, token, user, work, world

    out: list[tuple[str, typer.Typer]] = [
        ("db", db.app),
        ("keys", keys.app),
        ("org", org.app),
        ("user", user.app),
        ("token", token.app),
        ("report", report.app),
        ("work", work.app),
        ("audit", audit.app),
        ("world", world.app),
    ]
    from cordon.cli import money, purchase

    out += [("money", money.app), ("purchase", purchase.app)]
    from cordon.cli import crawl

    out.append(("capture", crawl.capture_app))
    return out


def single_commands() -> list[Callable[..., Any]]:
    """Top-level commands that are not groups."""
    from cordon.cli import demo, serve

    out: list[Callable[..., Any]] = [serve.serve, serve.worker, demo.demo]
    from cordon.cli import hash as hash_command

    out.append(hash_command.hash)
    from cordon.cli import attribute, doctor

    out += [attribute.attribute, doctor.doctor]
    from cordon.cli import crawl as crawl_command

    out.append(crawl_command.crawl)
    return out
