"""The list of commands; a new group or command adds one line here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer


def groups() -> list[tuple[str, typer.Typer]]:
    """Command groups, in the order ``cordon --help`` lists them."""
    from cordon.cli import (
        audit,
        banks,
        cases,
        crawl,
        db,
        keys,
        matching,
        money,
        network,
        org,
        outcomes,
        purchase,
        report,
        token,
        user,
        work,
        world,
    )

    return [
        ("db", db.app),
        ("keys", keys.app),
        ("org", org.app),
        ("user", user.app),
        ("token", token.app),
        ("report", report.app),
        ("work", work.app),
        ("audit", audit.app),
        ("world", world.app),
        ("money", money.app),
        ("purchase", purchase.app),
        ("capture", crawl.capture_app),
        ("bank", banks.app),
        ("matcher", matching.matcher_app),
        ("network", network.app),
        ("case", cases.app),
        ("deconflict", cases.deconflict_app),
        ("blocklist", outcomes.blocklist_app),
    ]


def single_commands() -> list[Callable[..., Any]]:
    """Top-level commands that are not groups."""
    from cordon.cli import (
        attribute,
        crawl,
        demo,
        doctor,
        matching,
        outcomes,
        search,
        serve,
    )
    from cordon.cli import hash as hash_command

    return [
        serve.serve,
        serve.worker,
        demo.demo,
        hash_command.hash,
        attribute.attribute,
        doctor.doctor,
        crawl.crawl,
        matching.match,
        search.search,
        search.screen,
        outcomes.stats,
        outcomes.assess,
    ]
