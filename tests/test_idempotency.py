"""Idempotency-Key: a retried mutation writes once and gets the first answer again; the key is the
caller's own; another request with the key is refused; concurrent retries never both run."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from app.domain.idempotency import RETENTION
from app.models import (
    Account,
    CustomerInteraction,
    DomainEvent,
    IdempotencyKey,
    Opportunity,
    OpportunityActivity,
    OpportunityProduct,
)
from app.services import idempotency as store
from app.services.auth import issue_token
from tests import factories
from tests.factories import gid

ERR = "errors { field message code }"

CREATE_ACCOUNT = f"""mutation($name: String!) {{ createAccount(input: {{name: $name}}) {{
    account {{ id name }} {ERR} }} }}"""
CREATE_OPPORTUNITY = f"""mutation($a: ID!) {{ createOpportunity(input: {{name: "Chicken program", accountId: $a,
    expectedCloseDate: "2026-12-31"}}) {{ opportunity {{ id name }} {ERR} }} }}"""
ADD_PRODUCT = f"""mutation($o: ID!, $p: ID!) {{ addOpportunityProduct(input: {{opportunityId: $o, productId: $p,
    quantity: "10"}}) {{ opportunityProduct {{ id totalPrice }} {ERR} }} }}"""
ADD_ACTIVITY = f"""mutation($o: ID!) {{ addOpportunityActivity(opportunityId: $o, input: {{type: TASTING,
    subject: "Chef tasting"}}) {{ activity {{ id subject }} {ERR} }} }}"""
RECORD_INTERACTION = f"""mutation($a: ID!, $o: ID!) {{ recordInteraction(input: {{accountId: $a, opportunityId: $o,
    type: PHONE, subject: "Order call"}}) {{ interaction {{ id subject }} {ERR} }} }}"""


async def post(gql, query: str, variables: dict, token: str | None, key: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await gql.http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


async def _deal(team):
    account = await factories.account(team.rep.user, "Harbor Grill")
    deal = await factories.opportunity(team.rep.user, account.id, "Weekly produce", value=None)  # the value follows its lines
    product = await factories.product(team.admin.user, "CHK-40", "96.00")
    return account, deal, product


async def _counts() -> dict[str, int]:
    return {
        "accounts": await Account.all().count(), "opportunities": await Opportunity.all().count(),
        "lines": await OpportunityProduct.all().count(), "activities": await OpportunityActivity.all().count(),
        "interactions": await CustomerInteraction.all().count(), "events": await DomainEvent.all().count(),
    }


CASES = {
    "createAccount": (CREATE_ACCOUNT, lambda a, d, p: {"name": "Bayside Bistro"}, "accounts"),
    "createOpportunity": (CREATE_OPPORTUNITY, lambda a, d, p: {"a": gid(a)}, "opportunities"),
    "addOpportunityProduct": (ADD_PRODUCT, lambda a, d, p: {"o": gid(d), "p": gid(p)}, "lines"),
    "addOpportunityActivity": (ADD_ACTIVITY, lambda a, d, p: {"o": gid(d)}, "activities"),
    "recordInteraction": (RECORD_INTERACTION, lambda a, d, p: {"a": gid(a), "o": gid(d)}, "interactions"),
}


@pytest.mark.parametrize("mutation", list(CASES))
async def test_a_retry_with_the_same_key_writes_once_and_replays_the_first_answer(gql, team, mutation):
    query, make_variables, counted = CASES[mutation]
    account, deal, product = await _deal(team)
    variables = make_variables(account, deal, product)
    before = await _counts()

    first = await post(gql, query, variables, team.rep.token, key="retry-1")
    after_first = await _counts()
    retry = await post(gql, query, variables, team.rep.token, key="retry-1")

    assert first.status_code == 200 and first.json()["data"][mutation]["errors"] == []
    assert "idempotent-replayed" not in first.headers
    assert (retry.status_code, retry.content) == (first.status_code, first.content)
    assert retry.headers["idempotent-replayed"] == "true"
    assert after_first[counted] == before[counted] + 1
    assert await _counts() == after_first  # the retry wrote nothing: no row, no event
    if mutation == "addOpportunityProduct":
        assert (await Opportunity.get(id=deal.id)).value == Decimal("960.00")  # not doubled


async def test_without_a_key_a_repeated_mutation_writes_twice(gql, team):
    """What the key protects against (and proof that the counting above can fail)."""
    for _ in range(2):
        assert (await post(gql, CREATE_ACCOUNT, {"name": "Bayside Bistro"}, team.rep.token)).status_code == 200
    assert await Account.filter(name="Bayside Bistro").count() == 2


async def test_the_same_key_with_another_request_is_refused_and_changes_nothing(gql, team):
    await post(gql, CREATE_ACCOUNT, {"name": "Bayside Bistro"}, team.rep.token, key="k-1")
    other = await post(gql, CREATE_ACCOUNT, {"name": "Other Bistro"}, team.rep.token, key="k-1")
    assert other.status_code == 422
    assert other.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await Account.filter(name="Other Bistro").count() == 0
    # The document is compared as GraphQL, not as bytes: a retry reformatted by the client still replays.
    reformatted = await post(gql, "  " + CREATE_ACCOUNT.replace("\n", " "), {"name": "Bayside Bistro"},
                             team.rep.token, key="k-1")
    assert reformatted.headers.get("idempotent-replayed") == "true"


async def test_keys_belong_to_the_caller_and_survive_a_new_token(gql, team):
    mine = await post(gql, CREATE_ACCOUNT, {"name": "Bayside Bistro"}, team.rep.token, key="shared-key")
    theirs = await post(gql, CREATE_ACCOUNT, {"name": "Bayside Bistro"}, team.other_rep.token, key="shared-key")
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["data"]["createAccount"]["account"]["id"] != mine.json()["data"]["createAccount"]["account"]["id"]
    # A mobile client that refreshed its token in between still gets its first answer back.
    fresh_token = issue_token(team.rep.user, now=datetime.now(timezone.utc) - timedelta(seconds=5))[0]
    assert fresh_token != team.rep.token
    again = await post(gql, CREATE_ACCOUNT, {"name": "Bayside Bistro"}, fresh_token, key="shared-key")
    assert again.headers["idempotent-replayed"] == "true" and again.content == mine.content
    assert await Account.filter(name="Bayside Bistro").count() == 2


async def test_concurrent_requests_with_one_key_run_once(gql, team):
    answers = await asyncio.gather(*[
        post(gql, CREATE_ACCOUNT, {"name": "Bayside Bistro"}, team.rep.token, key="burst") for _ in range(20)])
    executed = [a for a in answers if a.status_code == 200 and "idempotent-replayed" not in a.headers]
    replayed = [a for a in answers if a.headers.get("idempotent-replayed") == "true"]
    in_progress = [a for a in answers if a.status_code == 409]
    assert len(executed) == 1
    assert len(executed) + len(replayed) + len(in_progress) == 20
    assert all(a.content == executed[0].content for a in replayed)
    assert all(a.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_IN_PROGRESS" for a in in_progress)
    assert all(a.headers["retry-after"] == "1" for a in in_progress)
    assert await Account.filter(name="Bayside Bistro").count() == 1
    # Whoever was told "in progress" gets the first answer when it retries.
    late = await post(gql, CREATE_ACCOUNT, {"name": "Bayside Bistro"}, team.rep.token, key="burst")
    assert late.headers["idempotent-replayed"] == "true" and late.content == executed[0].content


async def test_a_request_still_running_is_reported_in_progress(gql, team):
    """Deterministic version of the race: the first request holds the claim, the second arrives."""
    from app.api.idempotency import mutation_fingerprint

    fingerprint = mutation_fingerprint(CREATE_ACCOUNT, None, {"name": "Bayside Bistro"})
    assert fingerprint is not None
    claimed = await store.claim(f"user:{team.rep.user.id}", "slow", fingerprint)
    assert isinstance(claimed, store.Claimed)
    second = await post(gql, CREATE_ACCOUNT, {"name": "Bayside Bistro"}, team.rep.token, key="slow")
    assert second.status_code == 409
    assert second.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_IN_PROGRESS"
    assert await Account.filter(name="Bayside Bistro").count() == 0


async def test_a_mutation_sent_by_its_persisted_hash_alone_is_kept_to_its_key(gql, team):
    """Apollo's persisted queries send the hash without the text once the server knows it: a retry
    of such a mutation is as safe as one with the text, and another mutation under the key is refused."""
    sha = hashlib.sha256(CREATE_ACCOUNT.encode()).hexdigest()
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": sha}}
    headers = {"Authorization": f"Bearer {team.rep.token}", "Idempotency-Key": "apq-1"}
    first = await gql.http.post("/graphql", json={"query": CREATE_ACCOUNT, "variables": {"name": "Bayside Bistro"},
                                                  "extensions": persisted}, headers=headers)
    assert first.json()["data"]["createAccount"]["errors"] == []
    hash_only = {"variables": {"name": "Bayside Bistro"}, "extensions": persisted}
    again = await gql.http.post("/graphql", json=hash_only, headers=headers)
    assert again.headers["idempotent-replayed"] == "true" and again.content == first.content
    other = await gql.http.post("/graphql", json={**hash_only, "variables": {"name": "Other Bistro"}}, headers=headers)
    assert other.status_code == 422
    assert other.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await Account.filter(name__in=["Bayside Bistro", "Other Bistro"]).count() == 1


async def test_a_batch_with_a_mutation_is_kept_to_its_key(gql, team):
    batch = [{"query": "query { me { email } }"},
             {"query": CREATE_ACCOUNT, "variables": {"name": "Bayside Bistro"}}]
    headers = {"Authorization": f"Bearer {team.rep.token}", "Idempotency-Key": "batch-1"}
    first = await gql.http.post("/graphql", json=batch, headers=headers)
    assert [item["data"] is not None for item in first.json()] == [True, True]
    again = await gql.http.post("/graphql", json=batch, headers=headers)
    assert again.headers["idempotent-replayed"] == "true" and again.content == first.content
    assert await Account.filter(name="Bayside Bistro").count() == 1


async def test_queries_and_anonymous_requests_ignore_the_key(gql, team):
    for _ in range(2):
        answer = await post(gql, "query { me { email } }", {}, team.rep.token, key="q-1")
        assert answer.json()["data"] == {"me": {"email": "rep@pantry.test"}}
        assert "idempotent-replayed" not in answer.headers
    login = 'mutation { login(email: "rep@pantry.test", password: "correct-horse-1") { token } }'
    tokens = [(await post(gql, login, {}, None, key="login-1")).json()["data"]["login"]["token"] for _ in range(2)]
    assert all(tokens)
    assert await IdempotencyKey.all().count() == 0  # no bearer token is ever stored


async def test_failures_that_say_nothing_about_the_effect_are_not_replayed(gql, team):
    bad_token = await post(gql, CREATE_ACCOUNT, {"name": "Bayside Bistro"}, "not-a-token", key="k-auth")
    assert bad_token.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await IdempotencyKey.all().count() == 0
    # An expected failure (a payload error) is the mutation's answer: it is replayed as it was.
    invalid = await post(gql, CREATE_ACCOUNT, {"name": "  "}, team.rep.token, key="k-invalid")
    assert invalid.json()["data"]["createAccount"]["errors"][0]["code"] == "REQUIRED"
    replay = await post(gql, CREATE_ACCOUNT, {"name": "  "}, team.rep.token, key="k-invalid")
    assert replay.headers["idempotent-replayed"] == "true" and replay.content == invalid.content


async def test_an_unusable_key_is_refused(gql, team):
    answer = await post(gql, CREATE_ACCOUNT, {"name": "Bayside Bistro"}, team.rep.token, key="x" * 256)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_INVALID"
    assert await Account.all().count() == 0


async def test_answers_are_kept_for_24_hours_then_swept(gql, team):
    first = await post(gql, CREATE_ACCOUNT, {"name": "Bayside Bistro"}, team.rep.token, key="old")
    row = await IdempotencyKey.get(key="old")
    assert row.expires_at - row.created_at == RETENTION
    almost = datetime.now(timezone.utc) - RETENTION + timedelta(minutes=1)
    await IdempotencyKey.filter(id=row.id).update(created_at=almost, expires_at=almost + RETENTION)
    still = await post(gql, CREATE_ACCOUNT, {"name": "Bayside Bistro"}, team.rep.token, key="old")
    assert still.headers["idempotent-replayed"] == "true" and still.content == first.content

    day_ago = datetime.now(timezone.utc) - RETENTION - timedelta(minutes=1)
    await IdempotencyKey.filter(id=row.id).update(created_at=day_ago, expires_at=day_ago + RETENTION)
    later = await post(gql, CREATE_ACCOUNT, {"name": "Bayside Bistro"}, team.rep.token, key="old")
    assert "idempotent-replayed" not in later.headers  # the key is free again: it runs
    assert await Account.filter(name="Bayside Bistro").count() == 2

    await post(gql, CREATE_ACCOUNT, {"name": "Other"}, team.rep.token, key="other")
    await IdempotencyKey.filter(key="other").update(expires_at=day_ago)
    assert await store.sweep_expired() == 1
    assert await IdempotencyKey.filter(key="other").count() == 0 and await IdempotencyKey.filter(key="old").count() == 1
