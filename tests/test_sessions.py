"""Sessions that end: login with refresh tokens, rotation and reuse detection, logout, expired versus
invalid tokens, passwords, user administration and API keys — through GraphQL, on both databases."""

from datetime import datetime, timedelta, timezone

import pytest

from app.models import ApiKey, RefreshToken, Session, User
from app.domain.global_ids import global_id
from app.services.auth import issue_token
from app.settings import get_settings
from tests import factories
from tests.factories import pk
from tests.conftest import TEST_BACKEND
from tests.test_read_cache import running_app

LOGIN = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
  token refreshToken expiresAt user { email } errors { field message code } } }"""
REFRESH = """mutation($r: String!) { refreshToken(refreshToken: $r) { token refreshToken expiresAt errors { field code message } } }"""
ME = "{ me { email role } }"
LOGOUT = "mutation($all: Boolean) { logout(everywhere: $all) { loggedOut errors { code } } }"
USER_FIELDS = "user { id email name role isActive manager { email } } errors { field message code }"
DEALS = "query($first:Int){opportunities(first:$first){totalCount edges{node{id name}}}}"


async def _login(gql, email="rep@pantry.test", password="correct-horse-1") -> dict:
    return (await gql(LOGIN, {"e": email, "p": password}))["login"]


async def _me(gql, token) -> dict:
    return await gql.raw(ME, token=token)


def _code(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


async def test_login_gives_a_short_lived_token_and_a_refresh_token_stored_hashed(gql, team):
    login = await _login(gql)
    assert login["errors"] == [] and login["refreshToken"].startswith("kpr_")
    expires = datetime.fromisoformat(login["expiresAt"])
    ttl = timedelta(minutes=get_settings().token_ttl_minutes)
    assert timedelta(0) < expires - datetime.now(timezone.utc) <= ttl
    assert (await _me(gql, login["token"]))["data"]["me"]["email"] == "rep@pantry.test"
    stored = await RefreshToken.all().values_list("token_hash", flat=True)
    assert len(stored) == 1 and login["refreshToken"] not in stored[0] and len(stored[0]) == 64


async def test_refresh_rotates_and_reusing_an_old_refresh_token_revokes_the_family(gql, team):
    login = await _login(gql)
    first = (await gql(REFRESH, {"r": login["refreshToken"]}))["refreshToken"]
    assert first["errors"] == [] and first["refreshToken"] != login["refreshToken"]
    second = (await gql(REFRESH, {"r": first["refreshToken"]}))["refreshToken"]
    assert second["errors"] == []
    assert (await _me(gql, second["token"]))["data"]["me"]["email"] == "rep@pantry.test"
    other = await _login(gql)  # another session of the same user is not part of the family

    reused = (await gql(REFRESH, {"r": login["refreshToken"]}))["refreshToken"]
    assert reused["token"] is None and reused["errors"][0]["field"] == "refreshToken"
    assert "already used" in reused["errors"][0]["message"]
    for token in (login["token"], first["token"], second["token"]):  # every access token of the family
        assert _code(await _me(gql, token)) == "UNAUTHENTICATED"
    latest = (await gql(REFRESH, {"r": second["refreshToken"]}))["refreshToken"]
    assert latest["token"] is None and "ended" in latest["errors"][0]["message"]
    assert (await _me(gql, other["token"]))["data"]["me"]["email"] == "rep@pantry.test"


async def test_unknown_and_expired_refresh_tokens_are_refused(gql, team):
    assert (await gql(REFRESH, {"r": "kpr_nope"}))["refreshToken"]["errors"][0]["code"] == "INVALID"
    login = await _login(gql)
    await RefreshToken.all().update(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    expired = (await gql(REFRESH, {"r": login["refreshToken"]}))["refreshToken"]
    assert expired["token"] is None and "expired" in expired["errors"][0]["message"]


async def test_logout_ends_the_session_and_only_it(gql, team):
    mine, elsewhere = await _login(gql), await _login(gql)
    assert (await gql(LOGOUT, {}, as_=type(team.rep)(team.rep.user, mine["token"])))["logout"] == {
        "loggedOut": True, "errors": []}
    assert _code(await _me(gql, mine["token"])) == "UNAUTHENTICATED"
    assert (await gql(REFRESH, {"r": mine["refreshToken"]}))["refreshToken"]["token"] is None
    assert (await _me(gql, elsewhere["token"]))["data"]["me"]
    # a token that never had a stored session (issued directly) is revocable too
    assert (await gql(LOGOUT, {}, as_=team.manager))["logout"]["loggedOut"] is True
    assert _code(await _me(gql, team.manager.token)) == "UNAUTHENTICATED"
    # everywhere: every session of the user
    await gql(LOGOUT, {"all": True}, as_=type(team.rep)(team.rep.user, elsewhere["token"]))
    assert _code(await _me(gql, elsewhere["token"])) == "UNAUTHENTICATED"
    assert await Session.filter(user_id=team.rep.user.id, revoked_at__isnull=True).count() == 0


async def test_expired_token_says_token_expired_and_a_bad_one_unauthenticated(gql, team):
    expired, _ = issue_token(team.rep.user, now=datetime.now(timezone.utc) - timedelta(days=1))
    body = await _me(gql, expired)
    assert body["data"] is None and _code(body) == "TOKEN_EXPIRED"
    forged = team.rep.token[:-4] + ("AAAA" if not team.rep.token.endswith("AAAA") else "BBBB")
    for token in (forged, "not-a-jwt", "kpk_not-a-key"):
        assert _code(await _me(gql, token)) == "UNAUTHENTICATED"
    assert _code(await gql.raw(ME)) == "UNAUTHENTICATED"


async def test_change_password_needs_the_current_one_and_ends_other_sessions(gql, team):
    here, there = await _login(gql), await _login(gql)
    me = type(team.rep)(team.rep.user, here["token"])
    change = """mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) {
      user { email } errors { field code } } }"""
    wrong = (await gql(change, {"c": "guess-guess", "n": "new-password-9"}, as_=me))["changePassword"]
    assert wrong == {"user": None, "errors": [{"field": "currentPassword", "code": "INVALID"}]}
    short = (await gql(change, {"c": "correct-horse-1", "n": "short"}, as_=me))["changePassword"]
    assert short["errors"] == [{"field": "newPassword", "code": "INVALID"}]
    ok = (await gql(change, {"c": "correct-horse-1", "n": "new-password-9"}, as_=me))["changePassword"]
    assert ok == {"user": {"email": "rep@pantry.test"}, "errors": []}
    assert (await _me(gql, here["token"]))["data"]["me"]  # this session stays
    assert _code(await _me(gql, there["token"])) == "UNAUTHENTICATED"
    assert (await _login(gql))["errors"][0]["code"] == "INVALID"
    assert (await _login(gql, password="new-password-9"))["token"]


async def test_admins_administer_users(gql, team):
    create = f"""mutation($in: CreateUserInput!) {{ createUser(input: $in) {{ {USER_FIELDS} }} }}"""
    made = (await gql(create, {"in": {"email": "New.Rep@KitchenPantry.com", "name": "New Rep", "role": "REP",
                                      "password": "first-pass-1", "managerId": team.manager.id}},
                      as_=team.admin))["createUser"]
    assert made["errors"] == [] and made["user"]["email"] == "new.rep@kitchenpantry.com"
    assert made["user"]["manager"] == {"email": "manager@pantry.test"}
    new_id = made["user"]["id"]
    bad = (await gql(create, {"in": {"email": "new.rep@kitchenpantry.com", "role": "REP", "password": "x",
                                     "managerId": team.rep.id}}, as_=team.admin))["createUser"]
    assert {(e["field"], e["code"]) for e in bad["errors"]} == {
        ("email", "DUPLICATE"), ("password", "INVALID"), ("managerId", "INVALID")}
    assert await User.filter(email="new.rep@kitchenpantry.com").count() == 1

    update = f"""mutation($id: ID!, $in: UpdateUserInput!) {{ updateUser(id: $id, input: $in) {{ {USER_FIELDS} }} }}"""
    moved = (await gql(update, {"id": new_id, "in": {"role": "MANAGER", "managerId": team.other_manager.id,
                                                      "name": "Promoted"}}, as_=team.admin))["updateUser"]
    assert moved["user"]["role"] == "MANAGER" and moved["user"]["name"] == "Promoted"
    assert moved["user"]["manager"] == {"email": "other.manager@pantry.test"}
    cycle = (await gql(update, {"id": team.other_manager.id, "in": {"managerId": new_id}}, as_=team.admin))["updateUser"]
    assert cycle["errors"] == [{"field": "managerId", "message": cycle["errors"][0]["message"], "code": "CYCLE"}]
    demote = (await gql(update, {"id": team.manager.id, "in": {"role": "REP"}}, as_=team.admin))["updateUser"]
    assert demote["errors"][0]["code"] == "IN_USE"  # still manages the rep
    unmanaged = (await gql(update, {"id": new_id, "in": {"managerId": None}}, as_=team.admin))["updateUser"]
    assert unmanaged["user"]["manager"] is None

    login = await _login(gql, "new.rep@kitchenpantry.com", "first-pass-1")
    deactivate = f"""mutation($id: ID!) {{ deactivateUser(id: $id) {{ {USER_FIELDS} }} }}"""
    assert (await gql(deactivate, {"id": new_id}, as_=team.admin))["deactivateUser"]["user"]["isActive"] is False
    assert _code(await _me(gql, login["token"])) == "UNAUTHENTICATED"
    assert (await gql(REFRESH, {"r": login["refreshToken"]}))["refreshToken"]["token"] is None
    assert (await _login(gql, "new.rep@kitchenpantry.com", "first-pass-1"))["token"] is None
    self_off = (await gql(deactivate, {"id": team.admin.id}, as_=team.admin))["deactivateUser"]
    assert self_off["errors"][0]["code"] == "FORBIDDEN"

    reactivate = f"""mutation($id: ID!) {{ reactivateUser(id: $id) {{ {USER_FIELDS} }} }}"""
    assert (await gql(reactivate, {"id": new_id}, as_=team.admin))["reactivateUser"]["user"]["isActive"] is True
    assert _code(await _me(gql, login["token"])) == "UNAUTHENTICATED"  # old sessions stay ended
    relogin = await _login(gql, "new.rep@kitchenpantry.com", "first-pass-1")
    reset = """mutation($id: ID!, $p: String!) { resetUserPassword(id: $id, newPassword: $p) { user { email } errors { code } } }"""
    assert (await gql(reset, {"id": new_id, "p": "reset-pass-2"}, as_=team.admin))["resetUserPassword"]["errors"] == []
    assert _code(await _me(gql, relogin["token"])) == "UNAUTHENTICATED"
    assert (await _login(gql, "new.rep@kitchenpantry.com", "reset-pass-2"))["token"]

    users = (await gql("{ users(first: 50) { edges { node { email isActive } } } }", as_=team.admin))["users"]
    assert {"email": "new.rep@kitchenpantry.com", "isActive": True} in [e["node"] for e in users["edges"]]


async def test_user_administration_is_for_admins_only(gql, team):
    attempts = [
        ('mutation { createUser(input: {email: "x@pantry.test", role: ADMIN, password: "long-enough-1"}) { errors { code } } }', {}),
        ("mutation($id: ID!) { updateUser(id: $id, input: {role: ADMIN}) { errors { code } } }", {"id": team.rep.id}),
        ("mutation($id: ID!) { deactivateUser(id: $id) { errors { code } } }", {"id": team.rep.id}),
        ("mutation($id: ID!) { reactivateUser(id: $id) { errors { code } } }", {"id": team.rep.id}),
        ('mutation($id: ID!) { resetUserPassword(id: $id, newPassword: "long-enough-1") { errors { code } } }', {"id": team.rep.id}),
        ('mutation { createApiKey(input: {name: "x", role: ADMIN}) { secret } }', {}),
        ("mutation($id: ID!) { revokeApiKey(id: $id) { errors { code } } }", {"id": global_id("ApiKey", 1)}),
        ("{ apiKeys { id } }", {}),
    ]
    for query, variables in attempts:
        body = await gql.raw(query, variables, token=team.manager.token)
        assert _code(body) == "FORBIDDEN", query
    assert await User.filter(role="admin").count() == 1 and await User.filter(is_active=False).count() == 0
    assert await ApiKey.all().count() == 0


CREATE_KEY = """mutation($in: CreateApiKeyInput!) { createApiKey(input: $in) { secret
  apiKey { id name prefix role lastUsedAt revokedAt serviceAccount { id email role manager { email } } } errors { field code } } }"""


async def test_api_keys_act_as_a_service_account_until_revoked(gql, team):
    created = (await gql(CREATE_KEY, {"in": {"name": "ERP sync", "role": "REP", "managerId": team.manager.id}},
                         as_=team.admin))["createApiKey"]
    secret, key = created["secret"], created["apiKey"]
    assert secret.startswith("kpk_") and secret.startswith(key["prefix"]) and key["role"] == "REP"
    assert key["serviceAccount"]["manager"] == {"email": "manager@pantry.test"} and key["lastUsedAt"] is None
    assert await ApiKey.filter(key_hash__contains=secret).count() == 0  # stored hashed only
    integration = type(team.rep)(await User.get(id=pk(key["serviceAccount"]["id"])), secret)

    me = await gql(ME, as_=integration)
    assert me["me"]["role"] == "REP"
    acct = (await gql('mutation { createAccount(input: {name: "Via API"}) { account { id name } errors { code } } }',
                      as_=integration))["createAccount"]
    assert acct["errors"] == []
    # the service account sits in the manager's team: the manager sees what the integration created
    seen = await gql("{ accounts(first: 10) { edges { node { name } } } }", as_=team.manager)
    assert {"node": {"name": "Via API"}} in seen["accounts"]["edges"]
    listed = (await gql("{ apiKeys { id name lastUsedAt revokedAt } }", as_=team.admin))["apiKeys"]
    assert listed[0]["name"] == "ERP sync" and listed[0]["lastUsedAt"] is not None
    assert (await gql.raw(LOGIN, {"e": key["serviceAccount"]["email"], "p": ""}))["data"]["login"]["token"] is None
    logout = (await gql(LOGOUT, {}, as_=integration))["logout"]
    assert logout["loggedOut"] is False and logout["errors"][0]["code"] == "FORBIDDEN"

    revoke = "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { revokedAt } errors { code } } }"
    assert (await gql(revoke, {"id": key["id"]}, as_=team.admin))["revokeApiKey"]["apiKey"]["revokedAt"]
    assert _code(await _me(gql, secret)) == "UNAUTHENTICATED"
    missing = (await gql(revoke, {"id": "999"}, as_=team.admin))["revokeApiKey"]
    assert missing["errors"][0]["code"] == "NOT_FOUND"
    nameless = (await gql(CREATE_KEY, {"in": {"name": " ", "role": "ADMIN"}}, as_=team.admin))["createApiKey"]
    assert nameless["secret"] is None and nameless["errors"] == [{"field": "name", "code": "REQUIRED"}]


async def test_the_compiled_read_path_honours_api_keys_and_logout(gql, team):
    acct = await factories.account(team.rep.user)
    await factories.opportunity(team.rep.user, acct.id, "deal")
    created = (await gql(CREATE_KEY, {"in": {"name": "BI", "role": "ADMIN"}}, as_=team.admin))["createApiKey"]
    login = await _login(gql)
    async with running_app() as (post, fast):
        assert (await post(DEALS, {"first": 5}, created["secret"]))["data"]["opportunities"]["totalCount"] == 1
        assert (await post(DEALS, {"first": 5}, login["token"]))["data"]["opportunities"]["totalCount"] == 1
        if TEST_BACKEND == "postgres":
            assert fast.cache is not None
        await gql("mutation($id: ID!) { revokeApiKey(id: $id) { errors { code } } }", {"id": created["apiKey"]["id"]},
                  as_=team.admin)
        await gql(LOGOUT, {}, as_=type(team.rep)(team.rep.user, login["token"]))
        for token in (created["secret"], login["token"]):
            body = await _eventually_refused(post, token)
            assert body["data"] is None and _code(body) == "UNAUTHENTICATED"
        expired, _ = issue_token(team.rep.user, now=datetime.now(timezone.utc) - timedelta(days=1))
        assert _code(await post(DEALS, {"first": 5}, expired)) == "TOKEN_EXPIRED"


async def _eventually_refused(post, token, attempts: int = 100) -> dict:
    """The cache forgets at the revocation's NOTIFY, which arrives just after the commit."""
    import asyncio

    for _ in range(attempts):
        body = await post(DEALS, {"first": 5}, token)
        if body.get("errors"):
            return body
        await asyncio.sleep(0.02)
    raise AssertionError("a revoked credential kept being served")


