"""``cordon bank``: hash lists, their entries, opinions, quarantine review, import and export."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from cordon.audit.log import Actor
from cordon.cli.context import Runtime, cli_principal, console, err_console, fail, runtime
from cordon.domain.partners import Principal
from cordon.domain.permissions import Permission

app = typer.Typer(
    help="Hash lists (banks): entries, opinions, quarantine review, import and export.",
    no_args_is_help=True,
)

AsUser = Annotated[
    str, typer.Option("--as", envvar="CORDON_USER", help="E-mail of the user you act as.")
]
AsOrg = Annotated[
    str | None, typer.Option("--org", help="Organisation you act for (default: the first).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
BankRef = Annotated[str, typer.Argument(help="The bank's name (or id).")]
#: Invalid lines printed by an import; all are counted.
SHOWN_ERRORS = 50


def _member(
    ctx: typer.Context, as_user: str, org: str | None, need: Permission
) -> tuple[Runtime, Principal, Actor]:
    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    if not principal.can(need):
        fail(f"a {principal.role} of a {principal.org_type} organisation may not do this ({need})")
    return rt, principal, Actor.of(principal, source="cli")


def _bank_error(exc: Exception) -> None:
    from cordon.banks import repo

    if isinstance(exc, repo.BankError) and exc.field:
        fail(f"{exc.field}: {exc}")
    fail(str(exc))


def _split(values: list[str] | None) -> list[int]:
    out: list[int] = []
    for v in values or []:
        for part in v.split(","):
            if part.strip():
                try:
                    out.append(int(part))
                except ValueError:
                    fail(f"{part!r} is not an id")
    return out


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="HMA-style name: upper-case letters, digits, _.")],
    as_user: AsUser,
    org: AsOrg = None,
    tlp: Annotated[str, typer.Option(help="TLP marking.")] = "AMBER",
    description: Annotated[str, typer.Option(help="What the list holds.")] = "",
    signal_type: Annotated[
        list[str] | None,
        typer.Option("--signal-type", help="pdq, photo_md5, photo_sha256, video_md5 (repeat)."),
    ] = None,
    pdq_threshold: Annotated[int, typer.Option(help="PDQ match distance, 0-64.")] = 31,
    negative: Annotated[
        bool, typer.Option(help="A list of known false positives (suppresses matches).")
    ] = False,
    classification: Annotated[
        str | None, typer.Option(help="Default classification: baseline, A1, A2, B1, B2.")
    ] = None,
    dihedral: Annotated[bool, typer.Option(help="Match rotated and flipped copies.")] = False,
    trimmed: Annotated[bool, typer.Option(help="Match copies with borders added.")] = False,
    low_quality: Annotated[bool, typer.Option(help="Match PDQ hashes of quality < 50.")] = False,
    share_with: Annotated[
        list[str] | None, typer.Option(help="AMBER: organisation ids to share with.")
    ] = None,
    share_group: Annotated[list[str] | None, typer.Option(help="AMBER: sharing group ids.")] = None,
    red_user: Annotated[list[str] | None, typer.Option(help="RED: user ids to name.")] = None,
) -> None:
    """Create a bank owned by your organisation (admins)."""
    from pydantic import ValidationError

    from cordon.banks import model, repo
    from cordon.domain.tlp import Tlp
    from cordon.store.db import write

    try:
        spec = model.BankIn(
            name=name,
            tlp=Tlp.parse(tlp),
            description=description,
            signal_types=signal_type or ["pdq"],
            pdq_threshold=pdq_threshold,
            negative=negative,
            default_classification=classification,
            match_dihedral=dihedral,
            match_trimmed=trimmed,
            match_low_quality=low_quality,
            share_with=_split(share_with),
            share_groups=_split(share_group),
            red_users=_split(red_user),
        )
    except ValidationError as exc:
        fail(_validation(exc))
    except ValueError as exc:
        fail(str(exc))
    rt, principal, actor = _member(ctx, as_user, org, Permission.BANK_MANAGE)
    try:
        with write(rt.engine) as conn:
            made = repo.create_bank(conn, rt.clock, principal, actor, spec)
    except repo.BankError as exc:
        _bank_error(exc)
    console.print(f"created bank {made.name} (id {made.id}, {made.tlp.value})")


def _validation(exc: Any) -> str:
    parts = []
    for e in exc.errors():
        where = ".".join(str(x) for x in e["loc"])
        message = str(e["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


@app.command("list")
def list_(
    ctx: typer.Context,
    as_user: AsUser,
    org: AsOrg = None,
    own: Annotated[bool, typer.Option(help="Your organisation's banks only.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many.")] = 100,
    as_json: AsJson = False,
) -> None:
    """List the banks you may read."""
    from cordon.banks import repo
    from cordon.store.db import write

    rt, principal, actor = _member(ctx, as_user, org, Permission.BANK_READ)
    with write(rt.engine) as conn:
        found = repo.list_banks(
            conn, rt.clock, principal, actor, repo.BankFilter(own_only=own), limit=limit
        )
        owners = repo.org_names(conn, [b.org_id for b in found])
    if as_json:
        console.print_json(
            json.dumps([repo.bank_as_dict(b, owner_name=owners.get(b.org_id)) for b in found])
        )
        return
    table = Table("id", "name", "owner", "tlp", "signal types", "threshold", "negative", "enabled")
    for b in found:
        table.add_row(
            str(b.id),
            b.name,
            owners.get(b.org_id, ""),
            b.tlp.value,
            ", ".join(b.signal_types),
            str(b.pdq_threshold),
            "yes" if b.negative else "no",
            "yes" if b.enabled else "no",
        )
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context, bank: BankRef, as_user: AsUser, org: AsOrg = None, as_json: AsJson = False
) -> None:
    """Show a bank's settings and entry counts."""
    from cordon.banks import repo
    from cordon.store.db import write

    rt, principal, actor = _member(ctx, as_user, org, Permission.BANK_READ)
    with write(rt.engine) as conn:
        found = repo.get_bank(conn, rt.clock, principal, actor, bank)
        if found is None:
            fail(f"no bank {bank} that you may see")
        stats = repo.bank_stats(conn, found.id)
        owner = repo.org_names(conn, [found.org_id]).get(found.org_id)
    out = repo.bank_as_dict(found, owner_name=owner)
    out["stats"] = repo.stats_as_dict(stats)
    if as_json:
        console.print_json(json.dumps(out))
        return
    for key, value in out.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        if key == "stats":
            shown = (
                f"{stats.entries} entries, {stats.enabled} enabled, {stats.quarantined} quarantined"
            )
        console.print(f"{key}: {shown}", highlight=False)


