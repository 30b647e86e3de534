"""Read side of competitive intelligence: win/loss aggregates and track records, in SQL.

The SQL runs unchanged on PostgreSQL and SQLite; only the placeholders differ ($1 against ?).
Money is summed in whole cents (SQLite stores decimals as text, so summing them directly would go
through floating point) and turned back into Decimal here.

Definitions (README, "Competitive intelligence"): an opportunity the caller can see *faced* a
competitor in a timeframe when the competitor is linked to it and either it closed (won or lost
stage) with actual_close_date inside the timeframe, or it is still open and was created inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Sequence

from tortoise import connections

from app.domain import competition as rules
from app.domain.enums import StageKind
from app.domain.opportunities import CENT
from app.domain.timeframes import Timeframe
from app.models import OpportunityProduct
from app.queries.visibility import Scope

TOP_LOST_REASONS = 3
WON, LOST, OPEN = StageKind.WON.value, StageKind.LOST.value, StageKind.OPEN.value


@dataclass(frozen=True)
class WinLossFilter:
    competitor_ids: Sequence[int] = ()
    assigned_to: Sequence[int] = ()
    account_id: int | None = None
    pipeline_id: int | None = None
    industries: Sequence[str] = ()


@dataclass(frozen=True)
class LostReasonCount:
    reason: str  # the picklist entry's name
    count: int
    key: str = ""  # its key


@dataclass
class CompetitorWinLoss:
    competitor_id: int
    name: str
    faced: int
    open: int
    won: int
    lost: int
    value_won: Decimal
    value_lost: Decimal
    top_lost_reasons: list[LostReasonCount] = field(default_factory=list)

    @property
    def win_rate(self) -> Decimal | None:
        return rules.win_rate(self.won, self.lost)


class _Sql:
    """Collects parameters in order and answers the dialect's placeholder for each."""

    def __init__(self) -> None:
        self.conn = connections.get("default")
        self.postgres = self.conn.capabilities.dialect == "postgres"
        self.params: list[Any] = []

    def param(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}" if self.postgres else "?"

    def in_list(self, values: Iterable[Any]) -> str:
        return ", ".join(self.param(v) for v in values)

    async def rows(self, sql: str) -> list[dict]:
        return await self.conn.execute_query_dict(sql, self.params)


def _cents_to_money(cents: Any) -> Decimal:
    return (Decimal(cents or 0) / 100).quantize(CENT)


def _faced_cte(sql: _Sql, scope: Scope, timeframe: Timeframe, f: WinLossFilter) -> str:
    """One row per (competitor, opportunity) pair faced in the timeframe, with its outcome."""
    conditions = [
        f"((s.kind IN ('{WON}', '{LOST}') AND o.actual_close_date >= {sql.param(timeframe.first_day)}"
        f" AND o.actual_close_date < {sql.param(timeframe.end_date)})"
        f" OR (s.kind = '{OPEN}' AND o.created_at >= {sql.param(timeframe.start)}"
        f" AND o.created_at < {sql.param(timeframe.end)}))"
    ]
    if scope.user_ids is not None:  # not an admin
        conditions.append(f"o.assigned_to_id IN ({sql.in_list(sorted(scope.user_ids))})")
    if f.competitor_ids:
        conditions.append(f"oc.competitor_id IN ({sql.in_list(f.competitor_ids)})")
    if f.assigned_to:
        conditions.append(f"o.assigned_to_id IN ({sql.in_list(f.assigned_to)})")
    if f.account_id is not None:
        conditions.append(f"o.account_id = {sql.param(f.account_id)}")
    if f.pipeline_id is not None:
        conditions.append(f"o.pipeline_id = {sql.param(f.pipeline_id)}")
    if f.industries:
        conditions.append(f"a.industry IN ({sql.in_list(f.industries)})")
    return f"""faced AS (
        SELECT oc.competitor_id AS competitor_id, s.kind AS outcome, o.lost_reason_key AS lost_reason_key,
               CAST(ROUND(o.value * 100) AS BIGINT) AS cents
        FROM opportunity_competitors oc
        JOIN opportunities o ON o.id = oc.opportunities_id
        JOIN pipeline_stages s ON s.id = o.stage_id
        JOIN accounts a ON a.id = o.account_id
        WHERE {' AND '.join(conditions)})"""


