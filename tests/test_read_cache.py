"""The fast path's read cache: results per visibility scope, voided by any commit to a table they read
(PostgreSQL NOTIFY from a trigger), never served while the change feed is down, off on SQLite."""

import asyncio
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest

from app.api.app import create_app
from app.models import Opportunity, User
from app.queries.read_cache import connection_params
from bench.checks import counting_queries
from app.domain.global_ids import global_id
from tests import factories
from tests.conftest import TEST_BACKEND
from tests.factories import gid

postgres_only = pytest.mark.skipif(TEST_BACKEND != "postgres", reason="the change feed is PostgreSQL NOTIFY")

LIST = "query($first:Int){opportunities(first:$first){totalCount edges{node{id name account{name}}}}}"
DETAIL = "query($id:ID!){opportunity(id:$id){id name value stage isStale daysInStage assignedTo{email}}}"
PAGE_ONLY = "query{opportunities(first:5){edges{node{id}}}}"
WITH_COUNT = "query{opportunities(first:5){totalCount edges{node{id}}}}"


@asynccontextmanager
async def running_app(read_cache: bool = True):
    """The app with its lifespan (which starts the change feed), over ASGI."""
    application = create_app(manage_database=False, read_cache=read_cache)
    async with application.router.lifespan_context(application), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://t") as client:
        async def post(query: str, variables: dict | None, token: str) -> dict:
            response = await client.post("/graphql", json={"query": query, "variables": variables or {}},
                                         headers={"Authorization": f"Bearer {token}"})
            return response.json()

        yield post, application.state.fast_path


