"""Browsers and the log: CORS and the WebSocket origin check from one setting, GraphiQL offline in
headless Chromium with the network blocked, and a log that stays quiet about clients' mistakes."""

from __future__ import annotations

import asyncio
import json

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from app.domain.enums import Role
from app.seed.demo_data import DEMO_LOGIN_EMAIL, DEMO_LOGIN_PASSWORD
from tests.conftest import make_user
from tests.servers import ApiProcess
from tests.test_http_conformance import node_script

DEV_SERVER = "http://localhost:5173"  # a Vite dev server


async def _ws_handshake(api: ApiProcess, origin: str | None) -> str:
    headers = {"Origin": origin} if origin else {}
    try:
        async with connect(api.ws, subprotocols=[Subprotocol("graphql-transport-ws")], additional_headers=headers, open_timeout=10):
            return "accepted"
    except InvalidStatus as exc:
        return f"refused {exc.response.status_code}"


async def test_cors_and_websocket_origins_come_from_one_setting(database_url):
    with ApiProcess(database_url, ALLOWED_ORIGINS=f"{DEV_SERVER}/", CORS_MAX_AGE_SECONDS="900") as api:
        async with httpx.AsyncClient(base_url=api.http, timeout=10) as client:
            preflight = await client.options("/graphql", headers={
                "Origin": DEV_SERVER, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type"})
            assert preflight.status_code == 200
            assert preflight.headers["access-control-allow-origin"] == DEV_SERVER
            assert preflight.headers["access-control-allow-credentials"] == "true"
            assert preflight.headers["access-control-max-age"] == "900"
            assert "authorization" in preflight.headers["access-control-allow-headers"].lower()

            login = await client.post("/graphql", headers={"Origin": DEV_SERVER}, json={"query": "{ __typename }"})
            assert login.status_code == 200 and login.headers["access-control-allow-origin"] == DEV_SERVER
            assert "www-authenticate" in login.headers["access-control-expose-headers"].lower()

            stranger = await client.options("/graphql", headers={
                "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
            assert stranger.status_code == 400 and "access-control-allow-origin" not in stranger.headers
            simple = await client.post("/graphql", headers={"Origin": "https://evil.example"}, json={"query": "{ __typename }"})
            assert "access-control-allow-origin" not in simple.headers

            native = await client.post("/graphql", json={"query": "{ __typename }"})  # no Origin: a server, an app
            assert native.status_code == 200 and "access-control-allow-origin" not in native.headers

        assert await _ws_handshake(api, DEV_SERVER) == "accepted"
        assert await _ws_handshake(api, None) == "accepted"
        assert await _ws_handshake(api, api.http) == "accepted"  # same origin
        assert await _ws_handshake(api, "https://evil.example") == "refused 403"


async def test_without_allowed_origins_only_same_origin_and_native_clients_get_in(database_url):
    with ApiProcess(database_url) as api:
        async with httpx.AsyncClient(base_url=api.http, timeout=10) as client:
            preflight = await client.options("/graphql", headers={"Origin": DEV_SERVER, "Access-Control-Request-Method": "POST"})
            assert "access-control-allow-origin" not in preflight.headers
        assert await _ws_handshake(api, DEV_SERVER) == "refused 403"
        assert await _ws_handshake(api, None) == "accepted"


async def test_graphiql_works_offline_in_headless_chromium(database_url):
    await make_user(DEMO_LOGIN_EMAIL, Role.ADMIN, password=DEMO_LOGIN_PASSWORD)
    with ApiProcess(database_url, ENVIRONMENT="development") as api:
        run = node_script("graphiql_offline.mjs", api.http, timeout=180)
    assert run.stdout.strip(), f"the browser check printed nothing (exit {run.returncode}): {run.stderr[-2000:]}"
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert run.returncode == 0 and "error" not in summary, (summary, run.stderr)
    assert summary["blocked"] == [] and summary["failed"] == []  # every asset came from the API itself
    assert "mutation LogIn" in summary["startQuery"] and DEMO_LOGIN_EMAIL in summary["startQuery"]
    assert "Authorization" in summary["startQuery"]  # the start page explains the header
    assert summary["loginUser"]["role"] == "ADMIN"
    assert '"Authorization": "Bearer <token>"' in summary["headerTemplate"]
    assert summary["authenticated"]["data"]["me"]["role"] == "ADMIN"
    assert "totalCount" in summary["authenticated"]["data"]["opportunities"]


async def test_graphiql_is_off_outside_development(database_url):
    with ApiProcess(database_url, ENVIRONMENT="production", SECRET_KEY="x" * 40) as api:
        async with httpx.AsyncClient(base_url=api.http, timeout=10) as client:
            page = await client.get("/graphql", headers={"Accept": "text/html"})
            assert page.status_code == 406 and "text/html" not in page.headers["content-type"]  # no page here
            assert (await client.get("/graphiql/graphiql.min.js")).status_code == 404


async def _ws_session(api: ApiProcess, token: str, how: str) -> None:
    async with connect(api.ws, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=10) as ws:
        if how == "before-init":
            ws.transport.abort()
            return
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        if how == "during-init":
            ws.transport.abort()
            return
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"type": "subscribe", "id": "1",
                                  "payload": {"query": "subscription { opportunityEvents { cursor } }"}}))
        await asyncio.sleep(0.3)
        if how == "abort-subscribed":
            ws.transport.abort()
        # else: a normal close with the subscription open


async def test_client_mistakes_log_one_line_and_disconnects_log_nothing_alarming(database_url, tmp_path):
    rep = await make_user("rep@pantry.test", Role.REP)
    log_path = tmp_path / "api.log"
    with open(log_path, "w") as log, ApiProcess(database_url, log_file=log) as api:
        async with httpx.AsyncClient(base_url=api.http, timeout=10) as client:
            mistakes = [
                ({"Authorization": "Bearer not-a-token"}, "{ me { id } }"),
                ({}, "{ me { id } }"),
                ({"Authorization": f"Bearer {rep.token}"}, "{ me { nosuchfield } }"),
                ({"Authorization": f"Bearer {rep.token}"}, "{ me { id "),
            ]
            for headers, query in mistakes:
                assert (await client.post("/graphql", headers=headers, json={"query": query})).json()["errors"]
        for how in ("before-init", "during-init", "abort-subscribed", "close-subscribed"):
            await _ws_session(api, rep.token, how)
        await asyncio.sleep(1)  # let the server notice the last disconnect before it is stopped
    text = log_path.read_text()
    assert "Traceback" not in text and "never awaited" not in text and "ERROR:" not in text, text
    client_lines = [line for line in text.splitlines() if "client error" in line]
    assert len(client_lines) == len(mistakes), text
    assert any("UNAUTHENTICATED at me: invalid token" in line for line in client_lines)
    assert any("GRAPHQL_PARSE_FAILED at request: Syntax Error" in line for line in client_lines)
