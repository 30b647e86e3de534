"""Account health: gather the inputs with SQL aggregates, assess them (app.domain.health), store the
score on the account with a snapshot per recomputation, and schedule recomputations.

Recomputations run in the worker: debounced after a change (`request_health_recompute`, one job id
per account), every 10 minutes for accounts whose contracts, opportunities or interactions changed
lately (catches changes made while Redis was down and writers that do not request one), and
nightly for every account. A recomputation is owed while an account changed after its latest
snapshot (`request_recompute_changed`): that is what the sweep queues, whatever Redis lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Sequence, cast

from tortoise.functions import Max, Sum
from tortoise.transactions import in_transaction

from app.domain.enums import ContractStatus, StageKind
from app.domain.health import ENGAGEMENT_WINDOW_DAYS, GROWTH_WINDOW_DAYS, AccountHealth, HealthInputs, assess
from app.domain.opportunities import CENT
from app.domain.events import Event
from app.models import Account, AccountHealthSnapshot, Contract, CustomerInteraction, DomainEvent, Opportunity
from app.queries.interactions import engagement_totals
from app.queries.visibility import Scope, account_filter
from app.services.common import get_visible
from app.services.queue import enqueue_debounced

HEALTH_JOB = "recompute_account_health"
DEBOUNCE_SECONDS = 5.0
CHANGED_WINDOW = timedelta(hours=24)
MAX_HISTORY = 100


def _now() -> datetime:
    return datetime.now(timezone.utc)


def health_job_id(account_id: int) -> str:
    return f"health:{account_id}"


async def request_health_recompute(account_id: int, *, delay_seconds: float | None = None) -> bool:
    """Recompute soon. Requests within the delay share one job (same job id); False if Redis is down,
    in which case the 10-minute sweep picks the change up."""
    delay = DEBOUNCE_SECONDS if delay_seconds is None else delay_seconds
    return await enqueue_debounced(HEALTH_JOB, account_id, job_id=health_job_id(account_id),
                                   defer_until=_now() + timedelta(seconds=delay))


# Inputs ------------------------------------------------------------------------------------


def _money(raw) -> Decimal:
    """SQL SUM comes back as Decimal (PostgreSQL) or a number (SQLite): Decimal to the cent either way."""
    if raw is None:
        return Decimal("0.00")
    return Decimal(str(raw)).quantize(CENT)


async def _sum(qs, column: str) -> Decimal:
    row = await qs.annotate(total=Sum(column)).first().values("total")
    return _money(row["total"] if row else None)


async def _business(account_ids: list[int], after: date, until: date) -> Decimal:
    """Won opportunities closed, plus contracts (not drafts) started, in (after, until]."""
    won = Opportunity.filter(account_id__in=account_ids, stage__kind=StageKind.WON,
                             actual_close_date__gt=after, actual_close_date__lte=until)
    contracts = Contract.filter(account_id__in=account_ids, start_date__gt=after, start_date__lte=until).exclude(
        status=ContractStatus.DRAFT)
    return await _sum(won, "value") + await _sum(contracts, "value")


async def gather_inputs(account_ids: Sequence[int], now: datetime) -> HealthInputs:
    ids = list(account_ids)
    today = now.date()
    accounts = Account.filter(id__in=ids)
    # Tortoise types values_list() as tuples whatever `flat` says; first() + flat=True gives the value or None.
    last_activity = cast("datetime | None", await accounts.filter(last_activity_date__isnull=False).order_by(
        "-last_activity_date").first().values_list("last_activity_date", flat=True))
    renewal = cast("date | None", await accounts.filter(renewal_date__gte=today).order_by("renewal_date").first()
                   .values_list("renewal_date", flat=True))
    active_value = await _sum(Contract.filter(account_id__in=ids, status=ContractStatus.ACTIVE), "value")
    engagement = await engagement_totals(
        ids, now - timedelta(days=ENGAGEMENT_WINDOW_DAYS), now + timedelta(microseconds=1))
    year = timedelta(days=GROWTH_WINDOW_DAYS)
    return HealthInputs(
        now=now,
        last_activity_at=last_activity,
        active_contract_value=active_value,
        engagement=engagement,
        business_last_12_months=await _business(ids, today - year, today),
        business_previous_12_months=await _business(ids, today - 2 * year, today - year),
        renewal_date=renewal,
    )


async def subsidiary_ids(account_id: int) -> list[int]:
    """Every account below this one (subsidiaries, their locations' accounts, …), one query per level."""
    found: list[int] = []
    seen = {account_id}
    frontier = [account_id]
    while frontier:
        children = cast("list[int]", await Account.filter(parent_id__in=frontier).order_by("id").values_list("id", flat=True))
        frontier = [c for c in children if c not in seen]
        seen.update(frontier)
        found.extend(frontier)
    return found


# Reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthReport:
    account_id: int
    account_ids: list[int]  # the accounts assessed together (the account first)
    health: AccountHealth
    computed_at: datetime


async def account_health(scope: Scope, account_id: int, *, include_subsidiaries: bool = False,
                         now: datetime | None = None) -> HealthReport:
    """Computed now from the current data. The roll-up treats the account and every subsidiary the
    caller may see as one customer: latest activity, summed contracts and business, all interactions."""
    now = now or _now()
    account = await get_visible(Account, account_id, account_filter(scope), "account_id", "account")
    ids = [account.id]
    if include_subsidiaries:
        below = await subsidiary_ids(account.id)
        if below:
            ids += cast("list[int]", await Account.filter(account_filter(scope), id__in=below).order_by("id")
                        .values_list("id", flat=True))
    return HealthReport(account.id, ids, assess(await gather_inputs(ids, now)), now)


async def health_history(scope: Scope, account_id: int, first: int = 30) -> list[AccountHealthSnapshot]:
    """The stored snapshots of the account itself, newest first."""
    account = await get_visible(Account, account_id, account_filter(scope), "account_id", "account")
    limit = max(0, min(first, MAX_HISTORY))
    return await AccountHealthSnapshot.filter(account_id=account.id).order_by("-computed_at", "-id").limit(limit)


# Writing (worker) --------------------------------------------------------------------------


def factors_json(health: AccountHealth) -> list[dict]:
    return [{"name": f.name, "score": f.score, "impact": f.impact.value, "detail": f.detail} for f in health.factors]


async def recompute_account_health(account_id: int, now: datetime | None = None) -> AccountHealth | None:
    """Store the account's own score and a snapshot; None when the account is gone.

    The snapshot is stamped with the time the inputs were read, so a change landing while this
    runs is newer than the snapshot and the sweep will see it."""
    now = now or _now()
    if not await Account.exists(id=account_id):
        return None
    health = assess(await gather_inputs([account_id], now))
    async with in_transaction():
        await Account.filter(id=account_id).update(health_score=health.score)
        await AccountHealthSnapshot.create(account_id=account_id, score=health.score,
                                           risk_level=health.risk_level.value, factors=factors_json(health),
                                           computed_at=now)
    return health


async def request_recompute_for(account_ids: Sequence[int]) -> int:
    """Queue a recomputation (now) for each account; how many were queued."""
    queued = 0
    for account_id in account_ids:
        queued += await request_health_recompute(account_id, delay_seconds=0)
    return queued


async def request_recompute_all() -> int:
    """Nightly: every account."""
    return await request_recompute_for(cast("list[int]", await Account.all().order_by("id").values_list("id", flat=True)))


def _aware(value: datetime | str) -> datetime:
    """MAX() of a datetime column: a datetime on PostgreSQL, ISO text on SQLite."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


async def _latest(model, column: str, since: datetime, account_ids: Sequence[int] | None = None) -> dict[int, datetime]:
    query = model.filter(**{f"{column}__gte": since}) if account_ids is None else model.filter(account_id__in=account_ids)
    rows = await query.annotate(latest=Max(column)).group_by("account_id").values_list("account_id", "latest")
    return {account_id: _aware(latest) for account_id, latest in rows if account_id is not None and latest}


async def request_recompute_changed(now: datetime | None = None, window: timedelta = CHANGED_WINDOW) -> int:
    """Accounts whose contracts or opportunities were updated, or interactions recorded, within the
    window and after their latest health snapshot: the database decides which recomputations are
    still owed, so a debounced job lost with Redis is made up by this sweep."""
    since = (now or _now()) - window
    changed: dict[int, datetime] = {}
    for model, column in ((Contract, "updated_at"), (Opportunity, "updated_at"), (CustomerInteraction, "created_at")):
        for account_id, latest in (await _latest(model, column, since)).items():
            changed[account_id] = max(latest, changed.get(account_id, latest))
    if not changed:
        return 0
    computed = await _latest(AccountHealthSnapshot, "computed_at", since, list(changed))
    owed = [a for a, latest in changed.items() if a not in computed or computed[a] < latest]
    return await request_recompute_for(sorted(owed))


async def on_domain_event(record: DomainEvent, event: Event) -> bool:
    """A reaction to every change of an account's opportunities: recompute its health (debounced)."""
    if record.account_id is None:
        return False
    return await request_health_recompute(record.account_id)