async def _generation_moves(cache, before: int, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while cache.feed.generation == before:
        assert asyncio.get_running_loop().time() < deadline, "no change notification arrived"
        await asyncio.sleep(0.01)


async def _deals(team, n: int = 3):
    acct = await factories.account(team.rep.user, "Harbor Grill")
    return [await factories.opportunity(team.rep.user, acct.id, f"deal {i}") for i in range(n)]


@postgres_only
async def test_a_repeated_read_is_served_from_the_cache_with_no_sql(team):
    deals = await _deals(team)
    async with running_app() as (post, fast):
        first = await post(DETAIL, {"id": gid(deals[0])}, team.rep.token)
        with counting_queries() as counter:
            again = await post(DETAIL, {"id": gid(deals[0])}, team.rep.token)
        assert again["data"] == first["data"] and first["data"]["opportunity"]["name"] == "deal 0"
        assert counter.count == 0
        assert fast.cache.hits >= 2  # the scope and the opportunity


@postgres_only
async def test_a_commit_from_another_connection_voids_the_cached_result(team):
    deals = await _deals(team)
    async with running_app() as (post, fast):
        before = await post(LIST, {"first": 10}, team.rep.token)
        assert before["data"]["opportunities"]["totalCount"] == 3
        generation = fast.cache.feed.generation
        # Another process (a worker, psql…) renames a deal and adds one, on its own connection.
        other = await _connect()
        try:
            async with other.transaction():
                await other.execute("UPDATE opportunities SET name = 'renamed' WHERE id = $1", deals[1].id)
        finally:
            await other.close()
        await _generation_moves(fast.cache, generation)
        after = await post(LIST, {"first": 10}, team.rep.token)
        names = {edge["node"]["name"] for edge in after["data"]["opportunities"]["edges"]}
        assert names == {"deal 0", "renamed", "deal 2"}


@postgres_only
async def test_a_rolled_back_write_does_not_void_the_cache(team):
    deals = await _deals(team, 1)
    async with running_app() as (post, fast):
        await post(DETAIL, {"id": gid(deals[0])}, team.rep.token)
        generation = fast.cache.feed.generation
        other = await _connect()
        try:
            transaction = other.transaction()
            await transaction.start()
            await other.execute("UPDATE opportunities SET name = 'never' WHERE id = $1", deals[0].id)
            await transaction.rollback()
            await other.execute("SELECT 1")  # a round trip after the rollback: a notification would be out by now
        finally:
            await other.close()
        await asyncio.sleep(0.2)
        assert fast.cache.feed.generation == generation
        with counting_queries() as counter:
            body = await post(DETAIL, {"id": gid(deals[0])}, team.rep.token)
        assert counter.count == 0 and body["data"]["opportunity"]["name"] == "deal 0"


@postgres_only
async def test_a_mutation_is_seen_by_the_next_read(gql, team):
    deals = await _deals(team, 1)
    await factories.ready_to_leave_discovery(deals[0])
    async with running_app() as (post, fast):
        assert (await post(DETAIL, {"id": gid(deals[0])}, team.rep.token))["data"]["opportunity"]["stage"] == "discovery"
        generation = fast.cache.feed.generation
        await gql("mutation($id:ID!){advanceOpportunity(input:{id:$id,stage:\"qualification\"}){errors{code}}}",
                  {"id": gid(deals[0])}, as_=team.rep)
        await _generation_moves(fast.cache, generation)
        body = await post(DETAIL, {"id": gid(deals[0])}, team.rep.token)
        assert body["data"]["opportunity"]["stage"] == "qualification"


@postgres_only
async def test_cached_results_never_cross_visibility_scopes(team):
    await _deals(team, 2)
    theirs = await factories.account(team.other_rep.user, "Other Bistro")
    await factories.opportunity(team.other_rep.user, theirs.id, "their deal")
    async with running_app() as (post, _):
        seen = {}
        for who in ("rep", "other_rep", "manager", "admin", "rep", "other_rep"):
            body = await post(LIST, {"first": 10}, getattr(team, who).token)
            seen[who] = sorted(edge["node"]["name"] for edge in body["data"]["opportunities"]["edges"])
        assert seen["rep"] == seen["manager"] == ["deal 0", "deal 1"]
        assert seen["other_rep"] == ["their deal"]
        assert seen["admin"] == ["deal 0", "deal 1", "their deal"]


@postgres_only
async def test_a_deactivated_user_is_refused_even_after_cached_reads(team):
    deals = await _deals(team, 1)
    async with running_app() as (post, fast):
        assert (await post(DETAIL, {"id": gid(deals[0])}, team.rep.token))["data"]["opportunity"]
        generation = fast.cache.feed.generation
        await User.filter(id=team.rep.user.id).update(is_active=False)
        await _generation_moves(fast.cache, generation)
        body = await post(DETAIL, {"id": gid(deals[0])}, team.rep.token)
        assert body["data"]["opportunity"] is None and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@postgres_only
async def test_while_the_feed_is_down_reads_go_to_the_database_then_caching_resumes(team):
    deals = await _deals(team, 1)
    async with running_app() as (post, fast):
        feed = fast.cache.feed
        feed.reconnect_delay = 0.5
        await post(DETAIL, {"id": gid(deals[0])}, team.rep.token)
        # PostgreSQL drops the listening connection (a restart, a failover, an admin's pg_terminate_backend).
        admin = await _connect()
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", feed._connection.get_server_pid())
            for _ in range(200):
                if not feed.live:
                    break
                await asyncio.sleep(0.005)
            assert not feed.live
            # A write nobody hears about: with no feed, nothing may come from the cache.
            await admin.execute("UPDATE opportunities SET name = 'changed while deaf' WHERE id = $1", deals[0].id)
            body = await post(DETAIL, {"id": gid(deals[0])}, team.rep.token)
            assert body["data"]["opportunity"]["name"] == "changed while deaf"
        finally:
            await admin.close()
        for _ in range(300):
            if feed.live:
                break
            await asyncio.sleep(0.01)
        assert feed.live, "the change feed did not reconnect"
        await post(DETAIL, {"id": gid(deals[0])}, team.rep.token)
        with counting_queries() as counter:
            body = await post(DETAIL, {"id": gid(deals[0])}, team.rep.token)
        assert counter.count == 0 and body["data"]["opportunity"]["name"] == "changed while deaf"


@postgres_only
async def test_concurrent_misses_share_one_read(team):
    await _deals(team, 3)
    async with running_app() as (post, fast):
        async with running_app(read_cache=False) as (post_uncached, _):
            with counting_queries() as one:
                await post_uncached(LIST, {"first": 10}, team.rep.token)
        # A commit anywhere in the database (another fixture's clean-up, a heartbeat lapse on a loaded
        # machine) starts a new generation mid-burst and rightly voids the flight: measure a burst that
        # ran within one generation, with a fresh page size each try so nothing comes from the cache.
        for page_size in (10, 11, 12, 13, 14):
            before = fast.cache.feed.generation
            with counting_queries() as many:
                bodies = await asyncio.gather(*(post(LIST, {"first": page_size}, team.rep.token) for _ in range(10)))
            if fast.cache.feed.generation == before and fast.cache.feed.live:
                break
        else:
            pytest.fail("the generation moved during every burst")
        assert all(body["data"] == bodies[0]["data"] for body in bodies)
        assert len(bodies[0]["data"]["opportunities"]["edges"]) == 3
        # Ten concurrent misses cost no more SQL than one request without the cache.
        assert 0 < many.count <= one.count, "\n".join(["MANY:", *(s[:120] for s in many.statements), "ONE:", *(s[:120] for s in one.statements)])


async def test_without_a_feed_nothing_is_cached(team):
    """SQLite (no NOTIFY) and READ_CACHE_ENABLED=false: every read goes to the database."""
    deals = await _deals(team, 1)
    async with running_app(read_cache=TEST_BACKEND == "sqlite") as (post, fast):
        assert fast.cache is None
        await post(DETAIL, {"id": gid(deals[0])}, team.rep.token)
        await Opportunity.filter(id=deals[0].id).update(name="fresh")
        body = await post(DETAIL, {"id": gid(deals[0])}, team.rep.token)
        assert body["data"]["opportunity"]["name"] == "fresh"


async def test_total_count_is_only_counted_when_asked_for(both_paths, team):
    await _deals(team, 3)
    for post in both_paths:
        with counting_queries() as without:
            body = await post(PAGE_ONLY, None, team.rep.token)
        assert len(body["data"]["opportunities"]["edges"]) == 3
        with counting_queries() as with_count:
            body = await post(WITH_COUNT, None, team.rep.token)
        assert body["data"]["opportunities"]["totalCount"] == 3
        assert with_count.count == without.count + 1
        assert not any("count(" in sql.lower() for sql in without.statements)


@pytest.fixture
async def both_paths():
    async with running_app(read_cache=False) as (fast, _):
        standard_app = create_app(manage_database=False, fast_path=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=standard_app), base_url="http://t") as client:
            async def standard(query: str, variables: dict | None, token: str) -> dict:
                return (await client.post("/graphql", json={"query": query, "variables": variables or {}},
                                          headers={"Authorization": f"Bearer {token}"})).json()

            yield fast, standard


