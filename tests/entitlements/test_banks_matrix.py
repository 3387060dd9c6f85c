"""The entitlement matrix of hash lists: organisation types × roles × TLP × every read path of
banks, entries and opinions (API list, show, count, export, entry lists, quarantine review, and
the CLI).

The oracle is written here from DESIGN.md's rules, independently of the policy module: a bank is
a shared record; payment providers, hosting providers and ISPs see their own banks only;
everyone else sees CLEAR and GREEN banks, AMBER banks of their own or shared with them, AMBER+
STRICT banks of their own, and RED banks that name them. An entry is readable exactly by those
who may read its bank. Opinion counts go with the entry; the list of opinions shows every
organisation's to the bank's owner and an organisation's own to everyone else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from cordon.audit.log import Actor
from cordon.banks import model, repo
from cordon.cli.main import app as cli_app
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.domain.partners import OrgType, Principal, Role
from cordon.domain.tlp import Tlp
from cordon.keys import Keys
from cordon.store.db import write
from cordon.store.tables import app_user
from support import make_member, token_for

ADDRESSEE_ONLY = {OrgType.PAYMENT_PROVIDER, OrgType.HOSTING_PROVIDER, OrgType.ISP}
STAGE = Actor(source="stage")


@dataclass(frozen=True)
class Marked:
    tlp: Tlp
    owner_org: int
    shared_orgs: frozenset[int]
    named_users: frozenset[int]


def sees(p: Principal, r: Marked) -> bool:
    """DESIGN.md's rules for a shared record, restated."""
    if r.tlp is Tlp.RED:
        return p.user_id in r.named_users
    if p.org_type in ADDRESSEE_ONLY:
        return p.org_id == r.owner_org
    if r.tlp in (Tlp.CLEAR, Tlp.GREEN):
        return True
    if r.tlp is Tlp.AMBER:
        return p.org_id == r.owner_org or p.org_id in r.shared_orgs
    return p.org_id == r.owner_org


@dataclass
class BankCase:
    id: int
    name: str
    mark: Marked
    signals: set[str]
    entry_ids: list[int]


