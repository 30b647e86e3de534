"""The quick-mode checks, runnable in-process (tests/test_bench_quick.py) or against real processes.

`post(query, variables) -> dict` sends a GraphQL request as the bench admin; `baseline(path, variables)`
(optional) asks the baseline app for the same data."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Awaitable, Callable, Iterator, cast

from app.domain.global_ids import global_id
from bench import queries as q
from bench.datagen import ADVANCE_FROM, ADVANCE_TO

Post = Callable[[str, dict], Awaitable[dict]]


class QueryCounter(logging.Handler):
    """Counts SQL statements: at the asyncpg driver on PostgreSQL (so SQL that bypasses the ORM counts
    too), else the statements Tortoise logs (the technique of tests/conftest.py)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.logged = 0
        self.driver = 0
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return self.driver or self.logged

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            self.logged += 1
            if not self.driver:
                self.statements.append(record.getMessage())


@contextmanager
def _driver_counting(counter: QueryCounter) -> Iterator[None]:
    try:
        from asyncpg.connection import Connection
    except ImportError:  # pragma: no cover - SQLite-only installs
        yield
        return
    original_execute, original_plain = Connection._execute, Connection.execute

    async def _execute(self, query, *args, **kwargs):
        counter.driver += 1
        counter.statements.append(str(query))
        return await original_execute(self, query, *args, **kwargs)

    async def execute(self, query, *args, **kwargs):
        # With arguments it goes through _execute, counted there; the pool's reset on release is no query,
        # and the read cache's heartbeat (NOTIFY on its own connection, every 2 s) is no request's.
        if not args and not query.startswith(("SELECT pg_advisory_unlock_all()", "NOTIFY ")):
            counter.driver += 1
            counter.statements.append(query)
        return await original_plain(self, query, *args, **kwargs)

    Connection._execute, Connection.execute = _execute, execute
    try:
        yield
    finally:
        Connection._execute, Connection.execute = original_execute, original_plain


@contextmanager
def counting_queries() -> Iterator[QueryCounter]:
    logger = logging.getLogger("tortoise.db_client")
    handler, previous, propagate = QueryCounter(), logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        with _driver_counting(handler):
            yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        logger.propagate = propagate


def schema_fields() -> tuple[set[str], set[str]]:
    """Names of the Query and Mutation root fields as the schema has them right now."""
    from app.api.schema import schema

    query, mutation = schema._schema.query_type, schema._schema.mutation_type
    assert query is not None and mutation is not None  # the schema has both roots
    return set(query.fields), set(mutation.fields)


def data_of(body: dict) -> dict:
    assert "errors" not in body, body.get("errors")
    return body["data"]


def without_typename(value):
    """A response as it would be without the `__typename` fields Apollo Client adds."""
    if isinstance(value, dict):
        return {k: without_typename(v) for k, v in value.items() if k != "__typename"}
    if isinstance(value, list):
        return [without_typename(v) for v in value]
    return value


async def discovery_ids(limit: int) -> list[int]:
    from app.models import Opportunity

    # Tortoise types values_list() as tuples whatever `flat` says; flat=True gives the ids themselves.
    return cast("list[int]", await Opportunity.filter(stage__key=ADVANCE_FROM).order_by("id").limit(limit)
                .values_list("id", flat=True))


async def queries_per_page(post: Post, first: int) -> int:
    with counting_queries() as counter:
        data_of(await post(q.OPPORTUNITIES_PAGE, {"first": first}))
    return counter.count


