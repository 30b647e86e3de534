"""The benchmark's quick mode in-process: data generation, every scenario once, SQL queries per request
constant in the page size, and (PostgreSQL) the baseline serving the same JSON as GraphQL."""

import httpx

from app.models import User
from app.services.auth import issue_token
from bench import datagen
from bench.checks import run_quick_checks
from bench.queries import SEARCH_TERMS
from tests.conftest import TEST_BACKEND
from tests.worker_utils import run_worker_burst


async def test_bench_quick_mode(gql, database_url):
    counts = await datagen.generate(200, log=lambda *_: None)
    assert counts["opportunity_products"] == 600
    await datagen.add_missing_indexes()
    token = issue_token(await User.get(email=datagen.ADMIN_EMAIL))[0]

    async def post(query: str, variables: dict) -> dict:
        return await gql.raw(query, variables, token)

    async def worker() -> None:
        await run_worker_burst()

    if TEST_BACKEND != "postgres":  # the baseline is asyncpg only
        seen = await run_quick_checks(post, worker, None, log=lambda *_: None)
    else:
        from bench.baseline_app import create_app

        app = create_app(database_url)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://baseline") as client:
            async def baseline(path: str, variables: dict) -> dict:
                response = await client.post(path, json={"variables": variables},
                                             headers={"Authorization": f"Bearer {token}"})
                return response.json()

            seen = await run_quick_checks(post, worker, baseline, log=lambda *_: None)
        assert seen["baseline_equal"]
    assert seen["automation_task"] and seen["queries_per_list_request"] > 0
    assert set(seen["search_hits"]) == set(SEARCH_TERMS)  # each bench search found something