@pytest.fixture
def quick_lockout():
    settings = get_settings()
    saved = (settings.login_max_failures_per_account, settings.login_max_failures_per_address,
             settings.login_lockout_base_seconds)
    settings.login_max_failures_per_account, settings.login_max_failures_per_address = 3, 6
    settings.login_lockout_base_seconds = 60
    yield settings
    (settings.login_max_failures_per_account, settings.login_max_failures_per_address,
     settings.login_lockout_base_seconds) = saved


async def test_login_throttle_locks_an_account_with_retry_after_and_no_enumeration(gql, team, quick_lockout):
    quick_lockout.login_max_failures_per_address = 100
    for _ in range(3):  # the allowed failures
        assert (await _login(gql, password="wrong-password"))["errors"][0]["code"] == "INVALID"
        assert (await _login(gql, "ghost@pantry.test", "wrong-password"))["errors"][0]["code"] == "INVALID"
    known = await gql.http.post("/graphql", json={"query": LOGIN, "variables": {"e": "rep@pantry.test", "p": "correct-horse-1"}})
    unknown = await gql.http.post("/graphql", json={"query": LOGIN, "variables": {"e": "ghost@pantry.test", "p": "x"}})
    for response in (known, unknown):  # the right password does not help while locked; unknown looks the same
        assert response.status_code == 429
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED" and 0 < error["extensions"]["retryAfter"] <= 60
    assert known.json()["errors"][0]["message"] == unknown.json()["errors"][0]["message"]
    assert await Session.all().count() == 0
    assert (await _login(gql, "manager@pantry.test"))["token"]  # other accounts are not affected