async def win_loss(scope: Scope, timeframe: Timeframe, f: WinLossFilter = WinLossFilter()) -> list[CompetitorWinLoss]:
    """Per competitor faced at least once: counts, values and top lost reasons, in two queries.

    Ordered by opportunities faced (most first), then name."""
    totals = _Sql()
    rows = await totals.rows(f"""WITH {_faced_cte(totals, scope, timeframe, f)}
        SELECT c.id AS competitor_id, c.name AS name, COUNT(*) AS faced,
               SUM(CASE WHEN faced.outcome = '{OPEN}' THEN 1 ELSE 0 END) AS open,
               SUM(CASE WHEN faced.outcome = '{WON}' THEN 1 ELSE 0 END) AS won,
               SUM(CASE WHEN faced.outcome = '{LOST}' THEN 1 ELSE 0 END) AS lost,
               SUM(CASE WHEN faced.outcome = '{WON}' THEN faced.cents ELSE 0 END) AS won_cents,
               SUM(CASE WHEN faced.outcome = '{LOST}' THEN faced.cents ELSE 0 END) AS lost_cents
        FROM faced JOIN competitors c ON c.id = faced.competitor_id
        GROUP BY c.id, c.name
        ORDER BY COUNT(*) DESC, c.name, c.id""")
    if not rows:
        return []
    reasons = _Sql()
    reason_rows = await reasons.rows(f"""WITH {_faced_cte(reasons, scope, timeframe, f)},
        reasons AS (
            SELECT faced.competitor_id AS competitor_id, faced.lost_reason_key AS reason_key,
                   MIN(lr.name) AS reason, COUNT(*) AS n
            FROM faced JOIN lost_reasons lr ON lr.key = faced.lost_reason_key
            WHERE faced.outcome = '{LOST}'
            GROUP BY faced.competitor_id, faced.lost_reason_key),
        ranked AS (
            SELECT competitor_id, reason_key, reason, n,
                   ROW_NUMBER() OVER (PARTITION BY competitor_id ORDER BY n DESC, reason_key) AS position
            FROM reasons)
        SELECT competitor_id, reason_key, reason, n FROM ranked WHERE position <= {TOP_LOST_REASONS}
        ORDER BY competitor_id, position""")
    top: dict[int, list[LostReasonCount]] = {}
    for r in reason_rows:
        top.setdefault(r["competitor_id"], []).append(LostReasonCount(r["reason"], int(r["n"]), r["reason_key"]))
    return [
        CompetitorWinLoss(
            competitor_id=r["competitor_id"], name=r["name"], faced=int(r["faced"]), open=int(r["open"]),
            won=int(r["won"]), lost=int(r["lost"]), value_won=_cents_to_money(r["won_cents"]),
            value_lost=_cents_to_money(r["lost_cents"]), top_lost_reasons=top.get(r["competitor_id"], []),
        )
        for r in rows
    ]


async def track_records(competitor_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """(won, lost) over every closed opportunity each competitor was on, company-wide, in one query."""
    if not competitor_ids:
        return {}
    sql = _Sql()
    rows = await sql.rows(f"""
        SELECT oc.competitor_id AS competitor_id,
               SUM(CASE WHEN s.kind = '{WON}' THEN 1 ELSE 0 END) AS won,
               SUM(CASE WHEN s.kind = '{LOST}' THEN 1 ELSE 0 END) AS lost
        FROM opportunity_competitors oc
        JOIN opportunities o ON o.id = oc.opportunities_id
        JOIN pipeline_stages s ON s.id = o.stage_id
        WHERE oc.competitor_id IN ({sql.in_list(sorted(set(competitor_ids)))}) AND s.kind IN ('{WON}', '{LOST}')
        GROUP BY oc.competitor_id""")
    return {r["competitor_id"]: (int(r["won"]), int(r["lost"])) for r in rows}


async def deal_product_categories(opportunity_id: int) -> frozenset[str]:
    """The product categories on an opportunity's lines."""
    categories = await OpportunityProduct.filter(opportunity_id=opportunity_id).values_list(
        "product__category", flat=True
    )
    return frozenset(str(getattr(c, "value", c)) for c in categories)
