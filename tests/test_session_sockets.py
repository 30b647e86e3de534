"""Open WebSockets end with their credential: deactivation, logout, API key revocation (made through
another API process, carried by Redis pub/sub) and token expiry close them with 4403 and a reason."""

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from websockets.exceptions import ConnectionClosed

from app.services.auth import issue_token
from app.settings import get_settings
from tests.servers import ApiProcess, post_graphql
from tests.test_subscriptions import OPP_EVENTS, Client, _acked

LOGIN = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token refreshToken errors { code } } }"""


@pytest.fixture
def two_apis(database_url):
    with ApiProcess(database_url) as a, ApiProcess(database_url) as b:
        yield a, b


async def _closed(client: Client, timeout: float = 10) -> tuple[int, str]:
    """Wait for the server to close the socket (no message may arrive before)."""
    try:
        message = await asyncio.wait_for(client.ws.recv(), timeout)
    except ConnectionClosed:
        return client.ws.close_code, client.ws.close_reason
    raise AssertionError(f"expected the socket to close, got {message}")


async def _still_open(client: Client) -> bool:
    await client.send({"type": "ping"})
    return (await client.recv())["type"] == "pong"


async def _login(api, email: str) -> str:
    async with __import__("httpx").AsyncClient(timeout=10) as http:
        body = (await http.post(f"{api.http}/graphql", json={"query": LOGIN, "variables": {"e": email, "p": "correct-horse-1"}})).json()
    return body["data"]["login"]["token"]


def _as(actor, token):
    return type(actor)(actor.user, token)


async def test_deactivation_on_one_process_closes_the_users_sockets_on_the_other(two_apis, team):
    a, b = two_apis
    rep = await _acked(a, team.rep)
    await rep.subscribe("1", OPP_EVENTS)
    bystander = await _acked(a, team.other_rep)
    body = await post_graphql(b, "mutation($id: ID!) { deactivateUser(id: $id) { errors { code } } }",
                              {"id": team.rep.id}, team.admin.token)
    assert body["data"]["deactivateUser"]["errors"] == []
    assert await _closed(rep) == (4403, "user deactivated")
    assert await _still_open(bystander)
    again = await Client.open(a, team.rep.token)
    assert await _closed(again) == (4403, "unauthenticated: session ended or user inactive: log in again")
    await bystander.ws.close()


async def test_logout_closes_that_sessions_sockets_only_and_a_role_change_all_of_the_users(two_apis, team):
    a, b = two_apis
    first, second = await _login(b, "rep@pantry.test"), await _login(b, "rep@pantry.test")
    leaving = await _acked(a, _as(team.rep, first))
    await leaving.subscribe("1", OPP_EVENTS)
    staying = await _acked(a, _as(team.rep, second))
    body = await post_graphql(b, "mutation { logout { loggedOut } }", None, first)
    assert body["data"]["logout"]["loggedOut"] is True
    assert await _closed(leaving) == (4403, "logged out")
    assert await _still_open(staying)
    # a new role means a new visibility scope: the socket closes so the client reconnects with it
    body = await post_graphql(b, "mutation($id: ID!) { updateUser(id: $id, input: {role: MANAGER}) { errors { code } } }",
                              {"id": team.rep.id}, team.admin.token)
    assert body["data"]["updateUser"]["errors"] == []
    assert await _closed(staying) == (4403, "permissions changed")


async def test_an_expiring_token_closes_its_socket_and_says_so(two_apis, team):
    a, _ = two_apis
    ttl = timedelta(minutes=get_settings().token_ttl_minutes)
    soon, _ = issue_token(team.rep.user, now=datetime.now(timezone.utc) - ttl + timedelta(seconds=2))
    client = await _acked(a, _as(team.rep, soon))
    await client.subscribe("1", OPP_EVENTS)
    assert await _closed(client) == (4403, "token expired")

    expired, _ = issue_token(team.rep.user, now=datetime.now(timezone.utc) - timedelta(days=1))
    late = await Client.open(a, expired)
    assert await _closed(late) == (4403, "token expired")
    forged = await Client.open(a, team.rep.token[:-3] + "xyz")
    code, reason = await _closed(forged)
    assert code == 4403 and reason.startswith("unauthenticated: invalid token")


async def test_api_keys_work_on_websockets_until_revoked(two_apis, team):
    a, b = two_apis
    created = await post_graphql(b, """mutation { createApiKey(input: {name: "Dashboard", role: ADMIN}) {
        secret apiKey { id } } }""", None, team.admin.token)
    key = created["data"]["createApiKey"]
    client = await _acked(a, _as(team.admin, key["secret"]))
    await client.subscribe("f", 'subscription { forecastUpdated(period: "2026-Q4") { period } }')
    assert await _still_open(client)
    body = await post_graphql(b, "mutation($id: ID!) { revokeApiKey(id: $id) { errors { code } } }",
                              {"id": key["apiKey"]["id"]}, team.admin.token)
    assert body["data"]["revokeApiKey"]["errors"] == []
    assert await _closed(client) == (4403, "api key revoked")
