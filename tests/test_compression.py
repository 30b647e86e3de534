"""Answers are gzip-compressed for the clients that accept it (browsers, Apollo Client, httpx and gql all
do): the compiled read path's, fresh and from the read cache, standard execution's and a retried
mutation's replay; clients that refuse it get the answer as it is."""

from __future__ import annotations

import gzip
import zlib
from decimal import Decimal

import httpx
import orjson
import pytest

from app.api import compression
from app.api.app import create_app
from app.api.compression import MINIMUM_SIZE, GzipStart, accepts_gzip
from app.models import OpportunityProduct
from tests import factories
from tests.conftest import TEST_BACKEND

LIST = """query($first: Int) { opportunities(first: $first) { totalCount edges { cursor node { id name value stage
  account { name } products { quantity totalPrice product { sku name } } activities { type subject } } } } }"""
INTROSPECTION = "{ __schema { types { name fields { name } } } }"
CREATE_DEAL = """mutation($account: ID!) { createOpportunity(input: {name: "Chicken program", accountId: $account,
  expectedCloseDate: "2026-12-31"}) { opportunity { id name pipeline { stages { id key name order kind probability
  forecastCategory expectedDurationDays } } } errors { field message code } } }"""


@pytest.mark.parametrize("text, tail", [
    (b'{"data":{"a":' + b"[1,2,3]," * 5000 + b"0}", b',"extensions":{"cost":{"requested":3}}}'),
    (b"", b""), (b"x", b"y"), (bytes(range(256)) * 300, b"z" * 0xFFFF),
])
def test_a_compressed_start_and_a_stored_tail_make_one_gzip_stream(text, tail):
    stream = GzipStart.of(text).finish(tail)
    assert gzip.decompress(stream) == text + tail
    one_member = zlib.decompressobj(zlib.MAX_WBITS | 16)
    assert one_member.decompress(stream) == text + tail and one_member.eof and one_member.unused_data == b""


def test_a_tail_longer_than_a_stored_block_is_refused():
    with pytest.raises(ValueError):
        GzipStart.of(b"{}").finish(b"x" * 0x10000)


@pytest.mark.parametrize("header, accepted", [
    ("gzip, deflate, br, zstd", True), ("GZIP", True), ("br;q=1.0, gzip;q=0.5", True), ("*", True),
    ("gzip;q=0", False), ("br, *;q=0", False), ("identity", False), ("", False), (None, False),
    ("deflate, *;q=0.1", True), ("x-gzip", True), ("gzip;q=oops", False),
])
def test_accept_encoding_is_read_with_its_weights(header, accepted):
    assert accepts_gzip(header) is accepted


@pytest.fixture
async def api(orm):
    """The app with its lifespan (the read cache's change feed on PostgreSQL), over ASGI."""
    application = create_app(manage_database=False)
    async with application.router.lifespan_context(application), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://t") as client:
        yield client, application.state.fast_path


async def _post(client: httpx.AsyncClient, query: str, variables: dict, token: str, accept_encoding: str,
                key: str | None = None) -> tuple[httpx.Response, bytes]:
    """The response and its body as sent (not decoded)."""
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": accept_encoding}
    if key is not None:
        headers["Idempotency-Key"] = key
    async with client.stream("POST", "/graphql", json={"query": query, "variables": variables}, headers=headers) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    return response, raw


def _data(response: httpx.Response, raw: bytes) -> dict:
    """The answer, decoded as the client would; what is left of the budget aside (it changes every time)."""
    body = orjson.loads(gzip.decompress(raw) if response.headers.get("content-encoding") == "gzip" else raw)
    body.get("extensions", {}).get("cost", {}).pop("budgetRemaining", None)
    return body


