"""Test infrastructure: a dedicated database per run (PostgreSQL by default, SQLite on request),
migrated with the project's own migrations, emptied before every test, dropped at the end."""

from __future__ import annotations

import logging
import os

# Before any app import: settings are read once.
TEST_BACKEND = os.environ.get("CRM_TEST_DATABASE", "postgres")
POSTGRES_ADMIN_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_SERVER = os.environ.get("CRM_TEST_REDIS_SERVER", "redis://127.0.0.1:6379")


def _claim_redis_db() -> str:
    """A Redis database of our own for this run, so parallel runs never see each other's jobs."""
    import redis

    admin = redis.Redis.from_url(f"{REDIS_SERVER}/0")
    for db in range(1, 16):
        if admin.set(f"crm-test:redis-db:{db}", os.getpid(), nx=True, ex=3600):
            redis.Redis.from_url(f"{REDIS_SERVER}/{db}").flushdb()
            import atexit

            atexit.register(admin.delete, f"crm-test:redis-db:{db}")
            return f"{REDIS_SERVER}/{db}"
    raise RuntimeError("no free Redis database for tests (all 15 claimed)")


TEST_REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL") or _claim_redis_db()

os.environ.setdefault("ENVIRONMENT", "test")
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-for-hs256")
os.environ["REDIS_URL"] = TEST_REDIS_URL
# Pub/sub channels span Redis databases: a channel of this run's own.
os.environ["EVENTS_CHANNEL"] = f"crm:events:test:{TEST_REDIS_URL.rsplit('/', 1)[-1]}"

import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate

from app.db import tortoise_config
from app.domain.enums import Role
from app.domain.global_ids import global_id
from app.models import User
from app.services.auth import hash_password, issue_token


def pytest_collection_modifyitems(config, items):
    if TEST_BACKEND != "postgres":
        skip = pytest.mark.skip(reason="needs PostgreSQL row locks under real concurrency")
        for item in items:
            if "postgres_only" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
async def database_url():
    if TEST_BACKEND == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="crm-test-"))
        yield f"sqlite://{tmp / 'test.sqlite3'}"
        return
    name = f"crm_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgres://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session", autouse=True)
async def orm(database_url):
    config = tortoise_config(database_url)
    await migrate(config=config)
    await Tortoise.close_connections()
    await Tortoise.init(config=config, _enable_global_fallback=True)
    yield config
    await Tortoise.close_connections()


def _tables() -> list[str]:
    from tortoise import Tortoise as T

    names = [model._meta.db_table for model in T.apps["models"].values()]
    names.append("opportunity_competitors")
    return names


@pytest.fixture(autouse=True)
async def clean_database(orm):
    import redis

    # Ids restart with every test, so must deterministic job ids: empty this run's own Redis db too.
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    from app.services import queue

    await queue.close_pool()  # and forget what this process knew of the emptied queue
    conn = connections.get("default")
    if TEST_BACKEND == "postgres":
        # search_words: the search lexicon (migration 0015), no model of its own; SQLite's FTS tables follow
        # their tables through triggers on DELETE.
        await conn.execute_script(f"TRUNCATE {', '.join(_tables())}, search_words RESTART IDENTITY CASCADE")
    else:
        await conn.execute_script("PRAGMA foreign_keys = OFF;" + "".join(f"DELETE FROM {t};" for t in _tables())
                                  + "PRAGMA foreign_keys = ON;")
    yield


@dataclass
class Actor:
    user: User
    token: str

    @property
    def id(self) -> str:
        """The user's global id, as the API names them."""
        return global_id("User", self.user.id)


async def make_user(email: str, role: Role, manager: User | None = None, password: str = "correct-horse-1") -> Actor:
    user = await User.create(email=email, name=email.split("@")[0].title(), role=role,
                             password_hash=hash_password(password), manager=manager)
    return Actor(user, issue_token(user)[0])


@dataclass
class Team:
    admin: Actor
    manager: Actor
    rep: Actor
    other_rep: Actor
    other_manager: Actor


@pytest.fixture
async def team() -> Team:
    admin = await make_user("admin@pantry.test", Role.ADMIN)
    manager = await make_user("manager@pantry.test", Role.MANAGER)
    other_manager = await make_user("other.manager@pantry.test", Role.MANAGER)
    rep = await make_user("rep@pantry.test", Role.REP, manager.user)
    other_rep = await make_user("other.rep@pantry.test", Role.REP, other_manager.user)
    return Team(admin, manager, rep, other_rep, other_manager)


@pytest.fixture(scope="session")
def app(orm):
    from app.api.app import create_app

    return create_app(manage_database=False)


class GraphQLClient:
    def __init__(self, client: httpx.AsyncClient):
        self.http = client

    async def raw(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        return response.json()

    async def __call__(self, query: str, variables: dict | None = None, *, as_: Actor | None = None) -> dict:
        body = await self.raw(query, variables, as_.token if as_ else None)
        assert "errors" not in body, body.get("errors")
        return body["data"]


@pytest.fixture
async def gql(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield GraphQLClient(client)


class QueryCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.queries: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            self.queries.append(message)


@pytest.fixture
def count_queries():
    logger = logging.getLogger("tortoise.db_client")
    handler = QueryCounter()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(previous)