def test_banks_entitlement_matrix(
    client: TestClient,
    engine: Engine,
    clock: FrozenClock,
    keys: Keys,
    settings: Settings,
    tmp_path: Path,
) -> None:
    principals: list[Principal] = []
    tokens: dict[int, str] = {}
    emails: dict[int, str] = {}
    banks: list[BankCase] = []
    opinions: dict[int, dict[int, str]] = {}  # entry id -> org id -> opinion
    with write(engine) as conn:
        owner = make_member(conn, clock, org_type="hotline", role="admin")
        share_target = make_member(conn, clock, org_type="technology", country="DE")
        named = make_member(conn, clock, org_type="law_enforcement", country="FR")
        isp = make_member(conn, clock, org_type="isp", role="admin")
        principals += [owner, share_target, named, isp]
        for org_type in OrgType:
            for role in Role:
                principals.append(
                    make_member(conn, clock, org_type=org_type.value, role=role.value)
                )
        for p in principals:
            tokens[p.user_id] = token_for(conn, clock, keys, p)
        emails = {int(r.id): r.email for r in conn.execute(select(app_user.c.id, app_user.c.email))}
        specs: list[tuple[Principal, Tlp, str]] = [(owner, tlp, f"LIST_{tlp.name}") for tlp in Tlp]
        # An addressee-only organisation's own list: it sees it, other such partners do not.
        specs.append((isp, Tlp.GREEN, "ISP_OWN_LIST"))
        for n, (who, tlp, name) in enumerate(specs):
            made = repo.create_bank(
                conn,
                clock,
                who,
                Actor.of(who, source="cli"),
                model.BankIn(
                    name=name,
                    tlp=tlp,
                    share_with=[share_target.org_id] if tlp is Tlp.AMBER else [],
                    red_users=[named.user_id] if tlp is Tlp.RED else [],
                ),
            )
            signals = {f"{n:02x}{k:062x}" for k in range(1, 3)}
            repo.add_entries(
                conn,
                clock,
                who,
                Actor.of(who, source="cli"),
                made.id,
                [model.EntryIn(signal_type="pdq", signal=s) for s in sorted(signals)],
            )
            ids = [
                e.id
                for e in repo.list_entries(
                    conn, clock, who, STAGE, repo.EntryFilter(bank=made.id), limit=10
                )
            ]
            mark = Marked(
                tlp,
                who.org_id,
                frozenset([share_target.org_id]) if tlp is Tlp.AMBER else frozenset(),
                frozenset([who.user_id, named.user_id]) if tlp is Tlp.RED else frozenset(),
            )
            banks.append(BankCase(made.id, name, mark, signals, sorted(ids)))
            # The flood guard holds one entry of every bank; opinions from whoever may give one.
            repo.quarantine_entry(conn, clock, STAGE, min(ids), "flood guard: 40 matches in 1 h")
            for voter, verdict in ((who, "confirm"), (share_target, "dispute"), (named, "confirm")):
                if sees(voter, mark):
                    for eid in ids:
                        repo.set_opinion(
                            conn, clock, voter, Actor.of(voter, source="cli"), eid, verdict
                        )
                        opinions.setdefault(eid, {})[voter.org_id] = verdict

    problems: list[str] = []
    cells = 0

    def check(label: str, kind: str, path: str, got: set[object], want: set[object]) -> None:
        nonlocal cells
        cells += 1
        for rid in sorted(got - want, key=str):
            problems.append(f"LEAK {label} {kind} {path}: {rid}")
        for rid in sorted(want - got, key=str):
            problems.append(f"MISS {label} {kind} {path}: {rid}")

    record_walkers = {p.user_id for p in principals[:4]}
    covered = {p.org_type for p in principals[:4]}
    for org_type in OrgType:
        if org_type not in covered:
            record_walkers.add(next(p.user_id for p in principals[4:] if p.org_type is org_type))
    runner = CliRunner()
    env = {"CORDON_DATABASE_URL": settings.database_url, "CORDON_KEY_DIR": str(settings.key_dir)}
    all_entries = {eid for b in banks for eid in b.entry_ids}

    for p in principals:
        h = {"Authorization": f"Bearer {tokens[p.user_id]}"}
        label = f"{p.org_type}/{p.role}"
        walks = p.user_id in record_walkers
        exports = p.role is not Role.VIEWER
        seen_banks = [b for b in banks if sees(p, b.mark)]
        want_banks = {b.id for b in seen_banks}
        want_entries = {eid for b in seen_banks for eid in b.entry_ids}
        want_held = {min(b.entry_ids) for b in seen_banks}

        # Banks: list, count, show.
        listed = client.get("/v1/banks", params={"limit": 500}, headers=h).json()
        check(label, "bank", "list", {x["id"] for x in listed["items"]}, want_banks)
        counted = client.get("/v1/banks/count", headers=h).json()["count"]
        check(label, "bank", "count", set(range(counted)), set(range(len(want_banks))))
        got_show: set[object] = set()
        got_export: set[object] = set()
        got_bank_entries: set[object] = set()
        for b in banks if walks else []:
            for ref in (b.id, b.name):
                r = client.get(f"/v1/banks/{ref}", headers=h)
                assert r.status_code in (200, 404), r.text
                if r.status_code == 200:
                    got_show.add(b.id)
                    assert r.json()["stats"]["entries"] == len(b.entry_ids)
            r = client.get(f"/v1/banks/{b.id}/entries", headers=h)
            assert r.status_code in (200, 404), r.text
            if r.status_code == 200:
                got_bank_entries |= {x["id"] for x in r.json()["items"]}
            r = client.get(f"/v1/banks/{b.id}/entries/count", headers=h)
            assert r.status_code in (200, 404), r.text
            if r.status_code == 200:
                assert r.json()["count"] == len(b.entry_ids)
            r = client.get(f"/v1/banks/{b.id}/export", headers=h)
            if not exports:
                assert r.status_code == 403
                continue
            assert r.status_code in (200, 404), r.text
            if r.status_code == 200:
                got_export.add(b.id)
                assert {x.removeprefix("pdq ") for x in r.text.splitlines()} == b.signals
        if walks:
            check(label, "bank", "show", got_show, want_banks)
            check(label, "bank_entry", "bank-list", got_bank_entries, want_entries)
            if exports:
                check(label, "bank", "export", got_export, want_banks)

        # Entries: list, count, quarantine review, show with opinions.
        listed = client.get("/v1/banks/entries", params={"limit": 500}, headers=h).json()
        check(label, "bank_entry", "list", {x["id"] for x in listed["items"]}, want_entries)
        counted = client.get("/v1/banks/entries/count", headers=h).json()["count"]
        check(label, "bank_entry", "count", set(range(counted)), set(range(len(want_entries))))
        held = client.get("/v1/banks/quarantined", params={"limit": 500}, headers=h).json()
        check(label, "bank_entry", "quarantined", {x["id"] for x in held["items"]}, want_held)
        got_entry: set[object] = set()
        got_opinions: set[object] = set()
        want_opinions: set[object] = set()
        for b in banks if walks else []:
            for eid in b.entry_ids:
                r = client.get(f"/v1/banks/entries/{eid}", headers=h)
                assert r.status_code in (200, 404), r.text
                if r.status_code != 200:
                    continue
                got_entry.add(eid)
                body = r.json()
                votes = opinions.get(eid, {})
                assert body["opinions"] == {
                    "confirm": sum(1 for v in votes.values() if v == "confirm"),
                    "dispute": sum(1 for v in votes.values() if v == "dispute"),
                }
                got_opinions |= {(eid, o["org_id"]) for o in body["opinion_list"]}
                want_opinions |= {
                    (eid, org) for org in votes if p.org_id == b.mark.owner_org or org == p.org_id
                }
        if walks:
            check(label, "bank_entry", "show", got_entry, want_entries)
            check(label, "bank_entry_opinion", "show", got_opinions, want_opinions)
        # An opinion on an entry one may not read is answered as if it were missing.
        hidden = sorted(all_entries - want_entries)
        if hidden and p.can("bank:opinion"):
            r = client.put(
                f"/v1/banks/entries/{hidden[0]}/opinion", json={"opinion": "dispute"}, headers=h
            )
            assert r.status_code == 404, f"{label} gave an opinion on {hidden[0]}"

        # The CLI reads through the same policy.
        if walks:
            as_user = ("--as", emails[p.user_id])
            result = runner.invoke(cli_app, ["bank", "list", "--json", *as_user], env=env)
            assert result.exit_code == 0, result.output
            check(
                label, "bank", "cli-list", {b["id"] for b in json.loads(result.output)}, want_banks
            )
            result = runner.invoke(
                cli_app, ["bank", "entries", "--json", "--limit", "500", *as_user], env=env
            )
            assert result.exit_code == 0, result.output
            got = {e["id"] for e in json.loads(result.output)}
            check(label, "bank_entry", "cli-entries", got, want_entries)
            if exports:
                for b in banks:
                    out = tmp_path / f"{p.user_id}-{b.id}.txt"
                    result = runner.invoke(
                        cli_app, ["bank", "export", str(b.id), "-o", str(out), *as_user], env=env
                    )
                    exported = result.exit_code == 0 and out.exists()
                    if exported != (b.id in want_banks):
                        problems.append(
                            f"{'LEAK' if exported else 'MISS'} {label} cli-export {b.id}"
                        )
                    cells += 1
    print(
        f"entitlement matrix (banks): {len(principals)} principals, {len(banks)} banks, "
        f"{len(all_entries)} entries, {cells} cells, {len(problems)} problems"
    )
    assert not problems, "\n".join(problems)