async def _world(team) -> None:
    account = await factories.account(team.rep.user, "Harbor Grill")
    product = await factories.product(team.admin.user, "BRI-12", "87.25")
    for i in range(8):
        deal = await factories.opportunity(team.rep.user, account.id, f"deal {i}", value=Decimal("1000.50"))
        await OpportunityProduct.create(opportunity=deal, product=product, quantity=Decimal("2"),
                                        unit_price=product.unit_price, total_price=Decimal("174.50"))


async def test_compiled_answers_are_gzipped_once_per_cached_page_and_sent_as_they_are_to_others(api, team, monkeypatch):
    client, compiled = api
    await _world(team)
    started: list[bytes] = []
    start = GzipStart.of

    def counted(text: bytes) -> GzipStart:
        started.append(text)
        return start(text)

    monkeypatch.setattr(compression.GzipStart, "of", counted)
    response, raw = await _post(client, LIST, {"first": 8}, team.rep.token, "identity")
    assert "content-encoding" not in response.headers and "accept-encoding" in response.headers["vary"].lower()
    plain = _data(response, raw)
    assert "errors" not in plain and len(raw) >= MINIMUM_SIZE

    served = compiled.served
    for _ in range(3):
        response, raw = await _post(client, LIST, {"first": 8}, team.rep.token, "gzip, deflate, br")
        assert response.headers["content-encoding"] == "gzip" and "accept-encoding" in response.headers["vary"].lower()
        assert int(response.headers["content-length"]) == len(raw) < len(gzip.decompress(raw)) / 2
        assert _data(response, raw) == plain
    assert compiled.served == served + 3  # all three by the compiled path
    # With the read cache (PostgreSQL), the page's data was compressed once; without it, every time.
    assert len(started) == (1 if TEST_BACKEND == "postgres" else 3)

    for refusing in ("gzip;q=0", "br", ""):
        response, raw = await _post(client, LIST, {"first": 8}, team.rep.token, refusing)
        assert "content-encoding" not in response.headers and _data(response, raw) == plain


async def test_standard_execution_and_small_answers(api, team):
    client, compiled = api
    served = compiled.served
    response, raw = await _post(client, INTROSPECTION, {}, team.rep.token, "identity")
    plain = _data(response, raw)
    assert len(raw) >= MINIMUM_SIZE and "content-encoding" not in response.headers
    response, raw = await _post(client, INTROSPECTION, {}, team.rep.token, "gzip")
    assert response.headers["content-encoding"] == "gzip" and _data(response, raw) == plain
    assert compiled.served == served  # standard execution answered both
    response, raw = await _post(client, "{ opportunities(first: 1) { totalCount } }", {}, team.rep.token, "gzip")
    assert len(raw) < MINIMUM_SIZE and "content-encoding" not in response.headers  # not worth compressing
    assert _data(response, raw)["data"] == {"opportunities": {"totalCount": 0}}


async def test_a_retried_mutation_is_replayed_compressed_as_it_was_first_answered(api, team):
    client, _ = api
    account = await factories.account(team.rep.user, "Harbor Grill")
    variables = {"account": factories.gid(account)}
    first, first_raw = await _post(client, CREATE_DEAL, variables, team.rep.token, "gzip", key="deal-1")
    retry, retry_raw = await _post(client, CREATE_DEAL, variables, team.rep.token, "gzip", key="deal-1")
    plain_retry, plain_raw = await _post(client, CREATE_DEAL, variables, team.rep.token, "identity", key="deal-1")
    answer = _data(first, first_raw)
    assert answer["data"]["createOpportunity"]["errors"] == [] and len(gzip.decompress(first_raw)) >= MINIMUM_SIZE
    assert first.headers["content-encoding"] == retry.headers["content-encoding"] == "gzip"
    assert "idempotent-replayed" not in first.headers and retry.headers["idempotent-replayed"] == "true"
    assert _data(retry, retry_raw) == answer
    assert "content-encoding" not in plain_retry.headers and orjson.loads(plain_raw) == orjson.loads(gzip.decompress(first_raw))