async def _connect() -> asyncpg.Connection:
    """A connection of another process's kind: outside the app's pool."""
    from tortoise import connections

    return await asyncpg.connect(**connection_params(connections.get("default")))


def test_responses_that_read_the_clock_are_rendered_on_every_request():
    """daysInStage and isStale change with time, not with commits: for such documents only the data is
    cached and the response is rendered again each time; other responses are cached whole."""
    from app.api.fastpath import compile_document
    from app.api.schema import schema

    assert compile_document(schema._schema, DETAIL, None).reads_clock
    assert not compile_document(schema._schema, LIST, None).reads_clock
    nested = "query{opportunities{edges{node{account{name} activities{subject}}}}}"
    assert not compile_document(schema._schema, nested, None).reads_clock
    assert compile_document(schema._schema, "query{opportunities{nodes{daysInStage}}}", None).reads_clock


@postgres_only
async def test_a_feed_that_falls_silent_stops_answering_then_reconnects(team):
    """A listening connection that stays open but hears nothing (a vanished peer without a FIN, a proxy
    that does not pass LISTEN through): the heartbeat notices, reads go to the database, then it
    reconnects."""
    from app.queries.read_cache import CHANNEL, HEARTBEAT_CHANNEL

    deals = await _deals(team, 1)
    async with running_app() as (post, fast):
        feed = fast.cache.feed
        feed.heartbeat_seconds, feed.reconnect_delay = 0.2, 0.2
        await post(DETAIL, {"id": gid(deals[0])}, team.rep.token)
        deaf = feed._connection
        await deaf.remove_listener(CHANNEL, feed._on_notification)
        await deaf.remove_listener(HEARTBEAT_CHANNEL, feed._on_echo)
        other = await _connect()
        try:
            await other.execute("UPDATE opportunities SET name = 'unheard' WHERE id = $1", deals[0].id)
        finally:
            await other.close()
        await _until(lambda: not feed.live, 5, "the feed to stop counting as live")
        body = await post(DETAIL, {"id": gid(deals[0])}, team.rep.token)
        assert body["data"]["opportunity"]["name"] == "unheard"
        await _until(lambda: feed.live and feed._connection is not deaf, 10, "a new listening connection")
        await post(DETAIL, {"id": gid(deals[0])}, team.rep.token)
        with counting_queries() as counter:
            body = await post(DETAIL, {"id": gid(deals[0])}, team.rep.token)
        assert counter.count == 0 and body["data"]["opportunity"]["name"] == "unheard"


@postgres_only
async def test_the_bound_holds_for_empty_results_and_ignored_variables(team):
    await _deals(team, 1)
    async with running_app() as (post, fast):
        fast.cache.max_rows = 40
        for i in range(100):  # ids nobody can see: empty results still take room
            await post(DETAIL, {"id": global_id("Opportunity", 10_000 + i)}, team.rep.token)
        assert len(fast.cache._entries) <= 40 and fast.cache.rows <= 40
        before = len(fast.cache._entries)
        await post(LIST, {"first": 5}, team.rep.token)
        grown = len(fast.cache._entries)
        for i in range(50):  # variables the document does not declare are not part of the key
            await post(LIST, {"first": 5, f"junk{i}": "x" * 1000}, team.rep.token)
        assert len(fast.cache._entries) == grown and grown <= before + 1


async def _until(predicate, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
