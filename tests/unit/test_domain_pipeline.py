"""Stage gates, stage moves, staleness and the checks of stage configuration (app.domain.pipeline), pure."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from app.domain import pipeline as p
from app.domain.enums import ForecastCategory, Role, StageKind
from app.domain.errors import ErrorCode
from app.domain.pipeline_defaults import DEFAULT_STAGES

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def _spec(i: int, raw: dict) -> p.StageSpec:
    return p.StageSpec(id=i, key=raw["key"], name=raw["name"], order=raw["order"], kind=StageKind(raw["kind"]),
                       probability=raw["probability"], expected_duration_days=raw["expected_duration_days"],
                       forecast_category=ForecastCategory(raw["forecast_category"]),
                       requirements=tuple(raw["requirements"]), automations=tuple(raw["automations"]))


STAGES = [_spec(i, raw) for i, raw in enumerate(DEFAULT_STAGES, start=1)]
S = {s.key: s for s in STAGES}


def facts(*, activities=(), value="0", products=0, **fields) -> p.GateFacts:
    return p.GateFacts(fields=fields, value=Decimal(value), completed_activity_types=frozenset(activities),
                       product_count=products)


READY_FOR_ALL = facts(activities=("call", "proposal"), value="5000", products=2, budget=Decimal("9000"),
                      lost_reason_key="price")


def move(current: str, target: str, f: p.GateFacts = READY_FOR_ALL, **kw: Any) -> p.MoveDecision:
    args: dict[str, Any] = dict(stages=STAGES, current=S[current], target=S[target], facts=f, actor_role=Role.REP,
                actor_is_owners_manager=False, reopen=False, current_probability=S[current].probability,
                probability_overridden=False, requested_probability=None, today=TODAY)
    return p.decide_move(**(args | kw))


def unmet_kinds(decision: p.MoveDecision) -> list[tuple[str, str]]:
    return [(u.stage, u.kind) for u in decision.unmet]


# Gate evaluation ----------------------------------------------------------------------


@pytest.mark.parametrize("req, ok, missing", [
    ({"type": "activity_completed", "value": "call"}, facts(activities=("call",)), facts(activities=("email",))),
    ({"type": "activity_completed", "value": ["proposal", "presentation"]},
     facts(activities=("presentation",)), facts(activities=("call",))),
    ({"type": "field_populated", "field": "budget"}, facts(budget=Decimal("0")), facts(budget=None)),
    ({"type": "field_populated", "field": "next_step"}, facts(next_step="send samples"), facts(next_step="   ")),
    ({"type": "minimum_value", "value": "1000"}, facts(value="1000"), facts(value="999.99")),
    ({"type": "products_selected"}, facts(products=1), facts(products=0)),
])
def test_each_requirement_kind_is_met_or_names_what_is_missing(req, ok, missing):
    assert p.requirement_unmet(S["proposal"], req, ok) is None
    unmet = p.requirement_unmet(S["proposal"], req, missing)
    assert unmet is not None and (unmet.stage, unmet.kind) == ("proposal", req["type"]) and unmet.needed


def test_an_unmet_activity_lists_the_activity_types_that_would_do():
    unmet = p.requirement_unmet(S["negotiation"], S["negotiation"].requirements[0], facts())
    assert unmet is not None and unmet.activity_types == ("proposal", "presentation")
    assert unmet.needed == "a completed proposal or presentation activity"


def _gates(current: str, target: str) -> list[tuple[str, str]]:
    return [(s.key, moment) for s, moment in p.gates_to_check(STAGES, S[current], S[target])]


def test_a_forward_move_passes_the_exit_gates_it_leaves_and_the_entry_gates_it_reaches():
    assert _gates("discovery", "negotiation") == [
        ("discovery", "exit"), ("qualification", "exit"), ("proposal", "exit"),
        ("qualification", "entry"), ("proposal", "entry"), ("negotiation", "entry")]
    assert _gates("qualification", "closed_won") == [
        ("qualification", "exit"), ("proposal", "exit"), ("negotiation", "exit"),
        ("proposal", "entry"), ("negotiation", "entry"), ("closed_won", "entry")]


def test_moving_back_checks_no_gate_and_losing_checks_only_the_lost_stage():
    assert _gates("negotiation", "discovery") == []
    assert _gates("discovery", "closed_lost") == [("closed_lost", "entry")]


def test_leaving_discovery_needs_a_completed_call_and_a_budget():
    unmet = p.unmet_requirements(STAGES, S["discovery"], S["qualification"], facts())
    assert [(u.stage, u.kind, u.when) for u in unmet] == [
        ("discovery", "activity_completed", "exit"), ("discovery", "field_populated", "exit")]
    ready = facts(activities=("call",), budget=Decimal("500"))
    assert p.unmet_requirements(STAGES, S["discovery"], S["qualification"], ready) == []
    # Lost from discovery: its exit gate does not apply (a deal may be lost before any call).
    assert p.unmet_requirements(STAGES, S["discovery"], S["closed_lost"], facts(lost_reason="price")) == []


def test_a_deal_created_in_a_stage_passes_only_that_stage_s_entry_gate():
    assert p.unmet_at_creation(S["discovery"], facts()) == []  # discovery's gates are exit gates
    unmet = p.unmet_at_creation(S["proposal"], facts(value="500"))
    assert [(u.stage, u.kind) for u in unmet] == [("proposal", "products_selected"), ("proposal", "minimum_value")]


def test_an_entry_gate_no_new_deal_can_meet_is_refused_on_the_creation_stage():
    call_on_entry = [{"type": "activity_completed", "value": "call"}, {"type": "field_populated", "field": "budget"},
                     {"type": "products_selected", "when": "entry"}, {"type": "products_selected", "when": "exit"}]
    errors = p.creation_stage_errors("discovery", call_on_entry)
    assert [(e.field, e.code) for e in errors] == [
        ("requirements[0].when", ErrorCode.INVALID), ("requirements[2].when", ErrorCode.INVALID)]
    assert "make it when: exit" in errors[0].message
    assert p.creation_stage_errors("discovery", DEFAULT_STAGES[0]["requirements"]) == []


def test_a_requirement_moment_is_entry_or_exit():
    errors = p.requirement_errors([{"type": "field_populated", "field": "budget", "when": "during"}])
    assert [(e.field, e.code) for e in errors] == [("requirements[0].when", ErrorCode.INVALID)]


def test_unmet_requirements_collects_every_skipped_gate():
    unmet = p.unmet_requirements(STAGES, S["qualification"], S["closed_won"], facts())
    assert [(u.stage, u.kind) for u in unmet] == [
        ("proposal", "products_selected"), ("proposal", "minimum_value"), ("negotiation", "activity_completed")]


def test_next_open_stage_skips_closed_stages():
    assert p.next_open_stage(STAGES, S["proposal"]) == S["negotiation"]
    assert p.next_open_stage(STAGES, S["negotiation"]) is None


# decide_move --------------------------------------------------------------------------


def test_a_move_with_its_gates_met_is_allowed_at_the_target_probability():
    decision = move("discovery", "proposal")
    assert decision.allowed and decision.probability == 60 and not decision.probability_overridden
    assert decision.actual_close_date is None


def test_a_move_to_the_current_stage_is_invalid():
    decision = move("proposal", "proposal")
    assert not decision.allowed
    assert [(e.field, e.code) for e in decision.errors] == [("stage", ErrorCode.INVALID)]


def test_unmet_gates_block_the_move_without_errors():
    decision = move("discovery", "negotiation", facts(activities=("call",), budget=1))
    assert not decision.allowed and decision.errors == []
    assert unmet_kinds(decision) == [("proposal", "products_selected"), ("proposal", "minimum_value"),
                                     ("negotiation", "activity_completed")]


def test_closing_as_lost_needs_a_lost_reason():
    decision = move("proposal", "closed_lost", facts(lost_reason="went with a cheaper supplier"))
    assert [(e.field, e.code) for e in decision.errors] == [("data.lost_reason_key", ErrorCode.REQUIRED)]
    assert move("proposal", "closed_lost", facts(lost_reason_key="price")).allowed


@pytest.mark.parametrize("target, probability", [("closed_won", 100), ("closed_lost", 0)])
def test_closing_sets_the_probability_and_close_date_and_ends_an_override(target, probability):
    decision = move("negotiation", target, probability_overridden=True, current_probability=35,
                    requested_probability=90)
    assert decision.allowed
    assert (decision.probability, decision.probability_overridden, decision.actual_close_date) == (
        probability, False, TODAY)


def test_a_requested_probability_overrides_the_stage_and_an_earlier_override_sticks():
    requested = move("discovery", "qualification", requested_probability=55)
    assert (requested.probability, requested.probability_overridden) == (55, True)
    kept = move("discovery", "qualification", probability_overridden=True, current_probability=35)
    assert (kept.probability, kept.probability_overridden) == (35, True)
    plain = move("discovery", "qualification", current_probability=35)
    assert (plain.probability, plain.probability_overridden) == (40, False)


def test_a_closed_deal_moves_only_with_reopen_by_the_owners_manager_or_an_admin():
    missing = move("closed_lost", "proposal")
    assert [(e.field, e.code) for e in missing.errors] == [("reopen", ErrorCode.REQUIRED)]
    rep = move("closed_lost", "proposal", reopen=True)
    assert [(e.field, e.code) for e in rep.errors] == [("reopen", ErrorCode.FORBIDDEN)]
    assert move("closed_lost", "proposal", reopen=True, actor_is_owners_manager=True).allowed
    admin = move("closed_lost", "proposal", reopen=True, actor_role=Role.ADMIN,
                 probability_overridden=True, current_probability=0)
    # A reopened deal takes the stage's probability: the override of a closed deal does not come back.
    assert admin.allowed and (admin.probability, admin.probability_overridden) == (60, False)


# Staleness ----------------------------------------------------------------------------


def test_a_deal_is_stale_after_the_stage_duration_without_activity_unless_something_is_scheduled():
    entered = NOW - timedelta(days=10)  # proposal expects 14 days
    assert not p.is_stale(S["proposal"], entered, None, False, NOW)
    assert p.is_stale(S["proposal"], NOW - timedelta(days=15), NOW - timedelta(days=1), False, NOW)  # too long in stage
    assert not p.is_stale(S["proposal"], NOW - timedelta(days=15), None, True, NOW)  # a future activity
    assert not p.is_stale(S["closed_won"], NOW - timedelta(days=400), None, False, NOW)  # closed never rots


# Stage configuration ------------------------------------------------------------------


def test_the_default_pipeline_configuration_is_valid():
    for stage in DEFAULT_STAGES:
        assert p.requirement_errors(stage["requirements"]) == []
        assert p.automation_errors(stage["automations"]) == []


@pytest.mark.parametrize("reqs, field", [
    ("budget", "requirements"),
    ([{"type": "vibes"}], "requirements[0].type"),
    ([{"type": "activity_completed", "value": "system"}], "requirements[0].value"),
    ([{"type": "activity_completed", "value": []}], "requirements[0].value"),
    ([{"type": "field_populated", "field": "stage_id"}], "requirements[0].field"),
    ([{"type": "minimum_value", "value": "-1"}], "requirements[0].value"),
    ([{"type": "minimum_value", "value": "NaN"}], "requirements[0].value"),
])
def test_bad_requirements_name_the_field(reqs, field):
    assert [e.field for e in p.requirement_errors(reqs)] == [field]


def _auto(action: str, trigger: str = "stage_entered", **parameters) -> list[dict]:
    return [{"trigger": trigger, "action": action, "parameters": parameters}]


@pytest.mark.parametrize("autos", [
    _auto("create_task", title="Call the chef", dueDate="+2 business days", priority="urgent"),
    _auto("send_email", to="manager", subject="Samples", body="Sent today"),
    _auto("schedule_meeting", when="+1 week", time="09:30", durationMinutes=45),
    _auto("update_field", field="forecast_category", value="commit"),
    _auto("update_field", field="expected_close_date", value="+30 days"),
    _auto("update_field", field="next_step", value="tasting"),
    _auto("notify_manager", trigger="stage_duration_exceeded", threshold=365, message="Stuck"),
])
def test_well_formed_automations_pass(autos):
    assert p.automation_errors(autos) == []


@pytest.mark.parametrize("autos, fields", [
    ("x", ["automations"]),
    (["x"], ["automations[0]"]),
    ([{"trigger": "whenever", "action": "explode"}], ["automations[0].trigger", "automations[0].action"]),
    ([{"trigger": "stage_entered", "action": "create_task", "parameters": []}], ["automations[0].parameters"]),
    (_auto("create_task", title=" ", priority="asap", dueDate="tomorrow"),
     ["automations[0].parameters.dueDate", "automations[0].parameters.title", "automations[0].parameters.priority"]),
    (_auto("send_email", to="everyone", subject="", body="hi"),
     ["automations[0].parameters.to", "automations[0].parameters.subject"]),
    (_auto("schedule_meeting", time="25:00", durationMinutes=4),
     ["automations[0].parameters.when", "automations[0].parameters.time", "automations[0].parameters.durationMinutes"]),
    (_auto("schedule_meeting", when="+1 day", durationMinutes="30"),
     ["automations[0].parameters.durationMinutes"]),
    (_auto("update_field", field="stage_id", value=3), ["automations[0].parameters.field"]),
    (_auto("update_field", field="forecast_category", value="maybe"), ["automations[0].parameters.value"]),
    (_auto("update_field", field="expected_close_date", value="soon"), ["automations[0].parameters.value"]),
    (_auto("update_field", field="next_step"), ["automations[0].parameters.value"]),
    (_auto("notify_manager", message="  "), ["automations[0].parameters.message"]),
    (_auto("notify_manager", trigger="stage_duration_exceeded", threshold=0, message="late"),
     ["automations[0].parameters.threshold"]),
    (_auto("notify_manager", trigger="stage_duration_exceeded", threshold=True, message="late"),
     ["automations[0].parameters.threshold"]),
])
def test_bad_automation_parameters_name_each_field(autos, fields):
    errors = p.automation_errors(autos)
    assert [e.field for e in errors] == fields
    assert all(e.code is ErrorCode.INVALID and e.message for e in errors)


def test_a_duration_alarm_uses_its_threshold_else_the_stage_duration():
    alarm = DEFAULT_STAGES[0]["automations"][1]
    assert p.duration_threshold_days(S["discovery"], alarm) == 14
    assert p.duration_threshold_days(S["discovery"], {"parameters": {}}) == 7