@app.command("update")
def update(
    ctx: typer.Context,
    bank: BankRef,
    as_user: AsUser,
    org: AsOrg = None,
    tlp: Annotated[str | None, typer.Option(help="New TLP marking.")] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    signal_type: Annotated[
        list[str] | None, typer.Option("--signal-type", help="The new set of signal types.")
    ] = None,
    pdq_threshold: Annotated[int | None, typer.Option(help="PDQ match distance, 0-64.")] = None,
    negative: Annotated[bool | None, typer.Option(help="Known false positives.")] = None,
    classification: Annotated[
        str | None, typer.Option(help="Default classification ('' removes it).")
    ] = None,
    dihedral: Annotated[bool | None, typer.Option(help="Match rotated, flipped copies.")] = None,
    trimmed: Annotated[bool | None, typer.Option(help="Match copies with borders.")] = None,
    low_quality: Annotated[bool | None, typer.Option(help="Match quality < 50.")] = None,
    enabled: Annotated[bool | None, typer.Option(help="Whether the bank matches at all.")] = None,
    share_with: Annotated[list[str] | None, typer.Option(help="AMBER: organisation ids.")] = None,
    share_group: Annotated[list[str] | None, typer.Option(help="AMBER: sharing groups.")] = None,
    red_user: Annotated[list[str] | None, typer.Option(help="RED: user ids to name.")] = None,
) -> None:
    """Change a bank's settings (admins of its owner)."""
    from pydantic import ValidationError

    from cordon.banks import model, repo
    from cordon.store.db import write

    given: dict[str, Any] = {
        "tlp": tlp.upper() if tlp else None,
        "description": description,
        "signal_types": signal_type,
        "pdq_threshold": pdq_threshold,
        "negative": negative,
        "default_classification": classification,
        "match_dihedral": dihedral,
        "match_trimmed": trimmed,
        "match_low_quality": low_quality,
        "enabled": enabled,
        "share_with": _split(share_with) if share_with is not None else None,
        "share_groups": _split(share_group) if share_group is not None else None,
        "red_users": _split(red_user) if red_user is not None else None,
    }
    try:
        changes = model.BankUpdate.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        fail(_validation(exc))
    rt, principal, actor = _member(ctx, as_user, org, Permission.BANK_MANAGE)
    try:
        with write(rt.engine) as conn:
            got = repo.update_bank(conn, rt.clock, principal, actor, bank, changes)
    except repo.BankError as exc:
        _bank_error(exc)
    console.print(f"updated bank {got.name}")


