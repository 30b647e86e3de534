async def test_me_requires_a_token(gql):
    body = await gql.raw("{ me { email } }")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_me_with_token(gql, team):
    data = await gql("{ me { email role } }", as_=team.rep)
    assert data["me"] == {"email": "rep@pantry.test", "role": "REP"}
