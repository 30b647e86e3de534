"""The `crm` command: serve, worker, migrate, create-user, seed-demo, export-schema, register-documents."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from tortoise import Tortoise

from app.db import DatabaseUnreachable, check_database, tortoise_config
from app.domain.enums import Role
from app.domain.errors import ValidationFailed
from app.domain.global_ids import global_id
from app.settings import get_settings

if TYPE_CHECKING:
    from app.runtime import EmbeddedRedis

cli = typer.Typer(help="Kitchen Pantry CRM", no_args_is_help=True, pretty_exceptions_enable=False)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def _require_database() -> None:
    settings = get_settings()
    try:
        asyncio.run(check_database(settings.effective_database_url, settings.connect_timeout_seconds))
    except DatabaseUnreachable as exc:
        _fail(f"{exc}. Check DATABASE_URL, or unset it to use the embedded SQLite database.")


async def _with_orm(coro_factory):
    await Tortoise.init(config=tortoise_config(), _enable_global_fallback=True)
    try:
        return await coro_factory()
    finally:
        await Tortoise.close_connections()


def _resolve_redis() -> EmbeddedRedis | None:
    """A configured REDIS_URL must answer; with none, use the default or start an embedded one."""
    from app.runtime import EmbeddedRedis
    from app.services.redis import ping_redis, redis_url

    settings = get_settings()
    if settings.redis_url:
        if not asyncio.run(ping_redis(settings.redis_url, settings.connect_timeout_seconds)):
            _fail(f"cannot reach Redis at REDIS_URL={settings.redis_url}. Start it, or unset REDIS_URL "
                  "to use a local or embedded Redis.")
        return None
    if asyncio.run(ping_redis(redis_url(), timeout=1.0)):
        return None
    embedded = EmbeddedRedis()
    typer.echo(f"no Redis at {redis_url()}: starting an embedded Redis on {embedded.url}")
    embedded.start()
    return embedded


@cli.command()
def migrate() -> None:
    """Apply the database migrations."""
    from tortoise.migrations.api import migrate as run_migrations

    _require_database()

    async def go():
        try:
            await run_migrations(config=tortoise_config())
        finally:  # an open SQLite connection's thread would keep a failed run from exiting
            await Tortoise.close_connections()

    asyncio.run(go())
    typer.echo("migrations applied")


@cli.command("seed-demo")
def seed_demo(
    seed: int = typer.Option(42, help="Random seed for the demo data."),
    reset: bool = typer.Option(False, "--reset", help="Erase ALL data first (every table), then load the demo data."),
    yes: bool = typer.Option(False, "--yes", help="With --reset: do not ask for confirmation."),
) -> None:
    """Fill an empty database with believable food-service demo data (`--reset`: start over)."""
    from app.seed.demo_data import erase_all_data
    from app.seed.demo_data import seed_demo as run_seed

    _require_database()
    if reset and not yes:
        if not sys.stdin.isatty():
            _fail("--reset erases every record in the database: add --yes to confirm")
        typer.confirm("Erase every record in the database and load the demo data?", abort=True)

    async def run():
        if reset:
            await erase_all_data()
        return await run_seed(seed)

    summary = asyncio.run(_with_orm(run))
    if summary is None:
        typer.echo("the database already has data: demo data not loaded (`crm seed-demo --reset` erases it "
                   "and starts over)")
        return
    counts = ", ".join(f"{v} {k}" for k, v in summary.counts.items())
    typer.echo(f"demo data loaded: {counts}")
    typer.echo(f"demo login: {summary.login_email} / {summary.login_password}")


@cli.command("create-user")
def create_user(
    email: str,
    role: Role = typer.Option(..., help="admin, manager or rep"),
    manager: Optional[str] = typer.Option(None, help="Email of the user's manager."),
    name: Optional[str] = typer.Option(None),
    password: Optional[str] = typer.Option(None, help="Default: $CRM_PASSWORD, else prompted."),
) -> None:
    """Create a user."""
    from app.services.users import create_user as run_create

    password = password or os.environ.get("CRM_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            _fail("no password: pass --password or set CRM_PASSWORD")
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    _require_database()
    try:
        user = asyncio.run(_with_orm(lambda: run_create(email, name, role, password, manager)))
    except ValidationFailed as exc:
        _fail("; ".join(f"{e.field}: {e.message}" for e in exc.errors))
    typer.echo(f"created {user.role.value} {user.email} (id {global_id('User', user.id)})")


@cli.command("register-documents")
def register_documents(
    manifest: Annotated[Path, typer.Argument(help="A persisted-query manifest (Apollo's generate-persisted-query-manifest).")],
    client: Annotated[Optional[str], typer.Option(help="Label of the client build; default the manifest's file name.")] = None,
) -> None:
    """Register a client build's documents: with TRUSTED_DOCUMENTS_ONLY=true only registered documents run."""
    import json

    from graphql import GraphQLError, parse, validate

    from app.api.schema import schema
    from app.domain.documents import parse_manifest
    from app.services.persisted_documents import register_documents as run_register

    try:
        operations = parse_manifest(json.loads(manifest.read_text()))
    except (OSError, ValueError) as exc:
        _fail(f"cannot read {manifest}: {exc}")
    except ValidationFailed as exc:
        _fail(f"{manifest} is not a valid manifest: {exc}")
    # A document this server cannot run is a client/server mismatch: refuse the whole build.
    problems = []
    for op in operations:
        try:
            errors = validate(schema._schema, parse(op.body))
        except GraphQLError as exc:  # a syntax error
            errors = [exc]
        problems += [f"{op.name or op.id}: {getattr(e, 'message', str(e))}" for e in errors]
    if problems:
        _fail("documents that do not validate against this schema (nothing registered):\n  " + "\n  ".join(problems))
    _require_database()
    try:
        added, known = asyncio.run(_with_orm(lambda: run_register(operations, client or manifest.name)))
    except ValidationFailed as exc:
        _fail(f"nothing registered: {exc}")
    typer.echo(f"registered {added} new documents ({known} already registered) from {manifest}")