async def test_login_throttle_per_client_address(gql, team, quick_lockout):
    for email in ("a@pantry.test", "b@pantry.test", "c@pantry.test", "d@pantry.test", "e@pantry.test", "f@pantry.test"):
        assert (await _login(gql, email, "wrong-password"))["errors"][0]["code"] == "INVALID"
    body = await gql.raw(LOGIN, {"e": "manager@pantry.test", "p": "correct-horse-1"})
    assert _code(body) == "RATE_LIMITED" and body["errors"][0]["extensions"]["retryAfter"] > 0


async def test_the_lockout_doubles_and_a_success_clears_the_account(gql, team, quick_lockout):
    import redis.asyncio as aioredis

    from tests.conftest import TEST_REDIS_URL

    quick_lockout.login_max_failures_per_address = 100
    for _ in range(3):
        await _login(gql, password="wrong-password")
    first = (await gql.raw(LOGIN, {"e": "rep@pantry.test", "p": "x"}))["errors"][0]["extensions"]["retryAfter"]
    client = aioredis.Redis.from_url(TEST_REDIS_URL)
    try:
        async def unlock():
            for key in await client.keys("crm:login:account:lock:*"):
                await client.delete(key)  # as if the lockout had run out

        await unlock()
        await _login(gql, password="wrong-password")  # one attempt after a lockout, then a longer one
        second = (await gql.raw(LOGIN, {"e": "rep@pantry.test", "p": "x"}))["errors"][0]["extensions"]["retryAfter"]
        assert first <= 60 < second <= 120
        await unlock()
        assert (await _login(gql))["token"]  # the right password after the lockout: in, and the slate is clean
        for _ in range(2):
            assert (await _login(gql, password="wrong-password"))["errors"][0]["code"] == "INVALID"
    finally:
        await client.aclose()


async def test_only_one_login_per_request(gql, team):
    aliased = """mutation { a: login(email: "rep@pantry.test", password: "one-guess") { token }
                            b: login(email: "rep@pantry.test", password: "two-guess") { token } }"""
    fragment = """mutation { ...L login(email: "rep@pantry.test", password: "x") { token } }
                  fragment L on Mutation { login(email: "rep@pantry.test", password: "y") { token } }"""
    for query in (aliased, fragment):
        body = await gql.raw(query)
        assert body.get("data") is None and "one login per request" in body["errors"][0]["message"]
    assert await Session.all().count() == 0
    single = await gql.raw('mutation { a: login(email: "rep@pantry.test", password: "correct-horse-1") { token } }')
    assert single["data"]["a"]["token"]


async def test_an_older_password_hash_is_upgraded_at_login(gql, team):
    from argon2 import PasswordHasher

    await User.filter(id=team.rep.user.id).update(password_hash=PasswordHasher().hash("correct-horse-1"))
    assert (await _login(gql))["token"]
    upgraded = (await User.get(id=team.rep.user.id)).password_hash
    assert "m=19456,t=2,p=1" in upgraded
    assert (await _login(gql))["token"]
