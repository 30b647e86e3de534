"""The baseline: the same rows, the same JSON shape, straight from asyncpg and orjson (no GraphQL, no ORM).

    uvicorn bench.baseline_app:create_app --factory

POST /opportunities {"variables": {"first", "after"}}, POST /opportunity {"variables": {"id"}} and
POST /advance {"variables": {"id", "stage"}} (one raw SQL transaction plus the same outbox dispatch).
It authenticates the bearer token like the API (JWT + user row). Every response carries
`x-queries`, the number of SQL statements it ran."""

from __future__ import annotations

import base64
import json
import os
from contextlib import asynccontextmanager
from datetime import datetime, timezone

import asyncpg

from app.db import _release_as_is  # the API's pool setting: no RESET ALL round trip per release
import jwt
import orjson
from starlette.applications import Starlette

from app.domain.enums import ProductUnit, StageKind
from app.domain.global_ids import decode_global_id
from app.domain.global_ids import global_id as gid
from app.domain.pipeline import StageSpec, is_stale
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

MAX_PAGE = 100
# GraphQL enum values are the Python member names; they equal value.upper() except for units (lb → POUND).
UNIT_NAMES = {u.value: u.name for u in ProductUnit}


class Db:
    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool


def _cursor(created_at: datetime, pk: int) -> str:
    # Written as the API writes cursors (app/queries/pagination.py: orjson), so both answers are equal.
    return base64.urlsafe_b64encode(orjson.dumps([created_at, pk])).decode()


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


class Counter:
    """The connection, counting the statements run through fetch / fetchrow / fetchval / execute."""

    def __init__(self, conn):
        self.conn, self.n = conn, 0

    def __getattr__(self, name: str):
        method = getattr(self.conn, name)

        async def counted(*args):
            self.n += 1
            return await method(*args)

        return counted


