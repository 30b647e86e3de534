"""Moving an opportunity through its pipeline: everything that happens when it changes stage.

`advance_opportunity` decides under a row lock (app.domain.pipeline.decide_move), then in one
transaction appends the StageTransition, logs a system activity and writes the opportunity the one
way every use case does (app.services.opportunity_writes: compare-and-set on its version plus the
StageChanged event); after the commit the event is published to the worker, which runs the
reactions to it (app.services.reactions), the stage's automations among them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tortoise.transactions import in_transaction

from app.domain.enums import ActivityType, ChangeSource, StageKind, TransitionSource
from app.domain.errors import ErrorCode, ValidationFailed
from app.domain.events import OpportunityClosedLost, OpportunityClosedWon, StageChanged
from app.domain.pipeline import ADVANCE_DATA_FIELDS, UnmetRequirement, decide_move
from app.models import Opportunity, OpportunityActivity, StageTransition, User
from app.queries.visibility import Scope, opportunity_filter
from app.services.common import Checks, get_visible, strip_text
from app.services.events import Outbox
from app.services.opportunity_writes import check_opportunity_data, lock_opportunity, save_opportunity
from app.services.lost_reasons import check_lost_reason_key
from app.services.stages import by_id, by_key, gate_facts, stage_specs


@dataclass
class AdvanceResult:
    """The moved (or, for a dry run or unmet gates, unmoved) opportunity and what blocks the move.
    Invalid input is raised as ValidationFailed, never returned here."""

    opportunity: Opportunity | None
    unmet: list[UnmetRequirement] = field(default_factory=list)


async def _check_data(scope: Scope, opportunity: Opportunity, data: dict[str, Any]) -> None:
    checks = Checks()
    unknown = set(data) - set(ADVANCE_DATA_FIELDS)
    for name in sorted(unknown):
        checks.add(f"data.{name}", "not a field a stage move can set", ErrorCode.INVALID)
    strip_text(data, "lost_reason", "next_step")
    checks.money(data, "budget", "value")
    await check_lost_reason_key(checks, "data.lost_reason_key", data.get("lost_reason_key"))
    await check_opportunity_data(checks, scope, data, account_id=opportunity.account_id,
                                 opportunity_id=opportunity.id, prefix="data.")
    checks.raise_if_any()


async def _evaluate(scope: Scope, opportunity: Opportunity, stage_key: str, data: dict, reopen: bool):
    stages = await stage_specs(opportunity.pipeline_id)
    current = by_id(stages, opportunity.stage_id)
    target = by_key(stages, stage_key)
    if target is None:
        raise ValidationFailed.single("stage", f"no stage {stage_key!r} in this pipeline; stages: "
                                      f"{', '.join(s.key for s in stages)}", ErrorCode.INVALID)
    owner = await User.get(id=opportunity.assigned_to_id)
    facts = await gate_facts(opportunity, {k: v for k, v in data.items() if k != "probability"})
    decision = decide_move(
        stages=stages, current=current, target=target, facts=facts, actor_role=scope.role,
        actor_is_owners_manager=owner.manager_id == scope.user_id, reopen=reopen,
        current_probability=opportunity.probability, probability_overridden=opportunity.probability_overridden,
        requested_probability=data.get("probability"), today=datetime.now(timezone.utc).date(),
    )
    return current, target, decision


async def stage_readiness(scope: Scope, opportunity_id: int, stage_key: str) -> list[UnmetRequirement]:
    """What is missing for the move, without moving anything."""
    opportunity = await get_visible(Opportunity, opportunity_id, opportunity_filter(scope), "opportunity_id", "opportunity")
    _, _, decision = await _evaluate(scope, opportunity, stage_key, {}, reopen=True)
    if decision.errors and decision.errors[0].field == "stage":
        raise ValidationFailed(decision.errors)
    return decision.unmet


async def advance_opportunity(
    scope: Scope, opportunity_id: int, stage_key: str, data: dict[str, Any], *,
    expected_version: int | None = None, dry_run: bool = False, reopen: bool = False,
    source: TransitionSource = TransitionSource.API, outbox: Outbox | None = None,
) -> AdvanceResult:
    visible = opportunity_filter(scope)
    await get_visible(Opportunity, opportunity_id, visible, "id", "opportunity")
    outbox = outbox or Outbox()
    async with in_transaction():
        # The whole decision is taken on the locked, current row: two concurrent moves serialise here.
        opportunity = await lock_opportunity(opportunity_id, expected_version)
        await _check_data(scope, opportunity, data)
        current, target, decision = await _evaluate(scope, opportunity, stage_key, data, reopen)
        if decision.errors:
            raise ValidationFailed(decision.errors)
        if not decision.allowed or dry_run:
            return AdvanceResult(opportunity, unmet=decision.unmet)
        now = datetime.now(timezone.utc)
        before_value, before_probability = opportunity.value, opportunity.probability
        changes = {k: v for k, v in data.items() if k != "probability"}
        changes.update(
            stage_id=target.id, stage_entered_at=now, probability=decision.probability,
            probability_overridden=decision.probability_overridden, forecast_category=target.forecast_category,
            actual_close_date=decision.actual_close_date,
        )
        if target.kind is not StageKind.LOST:
            changes.update(lost_reason=None, lost_reason_key=None)  # only a lost deal has a lost reason
        transition = await StageTransition.create(
            opportunity_id=opportunity.id, from_stage_id=current.id, to_stage_id=target.id, at=now,
            by_id=scope.user_id if source is TransitionSource.API else None, source=source,
            amount_before=before_value, amount_after=changes.get("value", before_value),
            probability_before=before_probability, probability_after=decision.probability,
        )
        await OpportunityActivity.create(
            opportunity_id=opportunity.id, type=ActivityType.SYSTEM, subject=f"Stage changed to {target.name}",
            description=f"Moved from {current.name} to {target.name}", completed_at=now,
            created_by_id=scope.user_id if source is TransitionSource.API else None,
        )
        await save_opportunity(opportunity, changes, outbox, StageChanged(
            from_stage=current.key, to_stage=target.key, transition_id=transition.id,
            stage_entered_at=now.isoformat(), won=target.kind is StageKind.WON, lost=target.kind is StageKind.LOST,
        ), actor_id=scope.user_id, now=now, source=ChangeSource(source.value))
        if target.kind in (StageKind.WON, StageKind.LOST):
            # A close is a stage change and a close: two events, so each is delivered under its own name.
            closed = OpportunityClosedWon if target.kind is StageKind.WON else OpportunityClosedLost
            await outbox.record(closed(stage=target.key, transition_id=transition.id), opportunity=opportunity,
                                actor_id=scope.user_id, resource=opportunity)
    await outbox.publish()
    return AdvanceResult(opportunity)