@app.command("delete")
def delete(
    ctx: typer.Context,
    bank: BankRef,
    as_user: AsUser,
    org: AsOrg = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a bank (admins of its owner): its entries stop matching; the name stays taken."""
    from cordon.banks import repo
    from cordon.store.db import write

    if not yes and not typer.confirm(f"Delete bank {bank}?"):
        fail("nothing deleted")
    rt, principal, actor = _member(ctx, as_user, org, Permission.BANK_MANAGE)
    try:
        with write(rt.engine) as conn:
            gone = repo.delete_bank(conn, rt.clock, principal, actor, bank)
    except repo.BankError as exc:
        _bank_error(exc)
    console.print(f"deleted bank {gone.name}")


def _entry_table(entries: list[Any]) -> Table:
    table = Table("id", "bank", "type", "signal", "category", "class", "tags", "on", "held", "+/-")
    for e in entries:
        table.add_row(
            str(e.id),
            e.bank_name,
            e.signal_type,
            e.signal,
            e.category,
            e.effective_classification or "",
            " ".join(e.tags),
            "yes" if e.enabled else "no",
            "yes" if e.quarantined_at else "",
            f"{e.confirms}/{e.disputes}",
        )
    return table


@app.command("entries")
def entries(
    ctx: typer.Context,
    as_user: AsUser,
    bank: Annotated[str | None, typer.Argument(help="A bank (default: every bank).")] = None,
    org: AsOrg = None,
    signal_type: Annotated[str | None, typer.Option(help="Only this signal type.")] = None,
    signal: Annotated[
        str | None, typer.Option(help="Only this signal (needs --signal-type).")
    ] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    classification: Annotated[str | None, typer.Option(help="Only this (effective) class.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only entries with this tag.")] = None,
    enabled: Annotated[
        bool | None, typer.Option(help="Only enabled (or disabled) entries.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many.")] = 50,
    count: Annotated[bool, typer.Option("--count", help="Print only how many.")] = False,
    as_json: AsJson = False,
) -> None:
    """List entries you may read, newest first, with opinion counts (confirm/dispute)."""
    from cordon.banks import repo
    from cordon.store.db import write

    rt, principal, actor = _member(ctx, as_user, org, Permission.BANK_READ)
    f = repo.EntryFilter(
        bank=bank,
        signal_type=signal_type,
        signal=signal,
        category=category,
        classification=classification,
        tag=tag,
        enabled=enabled,
    )
    try:
        with write(rt.engine) as conn:
            if count:
                console.print(str(repo.count_entries(conn, principal, f)))
                return
            found = repo.list_entries(conn, rt.clock, principal, actor, f, limit=limit)
    except repo.BankError as exc:
        _bank_error(exc)
    if as_json:
        console.print_json(json.dumps([repo.entry_as_dict(e) for e in found]))
        return
    console.print(_entry_table(found))


@app.command("add")
def add(
    ctx: typer.Context,
    bank: BankRef,
    signals: Annotated[list[str], typer.Argument(help="Signals to add.")],
    as_user: AsUser,
    org: AsOrg = None,
    signal_type: Annotated[str, typer.Option(help="Their signal type.")] = "pdq",
    category: Annotated[
        str | None, typer.Option(help="positive, negative, disputed, investigation_seed.")
    ] = None,
    classification: Annotated[str | None, typer.Option(help="baseline, A1, A2, B1, B2.")] = None,
    source: Annotated[str, typer.Option(help="Where they come from.")] = "",
    tag: Annotated[list[str] | None, typer.Option(help="A tag (repeat).")] = None,
) -> None:
    """Add signals to a bank of your organisation; duplicates are counted, not errors."""
    from pydantic import ValidationError

    from cordon.banks import model, repo
    from cordon.store.db import write

    try:
        items = [
            model.EntryIn(
                signal_type=signal_type,
                signal=s,
                category=category,
                classification=classification,
                source=source,
                tags=tag or [],
            )
            for s in signals
        ]
    except ValidationError as exc:
        fail(_validation(exc))
    rt, principal, actor = _member(ctx, as_user, org, Permission.BANK_WRITE)
    try:
        with write(rt.engine) as conn:
            done = repo.add_entries(conn, rt.clock, principal, actor, bank, items)
    except repo.BankError as exc:
        _bank_error(exc)
    console.print(f"{done.added} added, {done.duplicates} already there")


def _enable(
    ctx: typer.Context, bank: str, ids: list[int], as_user: str, org: str | None, on: bool
) -> None:
    from cordon.banks import repo
    from cordon.store.db import write

    rt, principal, actor = _member(ctx, as_user, org, Permission.BANK_WRITE)
    try:
        with write(rt.engine) as conn:
            changed = repo.set_entries_enabled(conn, rt.clock, principal, actor, bank, ids, on)
    except repo.BankError as exc:
        _bank_error(exc)
    word = "enabled" if on else "disabled"
    console.print(
        f"{len(changed)} entr{'y' if len(changed) == 1 else 'ies'} {word}, "
        f"{len(set(ids)) - len(changed)} already so"
    )


EntryIds = Annotated[list[int], typer.Argument(help="Entry ids.")]


@app.command("disable")
def disable(
    ctx: typer.Context, bank: BankRef, ids: EntryIds, as_user: AsUser, org: AsOrg = None
) -> None:
    """Disable entries without deleting them: they stop matching."""
    _enable(ctx, bank, ids, as_user, org, False)


@app.command("enable")
def enable(
    ctx: typer.Context, bank: BankRef, ids: EntryIds, as_user: AsUser, org: AsOrg = None
) -> None:
    """Enable disabled entries again."""
    _enable(ctx, bank, ids, as_user, org, True)


@app.command("opinion")
def opinion(
    ctx: typer.Context,
    entry_id: Annotated[int, typer.Argument(help="The entry's id.")],
    verdict: Annotated[str, typer.Argument(help="confirm, dispute, or withdraw.")],
    as_user: AsUser,
    org: AsOrg = None,
    note: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Confirm or dispute an entry for your organisation (replacing its earlier opinion)."""
    from cordon.banks import repo
    from cordon.store.db import write

    rt, principal, actor = _member(ctx, as_user, org, Permission.BANK_OPINION)
    try:
        with write(rt.engine) as conn:
            if verdict == "withdraw":
                gone = repo.withdraw_opinion(conn, rt.clock, principal, actor, entry_id)
                console.print("opinion withdrawn" if gone else "your organisation had no opinion")
                return
            got = repo.set_opinion(conn, rt.clock, principal, actor, entry_id, verdict, note)
    except repo.BankError as exc:
        _bank_error(exc)
    console.print(f"entry {got.id}: {got.confirms} confirm, {got.disputes} dispute")


class _Counted:
    """A text file's lines, advancing a progress bar by the bytes read."""

    def __init__(self, stream: IO[str], progress: Progress | None, task: Any) -> None:
        self.stream = stream
        self.progress = progress
        self.task = task

    def __iter__(self) -> Iterator[str]:
        pending = 0
        for line in self.stream:
            pending += len(line)
            if pending >= 1 << 20 and self.progress is not None:
                self.progress.update(self.task, advance=pending)
                pending = 0
            yield line
        if self.progress is not None:
            self.progress.update(self.task, advance=pending)


@app.command("import")
def import_(
    ctx: typer.Context,
    bank: BankRef,
    file: Annotated[Path, typer.Argument(help="The file, or - for stdin.", allow_dash=True)],
    as_user: AsUser,
    org: AsOrg = None,
    format: Annotated[str, typer.Option("--format", help="pytx, dataset or csv.")] = "pytx",
    signal_type: Annotated[
        str | None, typer.Option(help="pytx: the type of bare signals in a single-type file.")
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid lines, skip invalid ones.")
    ] = False,
    category: Annotated[str | None, typer.Option(help="Category of lines without one.")] = None,
    classification: Annotated[str | None, typer.Option(help="Class of lines without one.")] = None,
    source: Annotated[str, typer.Option(help="Source of lines without one.")] = "",
    tag: Annotated[
        list[str] | None, typer.Option(help="Tag of lines without tags (repeat).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Import a hash list, streamed (any size) in one transaction. Invalid lines are listed by
    number; unless --skip-invalid is given, any invalid line means nothing is imported."""
    from cordon.banks import files, repo
    from cordon.store.db import write

    try:
        fmt = files.check_format(format)
    except files.FileFormatError as exc:
        fail(str(exc))
    rt, principal, actor = _member(ctx, as_user, org, Permission.BANK_IMPORT)
    stdin = str(file) == "-"
    try:
        stream: IO[str] = sys.stdin if stdin else file.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        fail(f"cannot read {file}: {exc}")
    total = None if stdin else file.stat().st_size
    progress = None
    if not quiet:
        progress = Progress(
            TextColumn(f"importing into {bank}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        )
    try:
        with progress if progress is not None else _nothing():
            task = progress.add_task("import", total=total) if progress is not None else None
            lines = _Counted(stream, progress, task)
            with write(rt.engine) as conn:
                done = repo.import_entries(
                    conn,
                    rt.clock,
                    principal,
                    actor,
                    bank,
                    files.read(fmt, lines, signal_type),
                    fmt=fmt,
                    skip_invalid=skip_invalid,
                    category=category,
                    classification=classification,
                    source=source,
                    tags=tag or [],
                )
    except repo.ImportRejected as exc:
        _print_errors(exc.result)
        fail(str(exc).replace("skip_invalid", "--skip-invalid"))
    except files.FileFormatError as exc:
        fail(str(exc))
    except UnicodeDecodeError as exc:
        fail(f"{file} is not UTF-8 text: {exc}")
    except repo.BankError as exc:
        _bank_error(exc)
    except ValueError as exc:
        fail(str(exc))
    finally:
        if not stdin:
            stream.close()
    _print_errors(done)
    console.print(
        f"{done.read} line(s) read: {done.added} added, {done.duplicates} duplicate(s), "
        f"{done.invalid} invalid skipped"
    )


def _print_errors(result: Any) -> None:
    for e in result.errors[:SHOWN_ERRORS]:
        err_console.print(str(e), highlight=False, soft_wrap=True)
    if result.invalid > SHOWN_ERRORS:
        err_console.print(f"... and {result.invalid - SHOWN_ERRORS} more invalid line(s)")


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


@app.command("export")
def export(
    ctx: typer.Context,
    bank: BankRef,
    as_user: AsUser,
    org: AsOrg = None,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="File to write, or - for stdout.", allow_dash=True),
    ] = Path("-"),
    format: Annotated[str, typer.Option("--format", help="pytx, dataset or csv.")] = "pytx",
    signal_type: Annotated[
        str | None, typer.Option(help="Only this type (photo digests need it in pytx formats).")
    ] = None,
    bare: Annotated[bool, typer.Option(help="pytx with one --signal-type: bare signals.")] = False,
    include_disabled: Annotated[bool, typer.Option(help="Also disabled entries.")] = False,
) -> None:
    """Export a bank, streamed; the export is audited before anything is written."""
    from cordon.banks import files, repo
    from cordon.store.db import read, write

    try:
        fmt = files.check_format(format)
    except files.FileFormatError as exc:
        fail(str(exc))
    rt, principal, actor = _member(ctx, as_user, org, Permission.BANK_EXPORT)
    try:
        with write(rt.engine) as conn:
            plan = repo.plan_export(
                conn,
                rt.clock,
                principal,
                actor,
                bank,
                fmt=fmt,
                signal_type=signal_type,
                include_disabled=include_disabled,
                bare=bare,
            )
    except repo.BankError as exc:
        _bank_error(exc)
    to_stdout = str(output) == "-"
    try:
        out: IO[str] = sys.stdout if to_stdout else output.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        fail(f"cannot write {output}: {exc}")
    written = 0
    try:
        with read(rt.engine) as conn:
            rows = repo.export_rows(conn, principal, plan)
            for line in files.render(fmt, rows, collab=plan.bank.name, bare=plan.bare):
                out.write(line)
                written += 1
    finally:
        if not to_stdout:
            out.close()
    if not to_stdout:
        lines = written - (1 if fmt != "pytx" else 0)
        err_console.print(f"{lines} entr{'y' if lines == 1 else 'ies'} written to {output}")


@app.command("quarantined")
def quarantined(
    ctx: typer.Context,
    as_user: AsUser,
    bank: Annotated[str | None, typer.Argument(help="A bank (default: every bank).")] = None,
    org: AsOrg = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many.")] = 50,
    as_json: AsJson = False,
) -> None:
    """Entries the flood guard holds for review, with the reason."""
    from cordon.banks import repo
    from cordon.store.db import write

    rt, principal, actor = _member(ctx, as_user, org, Permission.BANK_READ)
    try:
        with write(rt.engine) as conn:
            found = repo.list_entries(
                conn,
                rt.clock,
                principal,
                actor,
                repo.EntryFilter(bank=bank, quarantined=True),
                limit=limit,
            )
    except repo.BankError as exc:
        _bank_error(exc)
    if as_json:
        console.print_json(json.dumps([repo.entry_as_dict(e) for e in found]))
        return
    table = Table("id", "bank", "type", "signal", "held since", "reason")
    for e in found:
        table.add_row(
            str(e.id),
            e.bank_name,
            e.signal_type,
            e.signal,
            f"{e.quarantined_at:%Y-%m-%d %H:%M}" if e.quarantined_at else "",
            e.quarantine_reason or "",
        )
    console.print(table)


@app.command("release")
def release(
    ctx: typer.Context,
    entry_id: Annotated[int, typer.Argument(help="The quarantined entry's id.")],
    as_user: AsUser,
    org: AsOrg = None,
    note: Annotated[str, typer.Option(help="What the review found.")] = "",
) -> None:
    """Release a quarantined entry of your organisation's bank: it alerts again."""
    from cordon.banks import repo
    from cordon.store.db import write

    rt, principal, actor = _member(ctx, as_user, org, Permission.BANK_WRITE)
    try:
        with write(rt.engine) as conn:
            repo.review_release(conn, rt.clock, principal, actor, entry_id, note)
    except repo.BankError as exc:
        _bank_error(exc)
    console.print(f"entry {entry_id} released")