async def run_quick_checks(post: Post, run_worker: Callable[[], Awaitable[None]] | None,
                           baseline: Callable[[str, dict], Awaitable[dict]] | None = None, *,
                           account_id: int = 1, log=print) -> dict:
    """Every scenario once, no timing. Returns what it saw; raises AssertionError on a failure."""
    from app.models import Task

    seen: dict = {}
    query_fields, mutation_fields = schema_fields()
    one, hundred = await queries_per_page(post, 1), await queries_per_page(post, 100)
    assert one == hundred, f"SQL queries per request grow with the page size: {one} for 1, {hundred} for 100"
    seen["queries_per_list_request"] = hundred
    page = data_of(await post(q.OPPORTUNITIES_PAGE, {"first": 100}))["opportunities"]
    assert len(page["edges"]) == 100 and page["edges"][0]["node"]["products"], "expected 100 deals with products"
    after = data_of(await post(q.OPPORTUNITIES_PAGE, {"first": 10, "after": page["pageInfo"]["endCursor"]}))
    assert after["opportunities"]["edges"], "the second page is empty"
    first_id = page["edges"][0]["node"]["id"]
    with counting_queries() as counter:
        detail = data_of(await post(q.OPPORTUNITY_DETAIL, {"id": first_id}))["opportunity"]
    assert detail["id"] == first_id and detail["stageHistory"], detail
    seen["queries_per_detail_request"] = counter.count
    # The Apollo-shaped documents: the same data (plus type names), in as many statements.
    with counting_queries() as counter:
        apollo_page = data_of(await post(q.OPPORTUNITIES_PAGE_APOLLO, {"first": 100}))
    assert without_typename(apollo_page) == {"opportunities": page}, "the Apollo-shaped list differs from the plain one"
    assert apollo_page["opportunities"]["edges"][0]["node"]["account"]["__typename"] == "Account"
    assert counter.count == hundred, f"the Apollo-shaped list takes {counter.count} statements, the plain one {hundred}"
    apollo_detail = data_of(await post(q.OPPORTUNITY_DETAIL_APOLLO, {"id": first_id}))["opportunity"]
    assert without_typename(apollo_detail) == detail, "the Apollo-shaped detail differs from the plain one"
    seen["apollo_equal"] = True
    if baseline is not None:
        assert await baseline("/opportunities", {"first": 100}) == {"data": {"opportunities": page}}, \
            "the baseline serves different data than GraphQL for the list page"
        base_detail = (await baseline("/opportunity", {"id": first_id}))["data"]["opportunity"]
        differing = sorted(k for k in detail if detail[k] != base_detail.get(k))
        assert not differing, f"the baseline differs from GraphQL on {differing}"
        seen["baseline_equal"] = True
    opp_id = (await discovery_ids(1))[0]
    moved = data_of(await post(q.ADVANCE_OPPORTUNITY, {"id": global_id("Opportunity", opp_id), "stage": ADVANCE_TO}))["advanceOpportunity"]
    assert not moved["errors"] and moved["opportunity"]["stage"] == ADVANCE_TO, moved
    if run_worker is not None:
        await run_worker()
        assert await Task.exists(opportunity_id=opp_id), "the stage_entered automation created no task"
        seen["automation_task"] = True
    if "recordInteraction" in mutation_fields:
        note = "Chef loved the new brisket samples, wants a standing weekly order"
        recorded = data_of(await post(q.RECORD_INTERACTION, {"input": {
            "accountId": global_id("Account", account_id), "type": "MEETING", "subject": "Tasting", "description": note}}))
        recorded = recorded["recordInteraction"]
        assert not recorded["errors"] and recorded["interaction"]["sentiment"] is not None, recorded
        seen["record_interaction"] = True
    else:
        log("recordInteraction is not in the schema yet: skipped")
    if "pipelineReport" in query_fields:
        report = data_of(await post(q.PIPELINE_REPORT, {"timeframe": "this_year"}))["pipelineReport"]
        assert report["stageDistribution"], report
        forecast = data_of(await post(q.SALES_FORECAST, {"period": "this_quarter"}))["salesForecast"]
        assert forecast["period"], forecast
        seen["pipeline_report"] = True
    else:
        log("pipelineReport is not in the schema yet: skipped")
    if "search" in query_fields:
        seen["search_hits"] = await search_checks(post)
    else:
        log("search is not in the schema yet: skipped")
    return seen


async def search_checks(post: Post) -> dict[str, int]:
    """Every bench search once: each finds something (datagen's names at any size), best first."""
    found = {}
    for label, term in q.SEARCH_TERMS.items():
        hits = data_of(await post(q.SEARCH, {"query": term, "first": 20}))["search"]
        assert hits, f"search {label} ({term!r}) found nothing"
        scores = [h["score"] for h in hits]
        assert scores == sorted(scores, reverse=True), f"search {label}: not best first"
        found[label] = len(hits)
    return found
