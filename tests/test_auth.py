from datetime import datetime, timedelta, timezone

from app.services.auth import issue_token

LOGIN = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
  token expiresAt user { email role } errors { field message code } } }"""


async def test_login_returns_a_token_that_authenticates(gql, team):
    data = await gql(LOGIN, {"e": "Rep@Pantry.test ", "p": "correct-horse-1"})
    login = data["login"]
    assert login["errors"] == [] and login["user"] == {"email": "rep@pantry.test", "role": "REP"}
    expires = datetime.fromisoformat(login["expiresAt"])
    assert expires > datetime.now(timezone.utc)
    body = await gql.raw("{ me { email } }", token=login["token"])
    assert body["data"]["me"]["email"] == "rep@pantry.test"


async def test_wrong_password_and_unknown_email_answer_alike(gql, team):
    wrong = (await gql(LOGIN, {"e": "rep@pantry.test", "p": "nope-nope-nope"}))["login"]
    unknown = (await gql(LOGIN, {"e": "ghost@pantry.test", "p": "nope-nope-nope"}))["login"]
    assert wrong["token"] is None and unknown["token"] is None
    assert wrong["errors"] == unknown["errors"]
    assert wrong["errors"][0]["code"] == "INVALID"


async def test_expired_forged_and_malformed_tokens_are_refused(gql, team):
    expired, _ = issue_token(team.rep.user, now=datetime.now(timezone.utc) - timedelta(days=2))
    forged = team.rep.token[:-4] + ("AAAA" if not team.rep.token.endswith("AAAA") else "BBBB")
    for token, code in ((expired, "TOKEN_EXPIRED"), (forged, "UNAUTHENTICATED"), ("not-a-jwt", "UNAUTHENTICATED")):
        body = await gql.raw("{ me { email } }", token=token)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == code
    response = await gql.http.post("/graphql", json={"query": "{ me { email } }"}, headers={"Authorization": "Basic abc"})
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_inactive_user_token_stops_working(gql, team):
    team.rep.user.is_active = False
    await team.rep.user.save()
    body = await gql.raw("{ me { email } }", token=team.rep.token)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_mutations_require_authentication(gql, team):
    body = await gql.raw('mutation { createAccount(input: {name: "X"}) { account { id } } }')
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
