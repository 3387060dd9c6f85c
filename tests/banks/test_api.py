"""The /v1/banks API on both backends: CRUD with clear errors, streamed import and export in the
three formats, the 100,000-line round trip, and python-threatexchange reading the pdq export."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from cordon.clock import FrozenClock
from cordon.keys import Keys
from cordon.store.db import read, write
from cordon.store.tables import audit_event
from cordon.store.tables_banks import bank_change, bank_entry
from support import make_member, token_for


def auth(engine: Engine, clock: FrozenClock, keys: Keys, **kw: Any) -> dict[str, str]:
    with write(engine) as conn:
        p = make_member(conn, clock, **kw)
        return {"Authorization": f"Bearer {token_for(conn, clock, keys, p)}"}


@pytest.fixture
def admin(engine: Engine, clock: FrozenClock, keys: Keys) -> dict[str, str]:
    return auth(engine, clock, keys, org_type="technology", role="admin")


def count(engine: Engine, table: Any) -> int:
    with read(engine) as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def hashes(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.getrandbits(256):064x}" for _ in range(n)]


def make_bank(client: TestClient, h: dict[str, str], **kw: Any) -> dict[str, Any]:
    r = client.post("/v1/banks", json={"name": "SHARED_LIST", "tlp": "GREEN", **kw}, headers=h)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_bank_crud_and_errors(client: TestClient, engine: Engine, admin: dict[str, str]) -> None:
    made = make_bank(client, admin, signal_types=["pdq", "photo_md5"], default_classification="a1")
    assert made["default_classification"] == "A1"
    assert made["pdq_threshold"] == 31
    r = client.post("/v1/banks", json={"name": "SHARED_LIST"}, headers=admin)
    assert r.status_code == 409
    assert "exists already" in r.json()["detail"]
    r = client.post("/v1/banks", json={"name": "bad name"}, headers=admin)
    assert r.status_code == 422
    assert "upper-case letter" in r.text
    r = client.post("/v1/banks", json={"name": "T", "pdq_threshold": 300}, headers=admin)
    assert r.status_code == 422
    assert "between 0 and 64" in r.text
    r = client.patch("/v1/banks/SHARED_LIST", json={"pdq_threshold": 24}, headers=admin)
    assert r.status_code == 200
    assert r.json()["pdq_threshold"] == 24
    r = client.patch("/v1/banks/SHARED_LIST", json={}, headers=admin)
    assert r.status_code == 422
    assert "nothing to change" in r.text
    r = client.patch("/v1/banks/NO_SUCH", json={"negative": True}, headers=admin)
    assert r.status_code == 404
    r = client.get(f"/v1/banks/{made['id']}", headers=admin)
    assert r.json()["name"] == "SHARED_LIST"
    assert r.json()["stats"]["entries"] == 0
    # Entries: add, with an invalid one refusing the whole request.
    before = count(engine, bank_entry)
    r = client.post(
        "/v1/banks/SHARED_LIST/entries",
        json={
            "entries": [
                {"signal_type": "pdq", "signal": "f" * 64},
                {"signal_type": "pdq", "signal": "xyz"},
            ]
        },
        headers=admin,
    )
    assert r.status_code == 422
    assert "64 hexadecimal digits" in r.text
    assert count(engine, bank_entry) == before
    r = client.post(
        "/v1/banks/SHARED_LIST/entries",
        json={
            "entries": [
                {"signal_type": "pdq", "signal": "F" * 64, "tags": ["a"], "classification": "B2"},
                {"signal_type": "photo_md5", "signal": "d41d8cd98f00b204e9800998ecf8427e"},
                {"signal_type": "pdq", "signal": "f" * 64},
            ]
        },
        headers=admin,
    )
    assert r.status_code == 200
    assert (r.json()["added"], r.json()["duplicates"]) == (2, 1)
    listed = client.get("/v1/banks/SHARED_LIST/entries", headers=admin).json()["items"]
    ids = {e["signal_type"]: e["id"] for e in listed}
    assert {e["effective_classification"] for e in listed} == {"A1", "B2"}
    r = client.post(
        "/v1/banks/SHARED_LIST/entries/disable", json={"entry_ids": [ids["pdq"]]}, headers=admin
    )
    assert r.json() == {"changed": [ids["pdq"]], "unchanged": 0}
    counted = client.get("/v1/banks/SHARED_LIST/entries/count?enabled=true", headers=admin)
    assert counted.json() == {"count": 1}
    r = client.post(
        "/v1/banks/SHARED_LIST/entries/enable", json={"entry_ids": [ids["pdq"]]}, headers=admin
    )
    assert r.json()["changed"] == [ids["pdq"]]
    r = client.get(
        "/v1/banks/entries", params={"signal_type": "pdq", "signal": "F" * 64}, headers=admin
    )
    assert [e["id"] for e in r.json()["items"]] == [ids["pdq"]]
    r = client.get("/v1/banks/entries", params={"category": "maybe"}, headers=admin)
    assert r.status_code == 422
    assert "unknown category" in r.text
    # Dropping a signal type the bank holds is refused.
    r = client.patch("/v1/banks/SHARED_LIST", json={"signal_types": ["pdq"]}, headers=admin)
    assert r.status_code == 422
    assert "holds photo_md5 entries" in r.text
    r = client.delete("/v1/banks/SHARED_LIST", headers=admin)
    assert r.status_code == 200
    assert client.get("/v1/banks/SHARED_LIST", headers=admin).status_code == 404
    assert client.get("/v1/banks/count", headers=admin).json() == {"count": 0}


def test_roles_and_owners(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys, admin: dict[str, str]
) -> None:
    make_bank(client, admin)
    viewer = auth(engine, clock, keys, org_type="technology", role="viewer")
    analyst = auth(engine, clock, keys, org_type="hotline", role="analyst")
    assert client.get("/v1/banks/SHARED_LIST", headers=viewer).status_code == 200
    r = client.post("/v1/banks", json={"name": "MINE"}, headers=analyst)
    assert r.status_code == 403
    # Another organisation's analyst may read a GREEN bank but not change it.
    r = client.post(
        "/v1/banks/SHARED_LIST/entries",
        json={"entries": [{"signal_type": "pdq", "signal": "a" * 64}]},
        headers=analyst,
    )
    assert r.status_code == 403
    assert "only members of the organisation" in r.text
    r = client.post(
        "/v1/banks/SHARED_LIST/import", content=b"pdq " + b"a" * 64 + b"\n", headers=analyst
    )
    assert r.status_code == 403
    assert client.get("/v1/banks/SHARED_LIST/export", headers=viewer).status_code == 403


def test_pytx_round_trip_of_100000_lines(
    client: TestClient, engine: Engine, admin: dict[str, str]
) -> None:
    make_bank(client, admin)
    signals = hashes(100_000)
    # Upper case, a comment, blank lines and a repeated line: all read as python-threatexchange
    # reads them, the repeat counted as a duplicate.
    body = "# a list\n\n" + "".join(f"pdq {s.upper()}\n" for s in signals) + f"pdq {signals[0]}\n"
    audits = count(engine, audit_event)
    r = client.post(
        "/v1/banks/SHARED_LIST/import",
        content=body.encode(),
        headers={**admin, "Content-Type": "text/plain"},
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["added"], got["duplicates"], got["invalid"]) == (100_000, 1, 0)
    # One change row per contiguous id range: the whole import is one or a few.
    assert 1 <= len(got["changes"]) <= 3
    assert count(engine, bank_change) == len(got["changes"])
    r = client.get("/v1/banks/SHARED_LIST/export", headers=admin)
    assert r.status_code == 200
    lines = r.text.splitlines()
    assert len(lines) == 100_000
    assert {line.removeprefix("pdq ") for line in lines} == set(signals)
    assert all(line.startswith("pdq ") for line in lines)
    # The import and the export are both audited.
    assert count(engine, audit_event) >= audits + 2


def test_invalid_lines_are_reported_and_nothing_is_imported_unless_skipped(
    client: TestClient, engine: Engine, admin: dict[str, str]
) -> None:
    make_bank(client, admin)
    good = hashes(20)
    lines = [f"pdq {s}" for s in good]
    lines[4] = "pdq 1234"
    lines[9] = "tmk " + good[9]
    lines[14] = "pdq " + good[14] + " extra"
    body = ("\n".join(lines) + "\n").encode()
    entries = count(engine, bank_entry)
    r = client.post("/v1/banks/SHARED_LIST/import", content=body, headers=admin)
    assert r.status_code == 422
    problem = r.json()
    assert problem["invalid"] == 3
    assert [e["line"] for e in problem["errors"]] == [5, 10, 15]
    assert "unknown signal type 'tmk'" in problem["errors"][1]["message"]
    assert count(engine, bank_entry) == entries
    r = client.post(
        "/v1/banks/SHARED_LIST/import", params={"skip_invalid": "true"}, content=body, headers=admin
    )
    assert r.status_code == 200
    assert (r.json()["added"], r.json()["invalid"]) == (17, 3)
    assert [e["line"] for e in r.json()["errors"]] == [5, 10, 15]
    r = client.post(
        "/v1/banks/SHARED_LIST/import", params={"format": "xml"}, content=body, headers=admin
    )
    assert r.status_code == 422
    assert "unknown format 'xml'" in r.text


def test_bare_signals_dataset_and_plain_csv(
    client: TestClient, engine: Engine, admin: dict[str, str]
) -> None:
    make_bank(
        client, admin, signal_types=["pdq", "photo_md5", "video_md5"], default_classification="B1"
    )
    pdqs, md5s = hashes(5), [f"{n:032x}" for n in range(1, 4)]
    r = client.post(
        "/v1/banks/SHARED_LIST/import",
        params={"signal_type": "photo_md5", "source": "partner list 7", "tags": "t1 t2"},
        content="".join(f"{m}\n" for m in md5s).encode(),
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 3
    dataset = "signal_type,signal_str,collab,category,tags\n" + "".join(
        f"pdq,{s},OTHER,{'INVESTIGATION_SEED' if n == 0 else 'POSITIVE_CLASS'},x y\n"
        for n, s in enumerate(pdqs[:3])
    )
    r = client.post(
        "/v1/banks/SHARED_LIST/import",
        params={"format": "dataset"},
        content=dataset.encode(),
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 3
    plain = (
        "signal_type,signal,category,classification,source,tags\n"
        + "".join(f"pdq,{s},negative,A2,hand,z\n" for s in pdqs[3:])
        + "video_md5,"
        + "e" * 32
        + ",,,,\n"
    )
    r = client.post(
        "/v1/banks/SHARED_LIST/import",
        params={"format": "csv"},
        content=plain.encode(),
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 3
    r = client.post(
        "/v1/banks/SHARED_LIST/import",
        params={"format": "csv"},
        content=b"signal_type,hash\npdq,abc\n",
        headers=admin,
    )
    assert r.status_code == 422
    assert "header lacks signal" in r.text
    bad = "signal_type,signal,classification\npdq," + pdqs[0] + ",C9\n"
    r = client.post(
        "/v1/banks/SHARED_LIST/import",
        params={"format": "csv"},
        content=bad.encode(),
        headers=admin,
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["line"] == 2
    # Exports: pytx formats hold pdq and video_md5 only; photo digests come in a file of their own.
    pytx = client.get("/v1/banks/SHARED_LIST/export", headers=admin).text.splitlines()
    assert sorted(pytx) == sorted([f"pdq {s}" for s in pdqs] + ["video_md5 " + "e" * 32])
    md5_file = client.get(
        "/v1/banks/SHARED_LIST/export",
        params={"signal_type": "photo_md5", "bare": "true"},
        headers=admin,
    )
    assert md5_file.text.splitlines() == md5s
    assert 'filename="SHARED_LIST.photo_md5.pytx.txt"' in md5_file.headers["content-disposition"]
    ds = client.get("/v1/banks/SHARED_LIST/export", params={"format": "dataset"}, headers=admin)
    rows = ds.text.splitlines()
    assert rows[0] == "signal_type,signal_str,collab,category,tags"
    assert f"pdq,{pdqs[0]},SHARED_LIST,INVESTIGATION_SEED,x y" in rows
    assert f"pdq,{pdqs[3]},SHARED_LIST,NEGATIVE_CLASS,z" in rows
    csv_rows = client.get(
        "/v1/banks/SHARED_LIST/export", params={"format": "csv"}, headers=admin
    ).text.splitlines()
    assert csv_rows[0] == "signal_type,signal,category,classification,source,tags,added_at"
    assert len(csv_rows) == 1 + 9
    assert any(
        r.startswith(f"photo_md5,{md5s[0]},positive,B1,partner list 7,t1 t2,") for r in csv_rows
    )
    assert any(r.startswith(f"pdq,{pdqs[4]},negative,A2,hand,z,") for r in csv_rows)
    # A plain-CSV export imports back into another bank unchanged.
    make_bank(client, admin, name="COPY", signal_types=["pdq", "photo_md5", "video_md5"])
    r = client.post(
        "/v1/banks/COPY/import",
        params={"format": "csv"},
        content=("\n".join(csv_rows) + "\n").encode(),
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 9


def test_threatexchange_reads_the_pdq_export(
    client: TestClient, admin: dict[str, str], tmp_path: Path
) -> None:
    from threatexchange.exchanges.impl.file_api import (
        FileCollaborationConfig,
        LocalFileSignalExchangeAPI,
    )
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal

    make_bank(client, admin, signal_types=["pdq", "video_md5"])
    pdqs = hashes(200, seed=3)
    videos = [f"{n:032x}" for n in range(1, 6)]
    body = "".join(f"pdq {s}\n" for s in pdqs) + "".join(f"video_md5 {v}\n" for v in videos)
    assert (
        client.post(
            "/v1/banks/SHARED_LIST/import", content=body.encode(), headers=admin
        ).status_code
        == 200
    )
    exported = tmp_path / "shared.txt"
    exported.write_text(client.get("/v1/banks/SHARED_LIST/export", headers=admin).text)
    bare = tmp_path / "shared.pdq.txt"
    bare.write_text(
        client.get(
            "/v1/banks/SHARED_LIST/export",
            params={"signal_type": "pdq", "bare": "true"},
            headers=admin,
        ).text
    )
    for path, st in ((exported, None), (bare, "pdq")):
        api = LocalFileSignalExchangeAPI(
            FileCollaborationConfig(name="cordon", filename=str(path), signal_type=st)
        )
        seen: dict[tuple[str, str], object] = {}
        for delta in api.fetch_iter([PdqSignal, VideoMD5Signal], None):
            seen.update(delta.updates)
        want = {("pdq", s) for s in pdqs} | (
            {("video_md5", v) for v in videos} if st is None else set()
        )
        assert set(seen) == want
        for kind, signal in seen:
            cls = PdqSignal if kind == "pdq" else VideoMD5Signal
            assert cls.get_name() == kind
            assert cls.validate_signal_str(signal) == signal
    # And its PDQ comparison agrees that an exported hash matches itself.
    assert PdqSignal.compare_hash(pdqs[0], pdqs[0]).match
