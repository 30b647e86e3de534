"""One PostgreSQL database per size (crm_bench_10k, …), migrated with the project's migrations,
generated once and reused while its recorded size matches."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg

ADMIN_DSN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
ROOT = Path(__file__).resolve().parent.parent


def label(n: int) -> str:
    return f"{n // 1_000_000}m" if n >= 1_000_000 and n % 1_000_000 == 0 else (
        f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n))


# Another name keeps a worktree's bench databases (and the migrations applied to them) apart from another's.
PREFIX = os.environ.get("BENCH_DATABASE_PREFIX", "crm_bench_")


def database_url(n: int) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgres://", 1) + f"/{PREFIX}{label(n)}"


async def _recorded_size(name: str) -> int | None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return None
    finally:
        await admin.close()
    conn = await asyncpg.connect(ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}")
    try:
        if not await conn.fetchval("SELECT to_regclass('bench_meta')"):
            return None
        return await conn.fetchval("SELECT n_opportunities FROM bench_meta")
    finally:
        await conn.close()


async def ensure_database(n: int, *, fresh: bool = False, log=print) -> str:
    """Create, migrate and fill crm_bench_<size> unless it already holds exactly this size."""
    from tortoise import Tortoise

    from app.db import tortoise_config
    from bench import datagen

    url = database_url(n)
    name = url.rsplit("/", 1)[1]
    def migrate() -> None:
        subprocess.run([str(Path(sys.executable).with_name("crm")), "migrate"], check=True, cwd=ROOT,
                       env={**os.environ, "DATABASE_URL": url}, stdout=subprocess.DEVNULL)

    if not fresh and await _recorded_size(name) == n:
        log(f"reusing {name}")
        migrate()  # migrations added since the data was generated
        return url
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    migrate()
    log(f"generating {n} opportunities into {name}")
    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
    try:
        await datagen.generate(n, log=log)
        await datagen.add_missing_indexes()
    finally:
        await Tortoise.close_connections()
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    await conn.execute("CREATE TABLE bench_meta (n_opportunities int NOT NULL)")
    await conn.execute("INSERT INTO bench_meta VALUES ($1)", n)
    await conn.close()
    return url


if __name__ == "__main__":  # python -m bench.database 100000
    import asyncio

    asyncio.run(ensure_database(int(sys.argv[1])))
