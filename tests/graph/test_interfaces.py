"""The networks API and ``cordon network list|show|explain|export|recompute``: ranked lists with
their reasons, one network, its Cytoscape picture, explanations, exports, neighbourhoods, and
bad input refused with a clear error."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from cordon.cli.main import app
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.keys import Keys
from cordon.store.db import write
from cordon.store.tables import app_user
from cordon.store.tables_graph import graph_node
from graph.helpers import site_page
from support import make_member, token_for

runner = CliRunner()


def _brand(engine: Engine, clock: FrozenClock, settings: Settings) -> tuple[str, object]:
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        site_page(
            conn,
            clock,
            settings,
            hotline,
            "alpha-shop.test",
            [
                ("email", "buy@brand.test"),
                ("crypto_address", "btc:1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
            ],
        )
        site_page(
            conn,
            clock,
            settings,
            hotline,
            "beta-shop.test",
            [("email", "buy@brand.test"), ("messenger", "telegram:brandsupport")],
        )
        site_page(
            conn,
            clock,
            settings,
            hotline,
            "gamma-shop.test",
            [("messenger", "telegram:brandsupport")],
        )
        site_page(conn, clock, settings, hotline, "solo-shop.test", [("email", "solo@else.test")])
        email = conn.execute(
            select(app_user.c.email).where(app_user.c.id == hotline.user_id)
        ).scalar_one()
    return str(email), hotline


def _run(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env=env)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == code, output
    return output


def test_the_cli_recomputes_lists_shows_explains_and_exports(
    engine: Engine, fresh_db: str, clock: FrozenClock, settings: Settings, tmp_path: Path
) -> None:
    email, _ = _brand(engine, clock, settings)
    env = {"CORDON_DATABASE_URL": fresh_db}
    done = json.loads(_run(env, "network", "recompute", "--json"))
    assert done["recompute"]["created"] == 1
    assert done["ingest"]["records"]["capture"] == 4
    listed = json.loads(_run(env, "network", "list", "--as", email, "--json"))
    assert len(listed) == 1
    nid = listed[0]["id"]
    assert listed[0]["visible_sites"] == 3
    assert {r["factor"] for r in listed[0]["score_reasons"]} >= {
        "payment_identifiers",
        "live_sites",
    }
    assert "alpha-shop.test" in _run(env, "network", "list", "--as", email)
    shown = json.loads(_run(env, "network", "show", str(nid), "--as", email, "--json"))
    assert {m["site"] for m in shown["members"]} == {
        "alpha-shop.test",
        "beta-shop.test",
        "gamma-shop.test",
    }
    assert "shared identifiers" in _run(env, "network", "show", str(nid), "--as", email)
    chain = json.loads(
        _run(
            env, "network", "explain", "alpha-shop.test", "gamma-shop.test", "--as", email, "--json"
        )
    )
    assert [s["edge"]["kind"] for s in chain["chain"]] == [
        "contact_email",
        "contact_email",
        "contact_messenger",
        "contact_messenger",
    ]
    assert "capture" in _run(
        env, "network", "explain", "alpha-shop.test", "gamma-shop.test", "--as", email
    )
    _run(env, "network", "explain", "alpha-shop.test", "solo-shop.test", "--as", email, code=1)
    out = tmp_path / "network.json"
    _run(env, "network", "export", str(nid), "--as", email, "--out", str(out))
    exported = json.loads(out.read_text())
    assert exported["format"] == "cordon-network/1"
    assert exported["tlp"] == "GREEN"
    assert all(e["proof_kind"] == "capture" for e in exported["edges"])
    # Bad input: a clear error, nothing changed.
    assert "no network with id 999" in _run(env, "network", "show", "999", "--as", email, code=1)
    assert "--status" in _run(env, "network", "list", "--as", email, "--status", "open", code=1)


def test_the_api_serves_networks_pictures_explanations_and_neighbourhoods(
    client: TestClient, engine: Engine, clock: FrozenClock, settings: Settings, keys: Keys
) -> None:
    _, hotline = _brand(engine, clock, settings)
    with write(engine) as conn:
        token = token_for(conn, clock, keys, hotline)  # type: ignore[arg-type]
    h = {"Authorization": f"Bearer {token}"}
    from cordon.audit.log import Actor
    from cordon.graph import service

    service.run_all(engine, clock, Actor(source="cli"), settings.graph)
    listed = client.get("/v1/networks", headers=h).json()
    assert client.get("/v1/networks/count", headers=h).json() == {"count": 1}
    network = listed["items"][0]
    assert network["score"] == sum(r["points"] for r in network["score_reasons"])
    one = client.get(f"/v1/networks/{network['id']}", headers=h).json()
    assert [t["what"] for t in one["timeline"]].count("site_joined") == 3
    assert {i["kind"] for i in one["identifiers"]} >= {"email", "messenger", "payment"}
    picture = client.get(f"/v1/networks/{network['id']}/graph", headers=h).json()["elements"]
    ids = {n["data"]["id"] for n in picture["nodes"]}
    assert all(e["data"]["source"] in ids and e["data"]["target"] in ids for e in picture["edges"])
    assert sum(n["data"]["member"] for n in picture["nodes"]) == 3
    why = client.get(
        "/v1/networks/explain", params={"a": "beta-shop.test", "b": "gamma-shop.test"}, headers=h
    ).json()
    assert why["linked"]
    assert why["chain"][0]["edge"]["capture_id"] is not None
    with write(engine) as conn:
        node_id = conn.execute(
            select(graph_node.c.id).where(graph_node.c.key == "alpha-shop.test")
        ).scalar_one()
    found = client.get(
        "/v1/graph/nodes", params={"kind": "site", "key": "alpha-shop.test"}, headers=h
    )
    assert found.json()["id"] == node_id
    hood = client.get(f"/v1/graph/nodes/{node_id}/neighbours", params={"hops": 2}, headers=h).json()
    assert "beta-shop.test" in {n["key"] for n in hood["nodes"]}
    exported = client.get(f"/v1/networks/{network['id']}/export", headers=h).json()
    assert len(exported["members"]) == 3
    # Bad input and missing records.
    assert (
        client.get(
            f"/v1/graph/nodes/{node_id}/neighbours", params={"hops": 4}, headers=h
        ).status_code
        == 422
    )
    assert client.get("/v1/networks", params={"status": "open"}, headers=h).status_code == 422
    assert client.get("/v1/networks/9999", headers=h).status_code == 404
    missing = client.get(
        "/v1/networks/explain", params={"a": "nowhere.test", "b": "beta-shop.test"}, headers=h
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
