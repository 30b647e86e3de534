"""Persisted documents: Apollo's automatic persisted queries (through Apollo Client itself) and the
trusted-documents mode with `crm register-documents`."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys

import httpx
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from app.models import TrustedDocument
from tests import factories
from tests.servers import ApiProcess
from tests.test_http_conformance import GRAPHQL_RESPONSE, node_script

DEALS = "query Deals { opportunities(first: 5) { totalCount edges { node { name } } } }"
ME = "query Me { me { email role } }"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _body(body: dict) -> dict:
    """The response without `extensions` (its cost block changes with every request)."""
    return {k: v for k, v in body.items() if k != "extensions"}


def persisted(text: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(text)}}


async def test_apq_unknown_hash_asks_for_the_text_then_remembers_it_on_post_and_get(gql, team):
    await factories.opportunity(team.rep.user, (await factories.account(team.rep.user, "Harbor Grill")).id, "Brisket")
    auth = {"Authorization": f"Bearer {team.rep.token}"}
    for accept, status in [(GRAPHQL_RESPONSE, 400), ("application/json", 200)]:
        unknown = await gql.http.post("/graphql", json={"extensions": persisted(DEALS + f"# {accept}")},
                                      headers={"Accept": accept, **auth})
        assert unknown.status_code == status
        assert unknown.json() == {"errors": [{"message": "PersistedQueryNotFound",
                                              "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]}

    first = await gql.http.post("/graphql", json={"extensions": persisted(DEALS)}, headers=auth)
    assert first.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    with_text = await gql.http.post("/graphql", json={"query": DEALS, "extensions": persisted(DEALS)}, headers=auth)
    expected = {"data": {"opportunities": {"totalCount": 1, "edges": [{"node": {"name": "Brisket"}}]}}}
    assert _body(with_text.json()) == expected
    by_hash = await gql.http.post("/graphql", json={"extensions": persisted(DEALS)}, headers=auth)
    assert _body(by_hash.json()) == expected
    by_get = await gql.http.get("/graphql", params={"extensions": json.dumps(persisted(DEALS))}, headers=auth)
    assert by_get.status_code == 200 and _body(by_get.json()) == expected

    # GET registers too (Apollo's useGETForHashedQueries sends the text by GET after a miss).
    get_miss = await gql.http.get("/graphql", params={"extensions": json.dumps(persisted(ME))}, headers=auth)
    assert get_miss.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    await gql.http.get("/graphql", params={"query": ME, "extensions": json.dumps(persisted(ME))}, headers=auth)
    get_hit = await gql.http.get("/graphql", params={"extensions": json.dumps(persisted(ME))}, headers=auth)
    assert _body(get_hit.json()) == {"data": {"me": {"email": "rep@pantry.test", "role": "REP"}}}


async def test_apq_refuses_a_text_that_does_not_match_its_hash(gql, team):
    claimed = DEALS + " # never sent before"  # the app (and its APQ memory) is shared by the session
    response = await gql.http.post("/graphql", json={"query": ME, "extensions": persisted(claimed)},
                                   headers={"Authorization": f"Bearer {team.rep.token}", "Accept": GRAPHQL_RESPONSE})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    # ... and remembered nothing under that hash.
    again = await gql.http.post("/graphql", json={"extensions": persisted(claimed)},
                                headers={"Authorization": f"Bearer {team.rep.token}"})
    assert again.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_apollo_client_persisted_query_link_falls_back_to_the_text_and_then_sends_only_the_hash(database_url, team):
    await factories.opportunity(team.rep.user, (await factories.account(team.rep.user, "Harbor Grill")).id, "Brisket")
    with ApiProcess(database_url) as api:
        for method in ("POST", "GET"):
            run = node_script("apollo_apq.mjs", f"{api.http}/graphql", team.rep.token, method)
            assert run.returncode == 0, run.stderr
            out = json.loads(run.stdout.strip().splitlines()[-1])
            assert [r["error"] for r in out["results"]] == [None, None]
            assert all(r["data"]["opportunities"]["edges"][0]["node"]["name"] == "Brisket" for r in out["results"])
            miss, retry, hit = out["exchanges"]  # round 1: hash only, then the text; round 2: hash only
            assert miss["method"] == method and "query=" not in miss["url"] and "query" not in (miss["sent"] or {})
            assert miss["received"]["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
            assert miss["contentType"].startswith(GRAPHQL_RESPONSE)
            assert retry["method"] == "POST" and "query" in retry["sent"]
            assert hit["method"] == method and "query=" not in hit["url"] and "query" not in (hit["sent"] or {})
            assert hit["status"] == 200 and "errors" not in hit["received"]


def _crm(args: list[str], database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-c", "from app.cli import main; main()", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def _manifest(tmp_path, operations: list[dict]) -> str:
    path = tmp_path / "persisted-query-manifest.json"
    path.write_text(json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}))
    return str(path)


def _op(text: str, name: str, kind: str = "query") -> dict:
    return {"id": sha(text), "body": text, "name": name, "type": kind}


async def test_register_documents_refuses_bad_manifests_and_documents_this_schema_cannot_run(database_url, tmp_path):
    bad_format = tmp_path / "bad.json"
    bad_format.write_text(json.dumps({"format": "something-else", "version": 1, "operations": []}))
    run = _crm(["register-documents", str(bad_format)], database_url)
    assert run.returncode == 1 and "not a valid manifest" in run.stderr

    invalid = _manifest(tmp_path, [_op(DEALS, "Deals"), _op("query Nope { noSuchField }", "Nope")])
    run = _crm(["register-documents", invalid], database_url)
    assert run.returncode == 1 and "Nope" in run.stderr and "noSuchField" in run.stderr
    assert await TrustedDocument.all().count() == 0  # nothing half-registered

    conflicting = _manifest(tmp_path, [{**_op(DEALS, "Deals"), "body": ME}])
    assert _crm(["register-documents", conflicting], database_url).returncode == 0  # ids are the client's to choose
    clash = _manifest(tmp_path, [{**_op(DEALS, "Deals"), "body": DEALS}])
    run = _crm(["register-documents", clash], database_url)
    assert run.returncode == 1 and "different body" in run.stderr


async def test_trusted_documents_mode_runs_only_registered_documents(database_url, tmp_path, team):
    manifest = _manifest(tmp_path, [_op(DEALS, "Deals"), _op(ME, "Me")])
    run = _crm(["register-documents", manifest, "--client", "web 1.4.0"], database_url)
    assert run.returncode == 0, run.stderr
    assert "registered 2 new documents (0 already registered)" in run.stdout
    again = _crm(["register-documents", manifest], database_url)
    assert "registered 0 new documents (2 already registered)" in again.stdout
    assert {d.client_name for d in await TrustedDocument.all()} == {"web 1.4.0"}

    auth = {"Authorization": f"Bearer {team.rep.token}", "Accept": GRAPHQL_RESPONSE}
    with ApiProcess(database_url, TRUSTED_DOCUMENTS_ONLY="true") as api:
        async with httpx.AsyncClient(base_url=api.http, headers=auth, timeout=10) as client:
            by_hash = await client.post("/graphql", json={"extensions": persisted(ME)})
            assert _body(by_hash.json()) == {"data": {"me": {"email": "rep@pantry.test", "role": "REP"}}}
            by_get = await client.get("/graphql", params={"extensions": json.dumps(persisted(DEALS))})
            assert _body(by_get.json()) == {"data": {"opportunities": {"totalCount": 0, "edges": []}}}
            registered_text = await client.post("/graphql", json={"query": ME})
            assert registered_text.json()["data"]["me"]["role"] == "REP"

            free_text = await client.post("/graphql", json={"query": "{ me { id } }"})
            assert free_text.status_code == 400
            assert free_text.json()["errors"][0]["extensions"]["code"] == "QUERY_NOT_IN_SAFELIST"
            unknown = await client.post("/graphql", json={"query": "{ me { id } }", "extensions": persisted("{ me { id } }")})
            assert unknown.status_code == 400
            assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
            mutation = await client.post("/graphql", json={
                "query": 'mutation { login(email: "rep@pantry.test", password: "correct-horse-1") { token } }'})
            assert mutation.json()["errors"][0]["extensions"]["code"] == "QUERY_NOT_IN_SAFELIST"

        # The WebSocket runs only registered documents too (graphql-transport-ws carries queries as well).
        async with connect(api.ws, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=10) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {team.rep.token}"}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(json.dumps({"id": "free", "type": "subscribe",
                                      "payload": {"query": "subscription { opportunityEvents { cursor } }"}}))
            refused = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert refused["id"] == "free" and refused["type"] == "error"
            assert refused["payload"][0]["extensions"]["code"] == "QUERY_NOT_IN_SAFELIST"
            await ws.send(json.dumps({"id": "known", "type": "subscribe",
                                      "payload": {"query": "", "extensions": persisted(ME)}}))
            answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
            answer["payload"] = _body(answer["payload"])
            assert answer == {"id": "known", "type": "next", "payload": {"data": {"me": {"email": "rep@pantry.test",
                                                                                       "role": "REP"}}}}
