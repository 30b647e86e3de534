"""`{ me }` latency while two clients hammer `login` (argon2 runs in worker threads, so logins must not
stall other requests). A measurement to read, not a test: python -m bench.login_contention

Starts one uvicorn API process on a fresh PostgreSQL database of its own, measures `{ me }` alone,
then again while two clients send logins back to back, and prints medians."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid

import asyncpg
import httpx

ADMIN_DSN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "correct-horse-1"
LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token errors { code } } }"


async def _measure_me(url: str, token: str, n: int) -> list[float]:
    timings = []
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(n):
            started = time.perf_counter()
            body = (await client.post(url, json={"query": "{ me { email } }"}, headers={"Authorization": f"Bearer {token}"})).json()
            timings.append((time.perf_counter() - started) * 1000)
            assert body["data"]["me"]["email"], body
    return timings


async def _hammer(url: str, email: str, stop: asyncio.Event, counter: list[int]) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        while not stop.is_set():
            body = (await client.post(url, json={"query": LOGIN, "variables": {"e": email, "p": PASSWORD}})).json()
            assert body["data"]["login"]["token"], body
            counter[0] += 1


def _summary(label: str, timings: list[float]) -> str:
    q = statistics.quantiles(timings, n=10)
    return f"{label}: p50 {statistics.median(timings):.1f} ms, p90 {q[8]:.1f} ms, n={len(timings)}"


async def main() -> None:
    name = f"crm_login_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    database_url = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgres://", 1) + f"/{name}"
    from bench.__main__ import claim_redis_db

    env = {**os.environ, "DATABASE_URL": database_url, "ENVIRONMENT": "production",
           "SECRET_KEY": "bench-secret-key-long-enough-for-hs256-signing", "REDIS_URL": claim_redis_db()}
    server = None
    try:
        subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=env, check=True, capture_output=True)
        for email in ("bench.one@kitchenpantry.com", "bench.two@kitchenpantry.com", "reader@kitchenpantry.com"):
            subprocess.run([sys.executable, "-m", "app.cli", "create-user", email, "--role", "rep", "--password", PASSWORD],
                           env=env, check=True, capture_output=True)
        port = 8765
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.api.app:create_app", "--factory", "--port", str(port),
                                   "--log-level", "warning"], env=env)
        url = f"http://127.0.0.1:{port}/graphql"
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        async with httpx.AsyncClient() as client:
            token = (await client.post(url, json={"query": LOGIN, "variables": {"e": "reader@kitchenpantry.com", "p": PASSWORD}})).json()["data"]["login"]["token"]
        await _measure_me(url, token, 20)  # warm-up
        alone = await _measure_me(url, token, 200)
        stop, logins = asyncio.Event(), [0]
        hammers = [asyncio.create_task(_hammer(url, email, stop, logins))
                   for email in ("bench.one@kitchenpantry.com", "bench.two@kitchenpantry.com")]
        await asyncio.sleep(1)
        started, before = time.perf_counter(), logins[0]
        contended = await _measure_me(url, token, 200)
        rate = (logins[0] - before) / (time.perf_counter() - started)
        stop.set()
        await asyncio.gather(*hammers)
        print(_summary("{ me } alone", alone))
        print(_summary("{ me } while two clients hammer login", contended))
        print(f"logins served meanwhile: {rate:.1f}/s")
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        admin = await asyncpg.connect(ADMIN_DSN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
