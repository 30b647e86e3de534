"""Stage gates: what an opportunity needs to enter or leave a stage, and how a move is decided.

Stages are data (app.models.PipelineStage); this module sees them as plain StageSpec values.
Each requirement applies at one moment (`when`): `entry` (the default) — what must be true to come
into the stage, checked when a deal moves forward into it or past it and when a deal is created in
it; `exit` — what must be true to leave it forward (the spec's discovery requirements: a completed
call and a budget before a deal moves on). The rule for "can this deal move from A to B?" is
`unmet_requirements` below; for "can a deal start in A?" `unmet_at_creation`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from collections.abc import Callable

from app.domain.enums import ActivityType, ForecastCategory, Role, StageKind
from app.domain.errors import ErrorCode, FieldError
from app.domain.relative_dates import relative_date_error

REQUIREMENT_KINDS = ("activity_completed", "field_populated", "minimum_value", "products_selected")
ENTRY, EXIT = "entry", "exit"
REQUIREMENT_MOMENTS = (ENTRY, EXIT)
# A deal is created with fields only: no activity or product exists yet, so an entry requirement of
# these kinds on the stage where deals start could never be met.
NOT_MET_AT_CREATION = ("activity_completed", "products_selected")
TRIGGERS = ("stage_entered", "stage_duration_exceeded", "stage_requirements_met")

# Fields a `field_populated` requirement may check.
GATE_FIELDS = ("budget", "contact_id", "next_step", "description", "expected_close_date", "value", "lost_reason")
# Fields an `update_field` automation may set (never stage, owner, value or version).
UPDATABLE_FIELDS = ("next_step", "description", "forecast_category", "expected_close_date")
# Fields `advanceOpportunity(data: …)` may set along with the move.
ADVANCE_DATA_FIELDS = ("lost_reason_key", "lost_reason", "budget", "value", "next_step", "description", "expected_close_date",
                       "probability", "contact_id")
USER_ACTIVITY_TYPES = tuple(t.value for t in ActivityType if t is not ActivityType.SYSTEM)
TASK_PRIORITIES = ("low", "medium", "high", "urgent")
EMAIL_RECIPIENTS = ("contact", "owner", "manager")
MAX_AUTOMATION_CHAIN_DEPTH = 3


@dataclass(frozen=True)
class StageSpec:
    id: int
    key: str
    name: str
    order: int
    kind: StageKind
    probability: int
    expected_duration_days: int
    forecast_category: ForecastCategory
    requirements: tuple[dict[str, Any], ...] = ()
    automations: tuple[dict[str, Any], ...] = ()

    @property
    def is_closed(self) -> bool:
        return self.kind is not StageKind.OPEN


@dataclass(frozen=True)
class GateFacts:
    """What the gates look at: the opportunity's fields (after the move's own data) and its work."""

    fields: dict[str, Any]
    value: Decimal
    completed_activity_types: frozenset[str]
    product_count: int


@dataclass(frozen=True)
class UnmetRequirement:
    stage: str
    kind: str
    field: str | None
    activity_types: tuple[str, ...]
    needed: str
    when: str = ENTRY


def _is_populated(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    return True


def requirement_moment(req: dict[str, Any]) -> str:
    return EXIT if req.get("when") == EXIT else ENTRY


def requirement_unmet(stage: StageSpec, req: dict[str, Any], facts: GateFacts) -> UnmetRequirement | None:
    kind, when = req["type"], requirement_moment(req)
    if kind == "activity_completed":
        wanted = req["value"] if isinstance(req["value"], list) else [req["value"]]
        if not facts.completed_activity_types.intersection(wanted):
            return UnmetRequirement(stage.key, kind, None, tuple(wanted),
                                    f"a completed {' or '.join(wanted)} activity", when)
    elif kind == "field_populated":
        if not _is_populated(facts.fields.get(req["field"])):
            return UnmetRequirement(stage.key, kind, req["field"], (), f"{req['field']} must be filled in", when)
    elif kind == "minimum_value":
        minimum = Decimal(str(req["value"]))
        if facts.value < minimum:
            return UnmetRequirement(stage.key, kind, "value", (), f"value of at least {minimum}", when)
    elif kind == "products_selected" and facts.product_count == 0:
        return UnmetRequirement(stage.key, kind, "products", (), "at least one product", when)
    return None


def gates_to_check(stages: list[StageSpec], current: StageSpec, target: StageSpec) -> list[tuple[StageSpec, str]]:
    """The (stage, moment) gates a move passes. Forward: the exit gates of the stage it leaves and of
    every open stage it skips, and the entry gates of every open stage it skips and of the target.
    A deal can be lost from any stage: closing as lost passes only the lost stage's entry gate.
    Backward moves pass no gate."""
    if target.kind is StageKind.LOST:
        return [(target, ENTRY)]
    if target.order <= current.order:
        return []
    passed = [s for s in stages if s.kind is StageKind.OPEN and current.order <= s.order < target.order]
    entered = [s for s in stages if current.order < s.order <= target.order and (s.kind is StageKind.OPEN or s is target)]
    return [(s, EXIT) for s in passed] + [(s, ENTRY) for s in entered]


def _unmet_at(gates: list[tuple[StageSpec, str]], facts: GateFacts) -> list[UnmetRequirement]:
    unmet = []
    for stage, moment in gates:
        for req in stage.requirements:
            if requirement_moment(req) != moment:
                continue
            missing = requirement_unmet(stage, req, facts)
            if missing is not None:
                unmet.append(missing)
    return unmet


def unmet_requirements(stages: list[StageSpec], current: StageSpec, target: StageSpec, facts: GateFacts) -> list[UnmetRequirement]:
    return _unmet_at(gates_to_check(stages, current, target), facts)


def unmet_at_creation(stage: StageSpec, facts: GateFacts) -> list[UnmetRequirement]:
    """A deal created in a stage passes that stage's entry gate (and no other: a deal created in a
    later stage — an import, a deal that started elsewhere — is placed there, not moved)."""
    return _unmet_at([(stage, ENTRY)], facts)


def next_open_stage(stages: list[StageSpec], current: StageSpec) -> StageSpec | None:
    later = [s for s in stages if s.order > current.order and s.kind is StageKind.OPEN]
    return min(later, key=lambda s: s.order) if later else None


@dataclass
class MoveDecision:
    errors: list[FieldError] = field(default_factory=list)
    unmet: list[UnmetRequirement] = field(default_factory=list)
    probability: int = 0
    probability_overridden: bool = False
    actual_close_date: date | None = None

    @property
    def allowed(self) -> bool:
        return not self.errors and not self.unmet


def decide_move(
    *, stages: list[StageSpec], current: StageSpec, target: StageSpec, facts: GateFacts,
    actor_role: Role, actor_is_owners_manager: bool, reopen: bool, current_probability: int,
    probability_overridden: bool, requested_probability: int | None, today: date,
) -> MoveDecision:
    decision = MoveDecision()
    if target.id == current.id:
        decision.errors.append(FieldError("stage", f"the opportunity is already in {target.key}", ErrorCode.INVALID))
        return decision
    if current.is_closed:
        may_reopen = actor_role is Role.ADMIN or actor_is_owners_manager
        if not reopen:
            decision.errors.append(FieldError("reopen", f"the opportunity is {current.key}: moving it needs reopen: true",
                                              ErrorCode.REQUIRED))
        elif not may_reopen:
            decision.errors.append(FieldError("reopen", "only the owner's manager or an admin can reopen a closed opportunity",
                                              ErrorCode.FORBIDDEN))
    if target.kind is StageKind.LOST and not _is_populated(facts.fields.get("lost_reason_key")):
        decision.errors.append(FieldError("data.lost_reason_key", "closing as lost needs a lost reason from lostReasons "
                                          "(lostReason adds free-text detail)", ErrorCode.REQUIRED))
    decision.unmet = unmet_requirements(stages, current, target, facts)

    if target.is_closed:
        # A closed deal's probability is a fact, not an estimate: overrides end here.
        decision.probability = 100 if target.kind is StageKind.WON else 0
        decision.probability_overridden = False
        decision.actual_close_date = today
    elif requested_probability is not None:
        decision.probability, decision.probability_overridden = requested_probability, True
    elif probability_overridden and not current.is_closed:
        decision.probability, decision.probability_overridden = current_probability, True
    else:
        decision.probability = target.probability
    return decision


# Staleness ---------------------------------------------------------------------------


def is_stale(stage: StageSpec, stage_entered_at: datetime, last_activity_at: datetime | None,
             has_future_activity: bool, now: datetime) -> bool:
    """Too long in stage, or no meaningful activity for the stage's expected duration —
    unless something is already scheduled. Closed stages and stages without a duration never rot."""
    if stage.is_closed or stage.expected_duration_days <= 0 or has_future_activity:
        return False
    threshold = timedelta(days=stage.expected_duration_days)
    if now - stage_entered_at > threshold:
        return True
    last_touch = max(filter(None, [last_activity_at, stage_entered_at]))
    return now - last_touch > threshold


# Stage configuration -----------------------------------------------------------------


def _number(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def requirement_errors(reqs: Any, prefix: str = "requirements") -> list[FieldError]:
    if not isinstance(reqs, list):
        return [FieldError(prefix, "must be a list", ErrorCode.INVALID)]
    errors: list[FieldError] = []
    for i, req in enumerate(reqs):
        where = f"{prefix}[{i}]"
        if not isinstance(req, dict) or req.get("type") not in REQUIREMENT_KINDS:
            errors.append(FieldError(f"{where}.type", f"must be one of {', '.join(REQUIREMENT_KINDS)}", ErrorCode.INVALID))
            continue
        kind = req["type"]
        if req.get("when", ENTRY) not in REQUIREMENT_MOMENTS:
            errors.append(FieldError(f"{where}.when", f"must be one of {', '.join(REQUIREMENT_MOMENTS)}",
                                     ErrorCode.INVALID))
        if kind == "activity_completed":
            value = req.get("value")
            values = value if isinstance(value, list) else [value]
            bad = [v for v in values if v not in USER_ACTIVITY_TYPES]
            if bad or not values:
                errors.append(FieldError(f"{where}.value", f"unknown activity type {bad}; known: "
                                         f"{', '.join(USER_ACTIVITY_TYPES)}", ErrorCode.INVALID))
        elif kind == "field_populated" and req.get("field") not in GATE_FIELDS:
            errors.append(FieldError(f"{where}.field", f"unknown field {req.get('field')!r}; known: "
                                     f"{', '.join(GATE_FIELDS)}", ErrorCode.INVALID))
        elif kind == "minimum_value":
            number = _number(req.get("value"))
            if number is None or number < 0:
                errors.append(FieldError(f"{where}.value", "must be a non-negative amount", ErrorCode.INVALID))
    return errors


def creation_stage_errors(stage_key: str, reqs: Any, prefix: str = "requirements") -> list[FieldError]:
    """Deals are created in the pipeline's first open stage: an entry requirement there that no new
    deal can meet (a completed activity, a product) would stop every deal at birth. Such a gate is
    refused; as an exit requirement it says what it means (what must be true to move on)."""
    if not isinstance(reqs, list):
        return []
    return [FieldError(f"{prefix}[{i}].when",
                       f"deals are created in {stage_key}, with no activity or product yet: a {req['type']} "
                       f"requirement can never be met on entry there; make it when: exit", ErrorCode.INVALID)
            for i, req in enumerate(reqs)
            if isinstance(req, dict) and req.get("type") in NOT_MET_AT_CREATION and requirement_moment(req) == ENTRY]


class ActionParameters:
    """The parameter rules of one automation action kind. Its execution is the class of the same
    KIND in app.services.automations (the registry there refuses a kind without both)."""

    KIND: ClassVar[str]

    @classmethod
    def check(cls, params: dict[str, Any], bad: Callable[[str, str], None]) -> None:
        """Report each bad parameter through `bad(name, message)`."""


class CreateTaskParameters(ActionParameters):
    KIND = "create_task"

    @classmethod
    def check(cls, params: dict[str, Any], bad: Callable[[str, str], None]) -> None:
        if not str(params.get("title", "")).strip():
            bad("title", "is required")
        if params.get("priority", "medium") not in TASK_PRIORITIES:
            bad("priority", f"must be one of {', '.join(TASK_PRIORITIES)}")


class SendEmailParameters(ActionParameters):
    KIND = "send_email"

    @classmethod
    def check(cls, params: dict[str, Any], bad: Callable[[str, str], None]) -> None:
        if params.get("to", "contact") not in EMAIL_RECIPIENTS:
            bad("to", f"must be one of {', '.join(EMAIL_RECIPIENTS)}")
        for name in ("subject", "body"):
            if not str(params.get(name, "")).strip():
                bad(name, "is required")


class ScheduleMeetingParameters(ActionParameters):
    KIND = "schedule_meeting"

    @classmethod
    def check(cls, params: dict[str, Any], bad: Callable[[str, str], None]) -> None:
        if "when" not in params:
            bad("when", "is required")
        if "time" in params:
            parts = str(params["time"]).split(":")
            if len(parts) != 2 or not all(p.isdigit() for p in parts) or int(parts[0]) > 23 or int(parts[1]) > 59:
                bad("time", 'must be a local time like "10:00"')
        duration = params.get("durationMinutes", 30)
        if not isinstance(duration, int) or not 5 <= duration <= 480:
            bad("durationMinutes", "must be a whole number of minutes from 5 to 480")


class UpdateFieldParameters(ActionParameters):
    KIND = "update_field"

    @classmethod
    def check(cls, params: dict[str, Any], bad: Callable[[str, str], None]) -> None:
        if params.get("field") not in UPDATABLE_FIELDS:
            bad("field", f"unknown or protected field {params.get('field')!r}; updatable: {', '.join(UPDATABLE_FIELDS)}")
        elif params["field"] == "forecast_category" and params.get("value") not in [c.value for c in ForecastCategory]:
            bad("value", "must be a forecast category")
        elif params["field"] == "expected_close_date" and (msg := relative_date_error(params.get("value"))):
            bad("value", msg)
        elif "value" not in params:
            bad("value", "is required")


class NotifyManagerParameters(ActionParameters):
    KIND = "notify_manager"

    @classmethod
    def check(cls, params: dict[str, Any], bad: Callable[[str, str], None]) -> None:
        if not str(params.get("message", "")).strip():
            bad("message", "is required")


ACTION_PARAMETERS: dict[str, type[ActionParameters]] = {rules.KIND: rules for rules in (
    CreateTaskParameters, SendEmailParameters, ScheduleMeetingParameters, UpdateFieldParameters,
    NotifyManagerParameters,
)}
ACTIONS = tuple(ACTION_PARAMETERS)


def action_errors(action: str, params: dict[str, Any], where: str) -> list[FieldError]:
    """What is wrong with an automation's parameters for its action kind."""
    errors: list[FieldError] = []

    def bad(name: str, message: str) -> None:
        errors.append(FieldError(f"{where}.parameters.{name}", message, ErrorCode.INVALID))

    for date_param in ("dueDate", "when"):
        if date_param in params and (msg := relative_date_error(params[date_param])):
            bad(date_param, msg)
    ACTION_PARAMETERS[action].check(params, bad)
    return errors


