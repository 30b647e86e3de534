"""Reading the event log in commit order, never past a transaction still in flight.

PostgreSQL takes event ids at insert, but transactions commit in another order: "every event after
id N" can skip an event whose transaction commits later. Each event records its transaction id
(`txid`, a column default). Every transaction older than a snapshot's xmin has finished, and every
transaction that starts later gets a newer id, so the events with txid < xmin are final: a reader
hands out only those, ordered by (txid, id). Events of younger transactions wait ("held") until the
older ones finish. SQLite has a single writer: id order is commit order and every event is final.
"Now" is (xmin, 0) plus the snapshot it was taken in: events of transactions that snapshot already saw
committed came before "now" and are skipped, so a reader starting from it gets exactly what commits later.

Remaining risk: a transaction left open anywhere on the PostgreSQL cluster holds back xmin and with it
delivery (never correctness); the cost is latency until it ends.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import cast

from tortoise import connections
from tortoise.expressions import Q, RawSQL
from tortoise.functions import Max

from app.domain.changelog import RETENTION, Position
from app.models import DomainEvent

def _is_postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


async def now_position() -> Position:
    """The horizon: every event before this position is final, every event that is not yet final
    (or not yet written) comes after it. Reading from it yields what commits from now on."""
    now = datetime.now(timezone.utc)
    if _is_postgres():
        rows = await connections.get("default").execute_query_dict(
            "SELECT pg_current_snapshot()::text AS snapshot, pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin")
        return Position(int(rows[0]["xmin"]), 0, now, rows[0]["snapshot"])
    # Tortoise types values_list() as tuples whatever `flat` says; flat=True gives the values themselves.
    last = cast("list[int | None]", await DomainEvent.annotate(last=Max("id")).values_list("last", flat=True))
    return Position(0, (last[0] if last else None) or 0, now)


def position_of(event: DomainEvent) -> Position:
    """The event's position; read_after sets it with the reader's "now" snapshot carried along."""
    return getattr(event, "position", None) or Position(event.txid, event.id, event.created_at)


def _after(position: Position) -> Q:
    return Q(txid__gt=position.txid) | Q(txid=position.txid, id__gt=position.id)


async def read_after(position: Position | None, kinds: list[str], limit: int) -> tuple[list[DomainEvent], Position, bool]:
    """Up to `limit` final events of these kinds after the position, in log order; the cursor to go on
    from; and whether committed events beyond it are held back by an older transaction in flight."""
    horizon = await now_position()  # first: read later, every event below it is visible
    horizon = Position(horizon.txid, horizon.id, horizon.at)  # a bound, not a new "now"
    since = datetime.now(timezone.utc) - RETENTION
    qs = DomainEvent.filter(kind__in=kinds, created_at__gte=since)
    snapshot = position.snapshot if position is not None else None
    if position is not None:
        qs = qs.filter(_after(position))
    if snapshot is not None:  # validated by decode_cursor (digits, colons and commas only)
        qs = qs.annotate(seen_then=RawSQL(f"pg_visible_in_snapshot(txid::text::xid8, '{snapshot}'::pg_snapshot)")) \
            .filter(seen_then=False)
    final = qs.filter(txid__lt=horizon.txid) if _is_postgres() else qs
    events = await final.order_by("txid", "id").limit(limit)
    for event in events:
        event.position = Position(event.txid, event.id, event.created_at).carrying(snapshot)
    if len(events) == limit:
        return events, events[-1].position, False
    # Drained every final event: go on from the horizon (an idle reader's cursor stays fresh).
    end = max(horizon, events[-1].position) if events else (max(horizon, position) if position else horizon)
    held = _is_postgres() and await qs.filter(txid__gte=horizon.txid).exists()
    return events, end.carrying(snapshot), held


def updated_since_filter(since: datetime) -> Q:
    """`updatedSince` on every list: created or changed at or after the moment (a naive one is UTC).
    A deletion leaves no row to find: deletions reach offline clients through `changes` (tombstones)."""
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    return Q(updated_at__gte=since)
