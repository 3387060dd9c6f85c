"""Banks and entries on both backends: creation, settings, entries, opinions, quarantine, the
change log, and clear errors that change nothing."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Connection, Engine, func, select

from cordon.audit.log import Actor
from cordon.banks import model, repo
from cordon.banks.files import EntryRecord
from cordon.clock import FrozenClock
from cordon.domain.partners import Principal
from cordon.domain.tlp import Tlp
from cordon.signals.formats import LineError
from cordon.store.db import read, write
from cordon.store.tables import audit_event, work_item
from cordon.store.tables_banks import bank, bank_change, bank_entry, bank_entry_opinion
from support import make_member

PDQ_A = "f" * 64
PDQ_B = "0" * 63 + "1"
MD5_A = "d41d8cd98f00b204e9800998ecf8427e"


def pdq(n: int) -> str:
    return f"{n:064x}"


def actor(p: Principal) -> Actor:
    return Actor.of(p, source="cli")


def rows(conn: Connection, table: object) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def new_bank(conn: Connection, clock: FrozenClock, p: Principal, **kw: object) -> repo.Bank:
    spec = model.BankIn.model_validate({"name": "KNOWN_SITES", **kw})
    return repo.create_bank(conn, clock, p, actor(p), spec)


@pytest.fixture
def owner(conn: Connection, clock: FrozenClock) -> Principal:
    return make_member(conn, clock, org_type="hotline", role="admin")


def test_create_show_update_delete(conn: Connection, clock: FrozenClock, owner: Principal) -> None:
    b = new_bank(conn, clock, owner, tlp="GREEN", signal_types=["pdq", "photo_md5"])
    assert (b.name, b.tlp, b.pdq_threshold, b.signal_types) == (
        "KNOWN_SITES",
        Tlp.GREEN,
        31,
        ["pdq", "photo_md5"],
    )
    assert repo.get_bank(conn, clock, owner, actor(owner), "KNOWN_SITES") == b
    assert repo.get_bank(conn, clock, owner, actor(owner), b.id) == b
    seq = repo.head_seq(conn)
    up = repo.update_bank(
        conn,
        clock,
        owner,
        actor(owner),
        b.id,
        model.BankUpdate(pdq_threshold=20, default_classification="a1"),
    )
    assert (up.pdq_threshold, up.default_classification) == (20, "A1")
    changes = repo.changes_since(conn, seq)
    assert [(c.op, c.bank_id, c.entry_id_from) for c in changes] == [("update_bank", b.id, None)]
    # A description is not a matching setting: no change row.
    repo.update_bank(conn, clock, owner, actor(owner), b.id, model.BankUpdate(description="x"))
    assert repo.head_seq(conn) == seq + 1
    repo.delete_bank(conn, clock, owner, actor(owner), b.id)
    assert repo.get_bank(conn, clock, owner, actor(owner), b.id) is None
    assert repo.changes_since(conn, seq + 1)[0].op == "delete_bank"
    with pytest.raises(repo.NameTaken, match="exists already"):
        new_bank(conn, clock, owner)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "lower"}, "upper-case letter"),
        ({"name": "A" * 65}, "at most 64"),
        ({"name": "OK", "signal_types": ["tmk"]}, "unknown signal type 'tmk'"),
        ({"name": "OK", "signal_types": []}, "at least one signal type"),
        ({"name": "OK", "pdq_threshold": 65}, "between 0 and 64"),
        ({"name": "OK", "pdq_threshold": -1}, "between 0 and 64"),
        ({"name": "OK", "default_classification": "C3"}, "unknown classification 'C3'"),
        ({"name": "OK", "tlp": "PURPLE"}, "tlp"),
        ({"name": "OK", "surprise": 1}, "surprise"),
    ],
)
def test_bad_bank_specs_are_refused_by_name(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        model.BankIn.model_validate(spec)


def test_bad_requests_change_nothing(
    conn: Connection, clock: FrozenClock, owner: Principal
) -> None:
    b = new_bank(conn, clock, owner, tlp="AMBER")
    other = make_member(conn, clock, org_type="hotline", role="admin")
    before = (rows(conn, bank), rows(conn, bank_entry), rows(conn, bank_change))
    audit_before = rows(conn, audit_event)
    with pytest.raises(repo.BankError, match="applies to AMBER banks only"):
        new_bank(conn, clock, owner, name="OTHER", tlp="GREEN", share_with=[other.org_id])
    with pytest.raises(repo.BankError, match="no user with id 999999"):
        new_bank(conn, clock, owner, name="SECRET", tlp="RED", red_users=[999999])
    with pytest.raises(repo.BankError, match="no organisation with id 999999"):
        repo.update_bank(
            conn, clock, owner, actor(owner), b.id, model.BankUpdate(share_with=[999999])
        )
    with pytest.raises(repo.BankError, match="not one bank KNOWN_SITES holds"):
        repo.add_entries(
            conn,
            clock,
            owner,
            actor(owner),
            b.id,
            [
                model.EntryIn(signal_type="pdq", signal=PDQ_A),
                model.EntryIn(signal_type="photo_md5", signal=MD5_A),
            ],
        )
    # Someone else's bank: readable (AMBER shared? no) is answered as missing.
    with pytest.raises(repo.NotFound, match="no bank"):
        repo.add_entries(
            conn, clock, other, actor(other), b.id, [model.EntryIn(signal_type="pdq", signal=PDQ_A)]
        )
    green = new_bank(conn, clock, owner, name="GREEN_LIST", tlp="GREEN")
    with pytest.raises(repo.NotOwner, match="only members of the organisation"):
        repo.add_entries(
            conn,
            clock,
            other,
            actor(other),
            green.id,
            [model.EntryIn(signal_type="pdq", signal=PDQ_A)],
        )
    with pytest.raises(ValueError, match="64 hexadecimal digits"):
        model.EntryIn(signal_type="pdq", signal="abc")
    assert (rows(conn, bank), rows(conn, bank_entry), rows(conn, bank_change)) == (
        before[0] + 1,
        before[1],
        before[2],
    )
    assert rows(conn, audit_event) == audit_before + 1  # the GREEN bank's creation only


def test_entries_add_disable_enable_and_inherit_classification(
    conn: Connection, clock: FrozenClock, owner: Principal
) -> None:
    b = new_bank(conn, clock, owner, default_classification="B1")
    seq = repo.head_seq(conn)
    done = repo.add_entries(
        conn,
        clock,
        owner,
        actor(owner),
        b.id,
        [
            model.EntryIn(signal_type="pdq", signal=PDQ_A.upper(), tags=["seed", "seed"]),
            model.EntryIn(signal_type="pdq", signal=PDQ_B, classification="A2"),
            model.EntryIn(signal_type="pdq", signal=PDQ_A),
        ],
    )
    assert (done.added, done.duplicates) == (2, 1)
    listed = repo.list_entries(conn, clock, owner, actor(owner), repo.EntryFilter(bank=b.id))
    by_signal = {e.signal: e for e in listed}
    assert by_signal[PDQ_A].tags == ["seed"]
    assert by_signal[PDQ_A].effective_classification == "B1"
    assert by_signal[PDQ_B].effective_classification == "A2"
    assert by_signal[PDQ_A].category == "positive"
    ids = sorted(e.id for e in listed)
    changes = repo.changes_since(conn, seq)
    assert [(c.op, c.entry_id_from, c.entry_id_to) for c in changes] == [("add", ids[0], ids[1])]
    # retro_match is asked for the change.
    queued = conn.execute(
        select(work_item.c.subject_id).where(
            work_item.c.stage == "retro_match", work_item.c.subject_kind == "bank_change"
        )
    ).scalars()
    assert changes[0].seq in set(queued)

    changed = repo.set_entries_enabled(conn, clock, owner, actor(owner), b.id, [ids[0]], False)
    assert changed == [ids[0]]
    # Disabling again changes nothing.
    assert repo.set_entries_enabled(conn, clock, owner, actor(owner), b.id, [ids[0]], False) == []
    e = repo.get_entry(conn, clock, owner, actor(owner), ids[0])
    assert e is not None
    assert not e.enabled
    assert e.disabled_at is not None
    assert repo.count_entries(conn, owner, repo.EntryFilter(bank=b.id, enabled=True)) == 1
    repo.set_entries_enabled(conn, clock, owner, actor(owner), b.id, [ids[0]], True)
    ops = [c.op for c in repo.changes_since(conn, seq)]
    assert ops == ["add", "disable", "enable"]
    with pytest.raises(repo.NotFound, match="no entry with id 424242"):
        repo.set_entries_enabled(conn, clock, owner, actor(owner), b.id, [ids[0], 424242], False)
    assert repo.get_entry(conn, clock, owner, actor(owner), ids[0]).enabled  # type: ignore[union-attr]
    # A negative bank's entries are negative unless said otherwise.
    neg = new_bank(conn, clock, owner, name="FALSE_POSITIVES", negative=True)
    repo.add_entries(
        conn, clock, owner, actor(owner), neg.id, [model.EntryIn(signal_type="pdq", signal=PDQ_A)]
    )
    (n,) = repo.list_entries(conn, clock, owner, actor(owner), repo.EntryFilter(bank=neg.id))
    assert n.category == "negative"
    # Entries filtered by signal.
    found = repo.list_entries(
        conn,
        clock,
        owner,
        actor(owner),
        repo.EntryFilter(signal_type="pdq", signal=PDQ_A.upper()),
    )
    assert {x.bank_name for x in found} == {"KNOWN_SITES", "FALSE_POSITIVES"}


def test_opinions_are_kept_per_organisation_and_counted(
    conn: Connection, clock: FrozenClock, owner: Principal
) -> None:
    b = new_bank(conn, clock, owner, tlp="GREEN")
    repo.add_entries(
        conn, clock, owner, actor(owner), b.id, [model.EntryIn(signal_type="pdq", signal=PDQ_A)]
    )
    (entry,) = repo.list_entries(conn, clock, owner, actor(owner), repo.EntryFilter(bank=b.id))
    tech = make_member(conn, clock, org_type="technology")
    police = make_member(conn, clock, org_type="law_enforcement")
    police2 = make_member(conn, clock, org_type="law_enforcement")
    repo.set_opinion(conn, clock, tech, actor(tech), entry.id, "confirm")
    repo.set_opinion(conn, clock, police, actor(police), entry.id, "dispute", "looks generic")
    got = repo.set_opinion(conn, clock, police2, actor(police2), entry.id, "confirm")
    assert (got.confirms, got.disputes) == (2, 1)
    # An organisation changes its opinion by replacing it.
    got = repo.set_opinion(conn, clock, police, actor(police), entry.id, "confirm")
    assert (got.confirms, got.disputes) == (3, 0)
    assert rows(conn, bank_entry_opinion) == 3
    assert repo.withdraw_opinion(conn, clock, tech, actor(tech), entry.id)
    shown = repo.get_entry(conn, clock, owner, actor(owner), entry.id)
    assert shown is not None
    assert (shown.confirms, shown.disputes) == (2, 0)
    # The owner sees every organisation's opinion; others their own.
    assert {o.org_id for o in repo.opinions_of(conn, owner, entry.id)} == {
        police.org_id,
        police2.org_id,
    }
    assert [o.org_id for o in repo.opinions_of(conn, police, entry.id)] == [police.org_id]
    # A payment provider cannot read the bank: opinion refused as missing.
    payer = make_member(conn, clock, org_type="payment_provider")
    with pytest.raises(repo.NotFound):
        repo.set_opinion(conn, clock, payer, actor(payer), entry.id, "confirm")
    with pytest.raises(repo.BankError, match="unknown opinion"):
        repo.set_opinion(conn, clock, tech, actor(tech), entry.id, "like")


def test_quarantine_and_release(conn: Connection, clock: FrozenClock, owner: Principal) -> None:
    b = new_bank(conn, clock, owner, tlp="GREEN")
    repo.add_entries(
        conn, clock, owner, actor(owner), b.id, [model.EntryIn(signal_type="pdq", signal=PDQ_A)]
    )
    (entry,) = repo.list_entries(conn, clock, owner, actor(owner), repo.EntryFilter(bank=b.id))
    seq = repo.head_seq(conn)
    stage = Actor(source="stage")
    assert repo.quarantine_entry(conn, clock, stage, entry.id, "matched 500 captures in 1 h")
    assert not repo.quarantine_entry(conn, clock, stage, entry.id, "again")
    held = repo.list_entries(conn, clock, owner, actor(owner), repo.EntryFilter(quarantined=True))
    assert [h.quarantine_reason for h in held] == ["matched 500 captures in 1 h"]
    (r,) = repo.entries_in_range(conn, entry.id, entry.id)
    assert r.quarantined
    assert r.enabled
    other = make_member(conn, clock, org_type="hotline", role="admin")
    with pytest.raises(repo.NotOwner):
        repo.review_release(conn, clock, other, actor(other), entry.id)
    assert repo.review_release(conn, clock, owner, actor(owner), entry.id, "reviewed")
    with pytest.raises(repo.BankError, match="not quarantined"):
        repo.review_release(conn, clock, owner, actor(owner), entry.id)
    assert [c.op for c in repo.changes_since(conn, seq)] == ["quarantine", "release"]
    with pytest.raises(repo.BankError, match="needs a reason"):
        repo.quarantine_entry(conn, clock, stage, entry.id, " ")


def test_change_log_is_gap_free_and_ranges_cover_imports(
    conn: Connection, clock: FrozenClock, owner: Principal
) -> None:
    b = new_bank(conn, clock, owner)
    seq = repo.head_seq(conn)
    records = [EntryRecord(n + 1, "pdq", pdq(n)) for n in range(12_000)]
    done = repo.import_entries(
        conn, clock, owner, actor(owner), b.id, iter(records), fmt="pytx", chunk=5000
    )
    assert (done.added, done.duplicates, done.invalid) == (12_000, 0, 0)
    # An import of 12,000 entries in three chunks is one change row.
    changes = repo.changes_since(conn, seq)
    assert len(changes) == 1
    got = list(
        repo.entries_in_range(
            conn, changes[0].entry_id_from or 0, changes[0].entry_id_to or 0, chunk=5000
        )
    )
    assert len(got) == 12_000
    assert {g.bank_id for g in got} == {b.id}
    for n in range(3):
        repo.add_entries(
            conn,
            clock,
            owner,
            actor(owner),
            b.id,
            [model.EntryIn(signal_type="pdq", signal=pdq(100_000 + n))],
        )
    all_changes = repo.changes_since(conn, 0, limit=10_000)
    seqs = [c.seq for c in all_changes]
    assert seqs == list(range(1, repo.head_seq(conn) + 1))
    ranges = [(c.entry_id_from, c.entry_id_to) for c in all_changes if c.op == "add"]
    flat = [i for lo, hi in ranges for i in range(lo or 0, (hi or 0) + 1)]
    assert len(flat) == len(set(flat)) == rows(conn, bank_entry)


def test_import_reports_every_invalid_line_and_imports_nothing_unless_skipping(
    conn: Connection, clock: FrozenClock, owner: Principal
) -> None:
    b = new_bank(conn, clock, owner)
    records: list[EntryRecord | LineError] = [
        EntryRecord(1, "pdq", pdq(1)),
        LineError(2, "a PDQ hash has 64 hexadecimal digits, not 3"),
        EntryRecord(3, "photo_md5", MD5_A),  # not a type this bank holds
        EntryRecord(4, "pdq", pdq(1)),
    ]
    seq = repo.head_seq(conn)
    with pytest.raises(repo.ImportRejected) as caught:
        repo.import_entries(conn, clock, owner, actor(owner), b.id, iter(records), fmt="pytx")
    result = caught.value.result
    assert result.invalid == 2
    assert [(e.line, e.message[:20]) for e in result.errors] == [
        (2, "a PDQ hash has 64 he"),
        (3, "signal type photo_md"),
    ]
    done = repo.import_entries(
        conn, clock, owner, actor(owner), b.id, iter(records), fmt="pytx", skip_invalid=True
    )
    assert (done.added, done.duplicates, done.invalid) == (1, 1, 2)
    assert repo.head_seq(conn) > seq


def test_concurrent_writers_get_gap_free_sequence_numbers_and_disjoint_ranges(
    engine: Engine, clock: FrozenClock
) -> None:
    with write(engine) as conn:
        owner = make_member(conn, clock, org_type="hotline", role="admin")
        banks = [new_bank(conn, clock, owner, name=f"LIST_{n}").id for n in range(4)]
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for k in range(5):
                with write(engine) as conn:
                    repo.import_entries(
                        conn,
                        clock,
                        owner,
                        actor(owner),
                        banks[n],
                        iter(
                            [
                                EntryRecord(i, "pdq", pdq(n * 10**6 + k * 1000 + i))
                                for i in range(300)
                            ]
                        ),
                        fmt="pytx",
                    )
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with read(engine) as conn:
        changes = repo.changes_since(conn, 0, limit=10_000)
        assert [c.seq for c in changes] == list(range(1, repo.head_seq(conn) + 1))
        covered: dict[int, int] = {}
        for c in changes:
            assert c.op == "add"
            for r in repo.entries_in_range(conn, c.entry_id_from or 0, c.entry_id_to or 0):
                # A range holds only its own bank's entries, and no entry is in two ranges.
                assert r.bank_id == c.bank_id
                assert r.entry_id not in covered
                covered[r.entry_id] = c.seq
        assert len(covered) == rows(conn, bank_entry) == 4 * 5 * 300
