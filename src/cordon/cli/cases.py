"""``cordon case`` and ``cordon deconflict``: cases, deconfliction hits, and the keyed-hash
exchange between deployments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cordon.audit.log import Actor
from cordon.cli.context import Runtime, cli_principal, console, fail, runtime, state
from cordon.store.db import write

app = typer.Typer(help="Open and work on cases.", no_args_is_help=True)
deconflict_app = typer.Typer(
    help="Deconfliction hits, and deconfliction between deployments through keyed hashes.",
    no_args_is_help=True,
)
key_app = typer.Typer(help="The coalition's shared deconfliction key.", no_args_is_help=True)
deconflict_app.add_typer(key_app, name="key")

AsUser = Annotated[
    str, typer.Option("--as", envvar="CORDON_USER", help="E-mail of the user you act as.")
]
AsOrg = Annotated[
    str | None, typer.Option("--org", help="Organisation you act for (default: the first).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _deconflictor(rt: Runtime, actor: Actor) -> Any:
    from cordon.cases.deconfliction import Deconflictor
    from cordon.notices.policy import NoticePolicy

    return Deconflictor(rt.clock, actor, NoticePolicy.from_settings(rt.settings))


def _case_actor(principal: Any, case_id: int | None = None) -> Actor:
    from cordon.cases.repo import purpose

    return Actor.of(principal, source="cli", purpose=purpose(case_id) if case_id else None)


@app.command("open")
def open_(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="What the case is about.")],
    as_user: AsUser,
    subject: Annotated[
        list[str] | None,
        typer.Option(
            "--subject",
            "-s",
            help="kind:value (network:12, domain:shop.test, iban:…) or a bare URL, address, "
            "wallet; repeat for more.",
        ),
    ] = None,
    tlp: Annotated[str, typer.Option(help="TLP marking.")] = "AMBER",
    participant: Annotated[
        list[str] | None, typer.Option("--participant", help="Organisation name or id.")
    ] = None,
    contact: Annotated[
        str | None, typer.Option(help="Whom other organisations contact (default: you).")
    ] = None,
    reference: Annotated[str | None, typer.Option(help="Your own file number.")] = None,
    org: AsOrg = None,
    as_json: AsJson = False,
) -> None:
    """Open a case owned by your organisation; its subjects are deconflicted at once."""
    from cordon.cases import repo
    from cordon.domain.tlp import Tlp
    from cordon.partners import repo as partners

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    try:
        marking = Tlp.parse(tlp)
    except ValueError as exc:
        fail(f"--tlp: {exc}")
    actor = _case_actor(principal)
    d = _deconflictor(rt, actor)
    try:
        with write(rt.engine) as conn:
            orgs = [partners.find_org(conn, p).id for p in participant or []]
            found = repo.open_case(
                conn,
                rt.clock,
                principal,
                actor,
                repo.CaseIn(
                    title=title,
                    tlp=marking,
                    reference=reference,
                    contact=contact,
                    participants=orgs,
                    subjects=list(subject or []),
                ),
                deconflict=d,
            )
    except (repo.CaseError, partners.NotFound) as exc:
        fail(str(exc))
    if as_json:
        out = repo.case_as_dict(found)
        out["deconfliction_hits"] = [h.id for h in d.hits]
        console.print_json(json.dumps(out))
        return
    console.print(f"opened case {found.id} ({found.tlp.value})")
    for h in d.hits:
        console.print(f"deconfliction hit {h.id}: {', '.join(h.kinds)} shared with another case")


@app.command("list")
def list_(
    ctx: typer.Context,
    as_user: AsUser,
    status: Annotated[str | None, typer.Option(help="open, suspended or closed.")] = None,
    org: AsOrg = None,
    as_json: AsJson = False,
) -> None:
    """The cases you may read, newest first (audited)."""
    from cordon.cases import repo

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    try:
        with write(rt.engine) as conn:
            page = repo.list_page(
                conn,
                rt.clock,
                principal,
                _case_actor(principal),
                repo.CaseFilter(status=status),
                limit=500,
            )
    except repo.CaseError as exc:
        fail(str(exc))
    if as_json:
        console.print_json(json.dumps([repo.case_as_dict(c) for c in page]))
        return
    table = Table("id", "title", "status", "tlp", "owner", "opened")
    for c in page:
        table.add_row(
            str(c.id), c.title, c.status, c.tlp.value, c.owner_name, f"{c.created_at:%Y-%m-%d}"
        )
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    case_id: Annotated[int, typer.Argument(help="The case id.")],
    as_user: AsUser,
    org: AsOrg = None,
    as_json: AsJson = False,
) -> None:
    """A case with its participants, subjects and notes (audited with the case as purpose)."""
    from cordon.cases import repo

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    try:
        with write(rt.engine) as conn:
            found = repo.get(conn, rt.clock, principal, _case_actor(principal, case_id), case_id)
            members = repo.participants_of(conn, case_id)
            subjects = repo.subjects_of(conn, case_id)
            notes = repo.notes_of(conn, case_id)
    except repo.CaseError as exc:
        fail(str(exc))
    if as_json:
        out = repo.case_as_dict(found)
        out["participants"] = [repo.participant_as_dict(p) for p in members]
        out["subjects"] = [repo.subject_as_dict(s) for s in subjects]
        out["notes"] = [repo.note_as_dict(n) for n in notes]
        console.print_json(json.dumps(out))
        return
    console.print(f"[bold]case {found.id}[/]: {found.title} ({found.status}, {found.tlp.value})")
    console.print(f"owner: {found.owner_name}; contact: {found.contact}")
    console.print("members: " + ", ".join(f"{p.org_name} ({p.role})" for p in members))
    table = Table("id", "kind", "key")
    for s in subjects:
        table.add_row(str(s.id), s.kind, s.key)
    console.print(table)
    for n in notes:
        console.print(f"[{n.created_at:%Y-%m-%d %H:%M}] {n.author_name}: {n.text}")


@app.command("subject")
def subject(
    ctx: typer.Context,
    case_id: Annotated[int, typer.Argument(help="The case id.")],
    subjects: Annotated[list[str], typer.Argument(help="kind:value, or a bare identifier.")],
    as_user: AsUser,
    org: AsOrg = None,
) -> None:
    """Name more subjects of your case; they are deconflicted at once."""
    from cordon.cases import repo

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    actor = _case_actor(principal, case_id)
    d = _deconflictor(rt, actor)
    try:
        with write(rt.engine) as conn:
            added = repo.add_subjects(
                conn, rt.clock, principal, actor, case_id, subjects, deconflict=d
            )
    except repo.CaseError as exc:
        fail(str(exc))
    console.print(f"added {len(added)} subject(s) to case {case_id}")
    for h in d.hits:
        console.print(f"deconfliction hit {h.id}: {', '.join(h.kinds)} shared with another case")


@app.command("participant")
def participant(
    ctx: typer.Context,
    case_id: Annotated[int, typer.Argument(help="The case id.")],
    organisation: Annotated[str, typer.Argument(help="Organisation name or id.")],
    as_user: AsUser,
    remove: Annotated[bool, typer.Option("--remove", help="End its membership.")] = False,
    org: AsOrg = None,
) -> None:
    """Add a partner organisation to your case (or remove it)."""
    from cordon.cases import repo
    from cordon.partners import repo as partners

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    actor = _case_actor(principal, case_id)
    try:
        with write(rt.engine) as conn:
            target = partners.find_org(conn, organisation)
            if remove:
                repo.remove_participant(conn, rt.clock, principal, actor, case_id, target.id)
            else:
                repo.add_participant(conn, rt.clock, principal, actor, case_id, target.id)
    except (repo.CaseError, partners.NotFound) as exc:
        fail(str(exc))
    console.print(f"{'removed' if remove else 'added'} {target.name}")


@app.command("note")
def note(
    ctx: typer.Context,
    case_id: Annotated[int, typer.Argument(help="The case id.")],
    text: Annotated[str, typer.Argument(help="The note.")],
    as_user: AsUser,
    org: AsOrg = None,
) -> None:
    """Add a note to a case your organisation takes part in."""
    from cordon.cases import repo

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    try:
        with write(rt.engine) as conn:
            made = repo.add_note(
                conn, rt.clock, principal, _case_actor(principal, case_id), case_id, text
            )
    except repo.CaseError as exc:
        fail(str(exc))
    console.print(f"note {made.id} added")


@app.command("status")
def status(
    ctx: typer.Context,
    case_id: Annotated[int, typer.Argument(help="The case id.")],
    new_status: Annotated[str, typer.Argument(help="open, suspended or closed.")],
    as_user: AsUser,
    org: AsOrg = None,
) -> None:
    """Suspend, close or reopen your case (a reopened case is deconflicted again)."""
    from cordon.cases import repo

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    actor = _case_actor(principal, case_id)
    d = _deconflictor(rt, actor)
    try:
        with write(rt.engine) as conn:
            found = repo.update_case(
                conn, rt.clock, principal, actor, case_id, status=new_status, deconflict=d
            )
    except repo.CaseError as exc:
        fail(str(exc))
    console.print(f"case {found.id} is {found.status}")


# ------------------------------------------------------------------------------ deconfliction


@deconflict_app.command("hits")
def hits(
    ctx: typer.Context,
    as_user: AsUser,
    case: Annotated[int | None, typer.Option(help="Only hits of this case.")] = None,
    org: AsOrg = None,
    as_json: AsJson = False,
) -> None:
    """Deconfliction hits that concern your organisation, as your side learns them."""
    from cordon.cases import deconfliction

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    with write(rt.engine) as conn:
        views = deconfliction.list_hits(
            conn, rt.clock, principal, _case_actor(principal), case_id=case, limit=500
        )
    if as_json:
        console.print_json(json.dumps(views))
        return
    table = Table("hit", "your case", "shared", "contact", "their case")
    for v in views:
        other = v["other_case"]
        table.add_row(
            str(v["id"]),
            str(v["your_case"]["id"]),
            ", ".join(f"{e['kind']}:{e['key']}" for e in v["overlap"]["entities"]),
            f"{v['contact']['organisation']} ({v['contact']['contact']})",
            f"{other['id']} {other['title']}" if other else "(not yours to see)",
        )
    console.print(table)


def _exchange_principal(ctx: typer.Context, as_user: str, org: str | None) -> tuple[Runtime, Any]:
    from cordon.domain.permissions import Permission

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    if not principal.can(Permission.DECONFLICTION_EXCHANGE):
        fail("deconfliction between deployments is for coordinator admins")
    return rt, principal


def _coalition_key(ctx: typer.Context) -> bytes:
    from cordon.keys import KeyDirError, load_deconfliction_key

    try:
        return load_deconfliction_key(state(ctx).settings.key_dir)
    except KeyDirError as exc:
        fail(str(exc))


Scope = Annotated[
    bool,
    typer.Option(
        "--all",
        help="Every identifier this deployment knows, not only those of open cases.",
    ),
]


@deconflict_app.command("export")
def export(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Where to write the JSON document.")],
    as_user: AsUser,
    everything: Scope = False,
    org: AsOrg = None,
) -> None:
    """Write the keyed hashes of the identifiers of open cases (no plaintext) for another
    deployment to check against its own."""
    from cordon.cases import exchange

    rt, principal = _exchange_principal(ctx, as_user, org)
    key = _coalition_key(ctx)
    with write(rt.engine) as conn:
        doc = exchange.build_export(
            conn,
            rt.clock,
            Actor.of(principal, source="cli"),
            key,
            scope="all" if everything else "open_cases",
        )
    try:
        file.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {file}: {exc}")
    console.print(f"wrote {doc['count']} keyed hash(es) to {file} (key id {doc['key_id']})")


@deconflict_app.command("check")
def check(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Another deployment's export.")],
    as_user: AsUser,
    everything: Scope = False,
    org: AsOrg = None,
    as_json: AsJson = False,
) -> None:
    """Report exactly which of our identifiers the other deployment also holds, and in which
    of our cases. Exits 1 when the file was made with another key or was altered."""
    from cordon.cases import exchange

    rt, principal = _exchange_principal(ctx, as_user, org)
    key = _coalition_key(ctx)
    try:
        doc = exchange.read_document(file.read_bytes())
    except OSError as exc:
        fail(f"cannot read {file}: {exc}")
    except exchange.ExchangeError as exc:
        fail(f"{file}: {exc}")
    try:
        with write(rt.engine) as conn:
            result = exchange.check(
                conn,
                rt.clock,
                Actor.of(principal, source="cli"),
                key,
                doc,
                scope="all" if everything else "open_cases",
            )
    except exchange.ExchangeError as exc:
        fail(f"{file}: {exc}")
    if as_json:
        console.print_json(json.dumps(result.as_dict()))
        return
    console.print(
        f"{len(result.overlaps)} overlap(s) between their {result.their_count} and our "
        f"{result.our_count} identifier(s)"
    )
    table = Table("kind", "identifier", "our cases")
    for o in result.overlaps:
        table.add_row(
            o.entity.kind.value,
            o.entity.key,
            ", ".join(f"{c['id']} ({c['owner']}, {c['contact']})" for c in o.cases) or "(no case)",
        )
    console.print(table)


@key_app.command("generate")
def key_generate(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option(help="Also write the key (hex) here, mode 0600, to hand to the others."),
    ] = None,
) -> None:
    """Create the coalition key in this deployment's key directory (once, in one place)."""
    import os

    from cordon.keys import KeyDirError, deconfliction_key_id, store_deconfliction_key

    try:
        key = store_deconfliction_key(state(ctx).settings.key_dir)
    except KeyDirError as exc:
        fail(str(exc))
    if out is not None:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key.hex() + "\n")
    console.print(f"created the deconfliction key, id {deconfliction_key_id(key)}")


@key_app.command("import")
def key_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The key as hex (what `key generate --out` wrote).")],
) -> None:
    """Install the coalition key received from the deployment that generated it."""
    from cordon.keys import KeyDirError, deconfliction_key_id, store_deconfliction_key

    try:
        text = file.read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        fail(f"{file} does not hold a key in hex: {exc}")
    try:
        store_deconfliction_key(state(ctx).settings.key_dir, key)
    except KeyDirError as exc:
        fail(str(exc))
    console.print(f"imported the deconfliction key, id {deconfliction_key_id(key)}")


@key_app.command("show")
def key_show(ctx: typer.Context) -> None:
    """Print the key id (safe to share: deployments compare it before exchanging files)."""
    from cordon.keys import deconfliction_key_id

    console.print(f"deconfliction key id: {deconfliction_key_id(_coalition_key(ctx))}")