@cli.command("export-schema")
def export_schema(output: Optional[Path] = typer.Option(None, help="File to write; default stdout.")) -> None:
    """Print the GraphQL SDL (the published contract in schema.graphql)."""
    from app.api.schema import schema

    sdl = schema.as_str() + "\n"
    if output:
        output.write_text(sdl)
    else:
        sys.stdout.write(sdl)


@cli.command()
def worker(
    processes: Optional[int] = typer.Option(
        None, help="worker processes sharing the queue (default WORKER_PROCESSES: one per CPU on PostgreSQL, "
                   "one on SQLite)"),
    crons: bool = typer.Option(True, hidden=True, help="run the cron jobs (the first process only)"),
) -> None:
    """Run the arq worker."""
    from workers.settings import WorkerSettings
    from workers.supervisor import run_supervised

    from app.db import is_postgres
    from app.runtime import spawn_child, stop_child
    from app.services.redis import ping_redis, redis_url

    settings = get_settings()
    _require_database()
    if not asyncio.run(ping_redis(redis_url(), settings.connect_timeout_seconds)):
        _fail(f"cannot reach Redis at {redis_url()}: start it or set REDIS_URL")
    count = processes or settings.worker_processes or (
        os.cpu_count() or 1 if is_postgres(settings.effective_database_url) else 1)
    # arq workers share one queue safely (each job is claimed by one of them): one process per core is
    # how a worker uses the machine. Only this one runs the crons — arq gives a run_at_startup cron a
    # new id in every process, so each would run it. The others die with this one.
    others = [spawn_child([sys.executable, "-m", "app.cli", "worker", "--processes", "1", "--no-crons"],
                          env=dict(os.environ))
              for _ in range(count - 1)]
    try:
        # Supervised: a Redis outage restarts the arq worker with backoff instead of ending the process.
        asyncio.run(run_supervised(WorkerSettings, **({} if crons else {"cron_jobs": []})))
    finally:
        for child in others:
            stop_child(child, timeout=15)


@cli.command()
def serve(
    with_worker: bool = typer.Option(False, "--with-worker", help="Also run the arq worker."),
    host: Optional[str] = typer.Option(None),
    port: Optional[int] = typer.Option(None),
    workers: int = typer.Option(1, help="uvicorn worker processes"),
) -> None:
    """Run the GraphQL API (and optionally the worker)."""
    import uvicorn

    from app.runtime import spawn_child, stop_child

    settings = get_settings()
    _require_database()
    embedded = _resolve_redis()
    worker_proc = None
    try:
        if with_worker:
            worker_proc = spawn_child([sys.executable, "-m", "app.cli", "worker"], env=dict(os.environ))
        host, port = host or settings.host, port or settings.port
        typer.echo(f"GraphQL API on http://{host}:{port}/graphql")
        uvicorn.run("app.api.app:create_app", factory=True, host=host, port=port, workers=workers,
                    log_level="info", lifespan="on")
    finally:
        if worker_proc is not None:
            stop_child(worker_proc)
        if embedded is not None:
            embedded.stop()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