def automation_errors(autos: Any, prefix: str = "automations") -> list[FieldError]:
    if not isinstance(autos, list):
        return [FieldError(prefix, "must be a list", ErrorCode.INVALID)]
    errors: list[FieldError] = []
    for i, auto in enumerate(autos):
        where = f"{prefix}[{i}]"
        if not isinstance(auto, dict):
            errors.append(FieldError(where, "must be an object", ErrorCode.INVALID))
            continue
        if auto.get("trigger") not in TRIGGERS:
            errors.append(FieldError(f"{where}.trigger", f"must be one of {', '.join(TRIGGERS)}", ErrorCode.INVALID))
        if auto.get("action") not in ACTIONS:
            errors.append(FieldError(f"{where}.action", f"must be one of {', '.join(ACTIONS)}", ErrorCode.INVALID))
            continue
        params = auto.get("parameters", {})
        if not isinstance(params, dict):
            errors.append(FieldError(f"{where}.parameters", "must be an object", ErrorCode.INVALID))
            continue
        if auto.get("trigger") == "stage_duration_exceeded" and "threshold" in params:
            threshold = params["threshold"]
            if not isinstance(threshold, int) or isinstance(threshold, bool) or not 1 <= threshold <= 365:
                errors.append(FieldError(f"{where}.parameters.threshold", "must be a whole number of days from 1 to 365",
                                         ErrorCode.INVALID))
        errors.extend(action_errors(auto["action"], params, where))
    return errors


def duration_threshold_days(stage: StageSpec, automation: dict[str, Any]) -> int:
    return int(automation.get("parameters", {}).get("threshold") or stage.expected_duration_days or 0)
