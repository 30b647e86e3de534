"""A backing service lost mid-request: a GraphQL error with extensions.code SERVICE_UNAVAILABLE and HTTP
503, never a bare text/plain 500. A client's own mistakes log one line, not a traceback."""

from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import TEST_BACKEND
from tests.servers import ApiProcess
from tests.smtp_server import free_port

postgres_only = pytest.mark.skipif(TEST_BACKEND != "postgres", reason="stops a PostgreSQL cluster of its own")


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own (initdb + pg_ctl), so it can be stopped mid-test."""

    def __init__(self) -> None:
        self.bin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1])
        self.dir = Path(tempfile.mkdtemp(prefix="crm-pg-"))
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/crm"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"),
                                     "-w", *args]), check=True, stdout=subprocess.DEVNULL)

    def init(self) -> None:
        subprocess.run(_as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                                     "--no-sync"]), check=True, stdout=subprocess.DEVNULL)
        self.start()

    def start(self) -> None:
        self._pg_ctl("-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._pg_ctl("-m", "immediate", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
async def private_postgres():
    cluster = PrivatePostgres()
    cluster.init()
    try:
        admin = await asyncpg.connect(cluster.admin_url)
        await admin.execute("CREATE DATABASE crm")
        await admin.close()
        env = {**os.environ, "DATABASE_URL": cluster.url, "CRM_PASSWORD": "correct-horse-1"}
        for command in (["migrate"], ["create-user", "rep@harborgrill.com", "--role", "rep"]):
            subprocess.run([sys.executable, "-m", "app.cli", *command], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        yield cluster
    finally:
        cluster.remove()


LOGIN = 'mutation { login(email: "rep@harborgrill.com", password: "correct-horse-1") { token errors { code } } }'
FAST_LIST = "{ opportunities(first: 5) { edges { node { id name } } } }"
STANDARD = "{ me { id email } }"
MUTATION = 'mutation { createAccount(input: {name: "Dockside"}) { account { id } errors { code } } }'


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["SERVICE_UNAVAILABLE"]


@postgres_only
async def test_database_stopped_mid_session_answers_503_on_every_path(private_postgres):
    with ApiProcess(private_postgres.url, READ_CACHE_ENABLED="false") as api:
        async with httpx.AsyncClient(base_url=api.http, timeout=20) as client:
            async def post(query: str, token: str | None = None) -> httpx.Response:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                return await client.post("/graphql", json={"query": query}, headers=headers)

            token = (await post(LOGIN)).json()["data"]["login"]["token"]
            assert (await post(FAST_LIST, token)).json()["data"]["opportunities"]["edges"] == []
            assert (await post(STANDARD, token)).json()["data"]["me"]["email"] == "rep@harborgrill.com"

            private_postgres.stop()
            _assert_unavailable(await post(FAST_LIST, token))  # the compiled read path
            _assert_unavailable(await post(STANDARD, token))  # the token check before execution
            _assert_unavailable(await post(MUTATION, token))
            _assert_unavailable(await post(LOGIN))  # inside execution (a resolver's query)

            private_postgres.start()
            answers = [await post(STANDARD, token) for _ in range(5)]  # the pool reconnects
            assert answers[-1].status_code == 200 and answers[-1].json()["data"]["me"]["email"] == "rep@harborgrill.com"
            assert all(a.status_code in (200, 503) for a in answers)


@postgres_only
async def test_connections_terminated_by_the_server_never_give_a_bare_500(private_postgres):
    with ApiProcess(private_postgres.url, READ_CACHE_ENABLED="false") as api:
        async with httpx.AsyncClient(base_url=api.http, timeout=20) as client:
            token = (await client.post("/graphql", json={"query": LOGIN})).json()["data"]["login"]["token"]
            admin = await asyncpg.connect(private_postgres.admin_url)
            try:
                await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE datname = 'crm' AND pid <> pg_backend_pid()")
            finally:
                await admin.close()
            for query in (STANDARD, FAST_LIST, MUTATION, STANDARD):
                response = await client.post("/graphql", json={"query": query},
                                             headers={"Authorization": f"Bearer {token}"})
                assert response.headers["content-type"].startswith("application/json"), response.text
                if response.status_code != 200:  # a dead pooled connection: reported, then replaced
                    _assert_unavailable(response)


async def test_a_clients_own_mistakes_log_one_line_without_a_traceback(gql, team, caplog):
    with caplog.at_level(logging.INFO):
        await gql.raw("{ accounts { nodes { nmae } } }", token=team.rep.token)  # validation error
        await gql.raw("{ accounts { nodes { id } } }", token="not-a-token")  # authentication failure
        await gql.raw("{ accounts(first: 500) { nodes { id } } }", token=team.rep.token)  # bad argument
        await gql.raw('mutation { updateAccount(id: "999", input: {name: "x"}) { errors { code } } }',
                      token=team.rep.token)  # not found: a payload error
    records = [r for r in caplog.records if r.name.startswith(("app", "strawberry"))]
    assert records, "client errors are logged"
    assert not any(r.exc_info or r.stack_info for r in records), [r.getMessage() for r in records]
    assert all("\n" not in r.getMessage() for r in records)