async def authenticate(db: Counter, request: Request) -> int | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        payload = jwt.decode(token, os.environ["SECRET_KEY"], algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        return None
    return await db.fetchval("SELECT id FROM users WHERE id = $1 AND is_active", int(payload["sub"]))


def _reply(body: dict, queries: int, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers={"x-queries": str(queries)})


async def opportunities_page(db: Counter, first: int, after: str | None, count: bool = True) -> dict:
    total = await db.fetchval("SELECT count(*) FROM opportunities") if count else None
    cols = "id, name, value, probability, stage_id, expected_close_date, account_id, assigned_to_id, created_at"
    if after:
        raw, pk = json.loads(base64.urlsafe_b64decode(after.encode()))
        rows = await db.fetch(
            f"SELECT {cols} FROM opportunities WHERE (created_at, id) < ($1, $2) ORDER BY created_at DESC, id DESC "
            "LIMIT $3", datetime.fromisoformat(raw), int(pk), first + 1)
    else:
        rows = await db.fetch(f"SELECT {cols} FROM opportunities ORDER BY created_at DESC, id DESC LIMIT $1", first + 1)
    has_next, rows = len(rows) > first, rows[:first]
    ids = [r["id"] for r in rows]
    accounts = {r["id"]: r for r in await db.fetch(
        "SELECT id, name, industry FROM accounts WHERE id = ANY($1)", list({r["account_id"] for r in rows}))}
    users = {r["id"]: r for r in await db.fetch(
        "SELECT id, name, email FROM users WHERE id = ANY($1)", list({r["assigned_to_id"] for r in rows}))}
    stages = {r["id"]: r["key"] for r in await db.fetch(
        "SELECT id, key FROM pipeline_stages WHERE id = ANY($1)", list({r["stage_id"] for r in rows}))}
    products: dict[int, list] = {i: [] for i in ids}
    for r in await db.fetch(
            "SELECT l.opportunity_id, l.quantity, l.unit_price, l.total_price, p.sku, p.name FROM opportunity_products l "
            "JOIN products p ON p.id = l.product_id WHERE l.opportunity_id = ANY($1) ORDER BY l.id", ids):
        products[r["opportunity_id"]].append({"quantity": str(r["quantity"]), "unitPrice": str(r["unit_price"]),
                                              "totalPrice": str(r["total_price"]),
                                              "product": {"sku": r["sku"], "name": r["name"]}})
    activities: dict[int, list] = {i: [] for i in ids}
    for r in await db.fetch(
            "SELECT opportunity_id, type, subject, completed_at FROM opportunity_activities "
            "WHERE opportunity_id = ANY($1) ORDER BY created_at DESC, id DESC", ids):
        activities[r["opportunity_id"]].append({"type": r["type"].upper(), "subject": r["subject"],
                                                "completedAt": _iso(r["completed_at"])})
    edges = []
    for r in rows:
        a, u = accounts[r["account_id"]], users[r["assigned_to_id"]]
        cursor = _cursor(r["created_at"], r["id"])
        edges.append({"cursor": cursor, "node": {
            "id": gid("Opportunity", r["id"]), "name": r["name"], "value": str(r["value"]), "probability": r["probability"],
            "stage": stages[r["stage_id"]], "expectedCloseDate": r["expected_close_date"].isoformat(),
            "account": {"id": gid("Account", a["id"]), "name": a["name"], "industry": a["industry"].upper()},
            "assignedTo": {"id": gid("User", u["id"]), "name": u["name"], "email": u["email"]},
            "products": products[r["id"]], "activities": activities[r["id"]]}})
    page = {"pageInfo": {"hasNextPage": has_next, "endCursor": edges[-1]["cursor"] if edges else None}, "edges": edges}
    return {"data": {"opportunities": {"totalCount": total, **page} if count else page}}


async def opportunity_detail(db: Counter, pk: int) -> dict:
    o = await db.fetchrow("SELECT * FROM opportunities WHERE id = $1", pk)
    if o is None:
        return {"data": {"opportunity": None}}
    stage = await db.fetchrow("SELECT * FROM pipeline_stages WHERE id = $1", o["stage_id"])
    pipeline = await db.fetchrow("SELECT id, name FROM pipelines WHERE id = $1", o["pipeline_id"])
    acc = await db.fetchrow("SELECT a.id, a.name, a.industry, a.size, a.tier, a.status, u.id AS uid, u.name AS uname "
                            "FROM accounts a JOIN users u ON u.id = a.assigned_to_id WHERE a.id = $1", o["account_id"])
    contact = await db.fetchrow("SELECT id, first_name, last_name, email FROM contacts WHERE id = $1", o["contact_id"])
    owner = await db.fetchrow("SELECT id, name, email, role FROM users WHERE id = $1", o["assigned_to_id"])
    lines = await db.fetch("SELECT l.*, p.sku, p.name, p.category, p.unit FROM opportunity_products l JOIN products p "
                           "ON p.id = l.product_id WHERE l.opportunity_id = $1 ORDER BY l.id", pk)
    acts = await db.fetch("SELECT a.*, u.name AS uname FROM opportunity_activities a LEFT JOIN users u ON "
                          "u.id = a.created_by_id WHERE a.opportunity_id = $1 ORDER BY a.created_at DESC, a.id DESC", pk)
    docs = await db.fetch("SELECT id, name, type FROM opportunity_documents WHERE opportunity_id = $1 ORDER BY id", pk)
    history = await db.fetch(
        "SELECT t.*, f.key AS fkey, s.key AS tkey, u.name AS uname FROM stage_transitions t "
        "LEFT JOIN pipeline_stages f ON f.id = t.from_stage_id JOIN pipeline_stages s ON s.id = t.to_stage_id "
        "LEFT JOIN users u ON u.id = t.by_id WHERE t.opportunity_id = $1 ORDER BY t.at, t.id", pk)
    now = datetime.now(timezone.utc)
    meaningful = [a for a in acts if a["type"] != "system"]
    spec = StageSpec(id=stage["id"], key=stage["key"], name=stage["name"], order=stage["order"],
                     kind=StageKind(stage["kind"]), probability=stage["probability"],
                     expected_duration_days=stage["expected_duration_days"],
                     forecast_category=stage["forecast_category"])
    stale = is_stale(spec, o["stage_entered_at"], max((a["completed_at"] for a in meaningful if a["completed_at"]),
                                                      default=None),
                     any(a["scheduled_at"] and a["scheduled_at"] > now and a["completed_at"] is None
                         for a in meaningful), now)
    money = lambda v: None if v is None else str(v)  # noqa: E731
    return {"data": {"opportunity": {
        "id": gid("Opportunity", o["id"]), "name": o["name"], "value": str(o["value"]), "budget": money(o["budget"]),
        "probability": o["probability"], "probabilityOverridden": o["probability_overridden"], "stage": stage["key"],
        "expectedCloseDate": _iso(o["expected_close_date"]), "actualCloseDate": _iso(o["actual_close_date"]),
        "source": o["source"].upper(), "nextStep": o["next_step"], "description": o["description"],
        "forecastCategory": o["forecast_category"].upper(), "version": o["version"],
        "stageEnteredAt": _iso(o["stage_entered_at"]), "daysInStage": (now - o["stage_entered_at"]).days,
        "isStale": stale, "createdAt": _iso(o["created_at"]), "updatedAt": _iso(o["updated_at"]),
        "pipelineStage": {"id": gid("PipelineStage", stage["id"]), "key": stage["key"], "name": stage["name"], "order": stage["order"],
                          "probability": stage["probability"]},
        "pipeline": {"id": gid("Pipeline", pipeline["id"]), "name": pipeline["name"]},
        "account": {"id": gid("Account", acc["id"]), "name": acc["name"], "industry": acc["industry"].upper(),
                    "size": acc["size"].upper(), "tier": acc["tier"].upper(), "status": acc["status"].upper(),
                    "assignedTo": {"id": gid("User", acc["uid"]), "name": acc["uname"]}},
        "contact": None if contact is None else {"id": gid("Contact", contact["id"]), "name": f"{contact['first_name']} "
                                                 f"{contact['last_name']}", "email": contact["email"]},
        "assignedTo": {"id": gid("User", owner["id"]), "name": owner["name"], "email": owner["email"],
                       "role": owner["role"].upper()},
        "products": [{"id": gid("OpportunityProduct", r["id"]), "quantity": str(r["quantity"]), "unitPrice": str(r["unit_price"]),
                      "discount": str(r["discount"]), "totalPrice": str(r["total_price"]),
                      "product": {"id": gid("Product", r["product_id"]), "sku": r["sku"], "name": r["name"],
                                  "category": r["category"].upper(), "unit": UNIT_NAMES[r["unit"]]}} for r in lines],
        "activities": [{"id": gid("OpportunityActivity", a["id"]), "type": a["type"].upper(), "subject": a["subject"],
                        "outcome": a["outcome"].upper() if a["outcome"] else None,
                        "scheduledAt": _iso(a["scheduled_at"]), "completedAt": _iso(a["completed_at"]),
                        "createdBy": None if a["created_by_id"] is None else {"id": gid("User", a["created_by_id"]),
                                                                              "name": a["uname"]}} for a in acts],
        "documents": [{"id": gid("OpportunityDocument", d["id"]), "name": d["name"], "type": d["type"].upper()} for d in docs],
        "stageHistory": [{"id": gid("StageTransition", t["id"]), "at": _iso(t["at"]), "source": t["source"].upper(),
                          "amountBefore": money(t["amount_before"]), "amountAfter": str(t["amount_after"]),
                          "probabilityBefore": t["probability_before"], "probabilityAfter": t["probability_after"],
                          "fromStage": {"key": t["fkey"]} if t["fkey"] else None, "toStage": {"key": t["tkey"]},
                          "by": None if t["by_id"] is None else {"id": gid("User", t["by_id"]), "name": t["uname"]}}
                         for t in history]}}}


async def advance(db: Counter, user_id: int, pk: int, stage_key: str, arq_pool, channel: str) -> dict:
    """The stage move as one raw transaction: lock, gate facts, compare-and-set, history, activity, outbox."""
    async with db.conn.transaction():
        o = await db.fetchrow("SELECT * FROM opportunities WHERE id = $1 FOR UPDATE", pk)
        stages = await db.fetch('SELECT * FROM pipeline_stages WHERE pipeline_id = $1 ORDER BY "order", id',
                                o["pipeline_id"])
        current = next(s for s in stages if s["id"] == o["stage_id"])
        target = next(s for s in stages if s["key"] == stage_key)
        await db.fetch("SELECT DISTINCT type FROM opportunity_activities WHERE opportunity_id = $1 "
                       "AND completed_at IS NOT NULL", pk)
        await db.fetchval("SELECT count(*) FROM opportunity_products WHERE opportunity_id = $1", pk)
        now = datetime.now(timezone.utc)
        await db.execute(
            "UPDATE opportunities SET stage_id = $1, stage_entered_at = $2, probability = $3, forecast_category = $4, "
            "version = version + 1, updated_at = $2, lost_reason = NULL WHERE id = $5 AND version = $6",
            target["id"], now, target["probability"], target["forecast_category"], pk, o["version"])
        transition = await db.fetchval(
            "INSERT INTO stage_transitions (opportunity_id, from_stage_id, to_stage_id, at, by_id, source, "
            "amount_before, amount_after, probability_before, probability_after) VALUES ($1, $2, $3, $4, $5, 'api', "
            "$6, $6, $7, $8) RETURNING id", pk, current["id"], target["id"], now, user_id, o["value"],
            o["probability"], target["probability"])
        await db.execute(
            "INSERT INTO opportunity_activities (opportunity_id, type, subject, description, next_steps, completed_at, "
            "created_by_id, created_at) VALUES ($1, 'system', $2, $3, '', $4, $5, $4)", pk,
            f"Stage changed to {target['name']}", f"Moved from {current['name']} to {target['name']}", now, user_id)
        event_id = await db.fetchval(
            "INSERT INTO domain_events (kind, opportunity_id, account_id, owner_id, actor_id, payload, chain_depth, "
            "created_at) VALUES ('opportunity.stage_changed', $1, $2, $3, $4, $5, 0, $6) RETURNING id", pk,
            o["account_id"], o["assigned_to_id"], user_id,
            json.dumps({"from": current["key"], "to": target["key"], "transition_id": transition,
                        "stage_entered_at": now.isoformat(), "won": False, "lost": False}), now)
    await arq_pool.enqueue_job("process_event", event_id, _job_id=f"event:{event_id}")
    await db.execute("UPDATE domain_events SET dispatched_at = $1 WHERE id = $2 AND dispatched_at IS NULL",
                     datetime.now(timezone.utc), event_id)
    await arq_pool.publish(channel, json.dumps({"id": event_id}))
    return {"data": {"advanceOpportunity": {"opportunity": {"id": gid("Opportunity", pk), "stage": target["key"],
                                                            "version": o["version"] + 1},
                                            "errors": [], "unmetRequirements": []}}}


def create_app(dsn: str | None = None) -> Starlette:
    dsn = (dsn or os.environ["DATABASE_URL"]).split("?", 1)[0].replace("postgres://", "postgresql://", 1)
    state: dict = {}

    @asynccontextmanager
    async def lifespan(app):
        state["pool"] = await asyncpg.create_pool(dsn, min_size=2, max_size=10, reset=_release_as_is)
        try:
            yield
        finally:
            await state["pool"].close()
            if "arq" in state:
                await state["arq"].aclose()

    async def handle(request: Request, work) -> Response:
        variables = orjson.loads(await request.body() or b"{}").get("variables") or {}
        async with state["pool"].acquire() as conn:
            db = Counter(conn)
            user_id = await authenticate(db, request)
            if user_id is None:
                return _reply({"errors": [{"message": "unauthenticated"}]}, db.n, 401)
            body = await work(db, user_id, variables)
            return _reply(body, db.n)

    async def page(request: Request) -> Response:
        return await handle(request, lambda db, _u, v: opportunities_page(
            db, min(int(v.get("first") or 20), MAX_PAGE), v.get("after"), v.get("count", True)))

    async def detail(request: Request) -> Response:
        return await handle(request, lambda db, _u, v: opportunity_detail(db, decode_global_id(v["id"], "Opportunity")))

    async def move(request: Request) -> Response:
        if "arq" not in state:
            from arq import create_pool

            from app.services.redis import arq_redis_settings

            state["arq"] = await create_pool(arq_redis_settings())
        channel = os.environ.get("EVENTS_CHANNEL", "crm:events")
        return await handle(request, lambda db, u, v: advance(db, u, decode_global_id(v["id"], "Opportunity"), v["stage"], state["arq"], channel))

    return Starlette(routes=[Route("/opportunities", page, methods=["POST"]),
                             Route("/opportunity", detail, methods=["POST"]),
                             Route("/advance", move, methods=["POST"])],
                     lifespan=lifespan)
