"""Interactions: recording (sentiment, last activity, participants, opportunity activity, follow-up),
bad input, the interactions connection and interaction insights on a known data set."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest
from arq import create_pool

from app.domain.sentiment import SentimentLabel, sentiment_label, sentiment_score
from app.models import (
    Account,
    CustomerInteraction,
    InteractionParticipant,
    OpportunityActivity,
)
from app.services import interactions
from app.services.health import health_job_id
from app.services.redis import arq_redis_settings
from tests import factories
from app.domain.global_ids import global_id
from tests.factories import gid, pk

ERR = "errors { field message code }"
RECORD = f"""mutation($input: RecordInteractionInput!) {{ recordInteraction(input: $input) {{
    interaction {{ id type direction sentiment sentimentLabel followUpDate duration occurredAt
        account {{ name lastActivityDate }} contact {{ name }} opportunity {{ name activities {{ type subject }} }}
        participants {{ role attended contact {{ name }} }} createdBy {{ email }} }}
    {ERR} }} }}"""


# Sentiment ---------------------------------------------------------------------------------

@pytest.mark.parametrize("subject, description, label", [
    ("Tasting with Chef Ana", "Chef loved the new brisket samples, wants a standing weekly order", "positive"),
    ("Thank-you call", "Kitchen team is happy with the new driver; Friday's delivery was complete and on time.",
     "positive"),
    ("Late delivery complaint",
     "Owner is frustrated: last two deliveries arrived late and the produce was damaged", "negative"),
    ("Invoice errors", "Third invoice this quarter with wrong pricing. Accounts payable is holding payment.", "negative"),
    # Two objections after "but" (a price objection, "too high", weighs −1.5 in the food-service lexicon)
    # outweigh the good tasting: negative since issue 15.9 (VADER alone: −0.25, neutral).
    ("Menu review", "Tasting went great but the pricing is too high and the chef is worried about delivery windows",
     "negative"),
    ("Menu review", "Chef was happy with the new oils; owner complained about the late invoice", "neutral"),
    ("Bid follow-up", "no decision yet", "neutral"),
])
def test_sentiment_on_food_service_notes(subject, description, label):
    score = sentiment_score(subject, description)
    assert -1 <= score <= 1
    assert sentiment_label(score) == SentimentLabel(label)


def test_sentiment_thresholds_and_empty_notes():
    assert sentiment_label(0.30) == SentimentLabel.POSITIVE
    assert sentiment_label(0.2999) == SentimentLabel.NEUTRAL
    assert sentiment_label(-0.30) == SentimentLabel.NEGATIVE
    assert sentiment_label(-0.2999) == SentimentLabel.NEUTRAL
    assert sentiment_score("", "  ") == 0.0
    # Both subject and description count: a neutral subject with a glowing note is positive.
    assert sentiment_score("Call", "Chef loved it") > sentiment_score("Call", "")


# Insight maths (pure) ----------------------------------------------------------------------

def test_response_time_pairs_runs_of_inbound_with_our_next_answer():
    from app.domain.interactions import InteractionPoint, response_times

    t0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    points = [InteractionPoint(t0 + timedelta(hours=h), d) for h, d in [
        (0, "outbound"),                  # nothing to answer
        (1, "inbound"), (2, "inbound"),   # one run: waits from hour 1
        (5, "outbound"),                  # 4 h
        (6, "outbound"),
        (10, "inbound"), (10, "outbound"),  # answered at once: 0 h
        (20, "inbound"),                  # still open
    ]]
    result = response_times(points)
    assert (result.average_hours, result.answered, result.unanswered) == (2.0, 2, 1)
    assert response_times([]).average_hours is None


def test_no_meeting_rule_boundary_and_empty_weeks():
    from app.domain.interactions import (
        InteractionPoint, PeriodFigures, ResponseTimes, compare, recommendations, weekly_trends)

    as_of = datetime(2026, 3, 1, tzinfo=timezone.utc)
    quiet = compare(PeriodFigures(1, None), PeriodFigures(1, None))
    no_wait = ResponseTimes(None, 0, 0)
    assert recommendations(quiet, no_wait, as_of - timedelta(days=60), as_of) == []
    assert recommendations(quiet, no_wait, as_of - timedelta(days=60, seconds=1), as_of)[0].startswith("No meeting")
    weeks = weekly_trends([InteractionPoint(datetime(2026, 2, 18, tzinfo=timezone.utc), "inbound", 0.5)],
                          datetime(2026, 2, 1, tzinfo=timezone.utc), as_of)
    assert [(w.week_start.isoformat(), w.interactions, w.average_sentiment) for w in weeks] == [
        ("2026-01-26", 0, None), ("2026-02-02", 0, None), ("2026-02-09", 0, None), ("2026-02-16", 1, 0.5),
        ("2026-02-23", 0, None)]


# Recording ---------------------------------------------------------------------------------

async def _people(team):
    account = await factories.account(team.rep.user, "Harbor Grill")
    from app.services.accounts import create_contact
    from app.queries.visibility import scope_for

    scope = await scope_for(team.rep.user)
    chef = await create_contact(scope, {"account_id": account.id, "first_name": "Ana", "last_name": "Ng"})
    buyer = await create_contact(scope, {"account_id": account.id, "first_name": "Bo", "last_name": "Li"})
    return account, chef, buyer


async def test_record_interaction_does_everything_the_spec_lists(gql, team):
    account, chef, buyer = await _people(team)
    opp = await factories.opportunity(team.rep.user, account.id, "Weekly produce")
    follow_up = (datetime.now(timezone.utc) + timedelta(days=3)).replace(microsecond=0)
    result = (await gql(RECORD, {"input": {
        "accountId": gid(account), "type": "PHONE", "direction": "INBOUND", "subject": "Thank-you call",
        "description": "Chef loved the new brisket samples, wants a standing weekly order",
        "contactId": gid(chef), "opportunityId": gid(opp), "duration": 12, "outcome": "POSITIVE",
        "participants": [{"contactId": gid(buyer), "role": "OPTIONAL", "attended": False}],
        "attachments": ["https://files.example/order-guide.pdf"], "followUpDate": follow_up.isoformat(),
    }}, as_=team.rep))["recordInteraction"]
    assert result["errors"] == []
    got = result["interaction"]
    expected_score = sentiment_score("Thank-you call", "Chef loved the new brisket samples, wants a standing weekly order")
    assert got["sentiment"] == pytest.approx(expected_score) and got["sentiment"] > 0.3
    assert (got["type"], got["direction"], got["sentimentLabel"], got["duration"]) == ("PHONE", "INBOUND", "POSITIVE", 12)
    assert got["account"]["lastActivityDate"] == got["occurredAt"]
    assert got["contact"] == {"name": "Ana Ng"} and got["createdBy"] == {"email": "rep@pantry.test"}
    assert sorted((p["contact"]["name"], p["role"], p["attended"]) for p in got["participants"]) == [
        ("Ana Ng", "ATTENDEE", True), ("Bo Li", "OPTIONAL", False)]
    # phone → call activity on the opportunity
    assert got["opportunity"] == {"name": "Weekly produce", "activities": [{"type": "CALL", "subject": "Thank-you call"}]}
    assert datetime.fromisoformat(got["followUpDate"]) == follow_up

    redis = await create_pool(arq_redis_settings())
    try:
        follow_up_job = interactions.follow_up_key(pk(got["id"]), follow_up)
        assert await redis.zscore("arq:queue", follow_up_job) == int(follow_up.timestamp()) * 1000
        assert await redis.zscore("arq:queue", health_job_id(account.id)) is not None
    finally:
        await redis.aclose()


@pytest.mark.parametrize("kind, activity", [
    ("phone", "call"), ("email", "email"), ("meeting", "meeting"), ("demo", "demo"), ("event", "meeting"),
    ("support", "call"),
])
async def test_each_interaction_type_adds_the_matching_opportunity_activity(team, kind, activity):
    from app.queries.visibility import scope_for

    account = await factories.account(team.rep.user)
    opp = await factories.opportunity(team.rep.user, account.id)
    occurred = datetime.now(timezone.utc) - timedelta(hours=2)
    await interactions.record_interaction(await scope_for(team.rep.user), {
        "account_id": account.id, "opportunity_id": opp.id, "type": kind, "subject": "Touch base",
        "occurred_at": occurred})
    row = await OpportunityActivity.get(opportunity_id=opp.id)
    assert (row.type.value, row.completed_at) == (activity, occurred)


async def test_last_activity_date_never_moves_back(team):
    from app.queries.visibility import scope_for

    account = await factories.account(team.rep.user)
    scope = await scope_for(team.rep.user)
    recent = datetime.now(timezone.utc) - timedelta(days=1)
    await interactions.record_interaction(scope, {"account_id": account.id, "type": "email", "subject": "Order guide",
                                                  "occurred_at": recent})
    await interactions.record_interaction(scope, {"account_id": account.id, "type": "email", "subject": "Old note",
                                                  "occurred_at": recent - timedelta(days=20)})
    assert (await Account.get(id=account.id)).last_activity_date == recent


async def _counts():
    return (await CustomerInteraction.all().count(), await InteractionParticipant.all().count(),
            await OpportunityActivity.all().count(), await Account.all().order_by("id").values("last_activity_date"))


async def test_bad_input_answers_every_error_and_changes_nothing(gql, team):
    account, chef, _ = await _people(team)
    elsewhere, stranger, _ = await _people(team)
    other_opp = await factories.opportunity(team.rep.user, elsewhere.id)
    before = await _counts()
    result = (await gql(RECORD, {"input": {
        "accountId": gid(account), "type": "MEETING", "subject": "  ", "contactId": gid(stranger),
        "opportunityId": gid(other_opp), "duration": -5,
        "followUpDate": (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat(),
        "occurredAt": (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat(),
        "participants": [{"contactId": gid(chef)}, {"contactId": gid(chef)}],
        "attachments": [""],
    }}, as_=team.rep))["recordInteraction"]
    assert result["interaction"] is None
    assert sorted((e["field"], e["code"]) for e in result["errors"]) == sorted([
        ("subject", "REQUIRED"), ("contactId", "NOT_FOUND"), ("opportunityId", "NOT_FOUND"),
        ("duration", "OUT_OF_RANGE"), ("followUpDate", "OUT_OF_RANGE"), ("occurredAt", "OUT_OF_RANGE"),
        ("participants", "DUPLICATE"), ("attachments", "REQUIRED"),
    ])
    assert await _counts() == before


async def test_unknown_and_invisible_accounts_answer_alike(gql, team):
    theirs = await factories.account(team.other_rep.user, "Not yours")
    answers = []
    for account_id in (gid(theirs), global_id("Account", 999999), "garbage"):
        result = (await gql(RECORD, {"input": {"accountId": account_id, "type": "EMAIL", "subject": "Hi"}},
                            as_=team.rep))["recordInteraction"]
        answers.append(result["errors"])
    assert answers[0] == answers[1] == [{"field": "accountId", "message": "account not found", "code": "NOT_FOUND"}]
    assert answers[2][0]["code"] == "NOT_FOUND"
    assert await CustomerInteraction.all().count() == 0


async def test_update_interaction_rescores_and_validates(gql, team):
    account, _, _ = await _people(team)
    from app.queries.visibility import scope_for

    interaction = await interactions.record_interaction(await scope_for(team.rep.user), {
        "account_id": account.id, "type": "support", "subject": "Delivery", "description": "All fine"})
    mutation = f"""mutation($id: ID!, $input: UpdateInteractionInput!) {{ updateInteraction(id: $id, input: $input) {{
        interaction {{ sentiment sentimentLabel followUpDate }} {ERR} }} }}"""
    changed = (await gql(mutation, {"id": gid(interaction), "input": {
        "description": "Owner is frustrated: last two deliveries arrived late and the produce was damaged"}},
        as_=team.rep))["updateInteraction"]
    assert changed["errors"] == [] and changed["interaction"]["sentimentLabel"] == "NEGATIVE"
    past = (await gql(mutation, {"id": gid(interaction), "input": {
        "followUpDate": "2020-01-01T00:00:00Z", "duration": -1}}, as_=team.rep))["updateInteraction"]
    assert sorted((e["field"], e["code"]) for e in past["errors"]) == [
        ("duration", "OUT_OF_RANGE"), ("followUpDate", "OUT_OF_RANGE")]
    hidden = (await gql(mutation, {"id": gid(interaction), "input": {"subject": "x"}},
                        as_=team.other_rep))["updateInteraction"]
    assert hidden["errors"] == [{"field": "id", "message": "interaction not found", "code": "NOT_FOUND"}]


async def test_complaints_about_a_named_competitor_are_buying_signals(team):
    """The service passes the competitors' names (one query) to the sentiment rules: the same complaint
    is a risk about us and a buying signal about a competitor, its acronym included."""
    from app.models import Competitor
    from app.queries.visibility import scope_for

    await Competitor.create(name="Performance Food Group")
    account, _, _ = await _people(team)
    scope = await scope_for(team.rep.user)
    about_us = await interactions.record_interaction(scope, {
        "account_id": account.id, "type": "phone", "subject": "Discovery call",
        "description": "Deliveries have been late and short all month; the chef is fed up."})
    about_them = await interactions.record_interaction(scope, {
        "account_id": account.id, "type": "phone", "subject": "Discovery call",
        "description": "PFG deliveries have been late and short all month; the chef is fed up."})
    assert (about_us.sentiment_label, about_them.sentiment_label) == ("negative", "positive")
    updated = await interactions.update_interaction(scope, about_us.id, {
        "description": "Fatima is unhappy with the current supplier's late deliveries"})
    assert updated.sentiment_label == "positive"


# The interactions connection ---------------------------------------------------------------

LIST = """query($filter: InteractionFilter, $first: Int) { interactions(first: $first, filter: $filter) {
    totalCount edges { node { subject type direction account { name } contact { name }
    participants { contact { name } } opportunity { name } } } } }"""


async def test_interactions_filter_visibility_and_no_n_plus_one(gql, team, count_queries):
    mine, chef, _ = await _people(team)
    theirs = await factories.account(team.other_rep.user, "Not yours")
    now = datetime.now(timezone.utc)
    rows = [("Call 1", "phone", "inbound", 5), ("Email 1", "email", "outbound", 4), ("Visit", "meeting", "outbound", 3),
            ("Call 2", "phone", "outbound", 2), ("Email 2", "email", "inbound", 1)]
    for subject, kind, direction, days in rows:
        created = await CustomerInteraction.create(account=mine, contact=chef, type=kind, direction=direction,
                                                   subject=subject, occurred_at=now - timedelta(days=days))
        await InteractionParticipant.create(interaction=created, contact=chef)
    await CustomerInteraction.create(account=theirs, type="phone", subject="Hidden", occurred_at=now)

    everything = (await gql(LIST, {}, as_=team.rep))["interactions"]
    assert [e["node"]["subject"] for e in everything["edges"]] == ["Email 2", "Call 2", "Visit", "Email 1", "Call 1"]
    assert (await gql(LIST, {}, as_=team.admin))["interactions"]["totalCount"] == 6

    phones = (await gql(LIST, {"filter": {"type": ["PHONE"], "direction": "OUTBOUND"}}, as_=team.rep))["interactions"]
    assert [e["node"]["subject"] for e in phones["edges"]] == ["Call 2"]
    window = (await gql(LIST, {"filter": {"accountId": gid(mine), "from": (now - timedelta(days=4, hours=1)).isoformat(),
                                          "to": (now - timedelta(days=1, hours=12)).isoformat()}}, as_=team.rep))
    assert [e["node"]["subject"] for e in window["interactions"]["edges"]] == ["Call 2", "Visit", "Email 1"]
    assert (await gql(LIST, {"filter": {"accountId": gid(theirs)}}, as_=team.rep))["interactions"]["totalCount"] == 0

    count_queries.queries.clear()
    await gql(LIST, {"first": 1}, as_=team.rep)
    one = len(count_queries.queries)
    count_queries.queries.clear()
    await gql(LIST, {"first": 5}, as_=team.rep)
    assert len(count_queries.queries) == one


async def test_interactions_bad_filter_is_a_clear_error(gql, team):
    body = await gql.raw("{ interactions(filter: {accountId: \"abc\"}) { totalCount } }", token=team.rep.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# Insights ----------------------------------------------------------------------------------

INSIGHTS = """query($a: ID!, $t: String!) { interactionInsights(accountId: $a, timeframe: $t) {
    accountId timeframe periodStart periodEnd totalInteractions byType { type count } averageSentiment responseTime
    unansweredInbound recommendations
    trends { weekly { weekStart interactions averageSentiment } previousPeriodStart previousPeriodEnd
             previousTotalInteractions previousAverageSentiment interactionChange interactionChangePercent
             sentimentChange } } }"""


def _at(day: int, hour: int, month: int = 1, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=timezone.utc)


# (when, type, direction, sentiment) — January 2026 and the 31 days before it.
JANUARY = [
    (_at(5, 9), "email", "inbound", -0.4),
    (_at(5, 15), "phone", "outbound", 0.2),
    (_at(10, 8), "support", "inbound", -0.6),
    (_at(10, 12), "email", "inbound", -0.2),
    (_at(11, 8), "email", "outbound", 0.0),
    (_at(14, 10), "phone", "outbound", None),
    (_at(20, 10), "email", "inbound", -0.5),
]
DECEMBER = [
    (_at(1, 10, 12, 2025), "meeting", "outbound", 0.6),
    (_at(17, 10, 12, 2025), "phone", "inbound", 0.4),
]
OLDER = [(_at(15, 10, 10, 2025), "meeting", "outbound", 0.5)]


async def test_interaction_insights_on_a_known_data_set(gql, team):
    account = await factories.account(team.rep.user)
    other = await factories.account(team.rep.user, "Someone else")
    for when, kind, direction, score in JANUARY + DECEMBER + OLDER:
        await CustomerInteraction.create(account=account, type=kind, direction=direction, subject="x",
                                         sentiment=score, occurred_at=when)
    await CustomerInteraction.create(account=other, type="meeting", subject="not counted", occurred_at=_at(6, 10))

    got = (await gql(INSIGHTS, {"a": gid(account), "t": "2026-01-01..2026-01-31"}, as_=team.rep))["interactionInsights"]

    # Expected figures, computed here from the data set alone.
    scored = [s for _, _, _, s in JANUARY if s is not None]
    december_scored = [s for _, _, _, s in DECEMBER]
    average, previous_average = sum(scored) / len(scored), sum(december_scored) / len(december_scored)
    # Waits: Jan 5 09:00 → 15:00 = 6 h; Jan 10 08:00 (run of two inbound) → Jan 11 08:00 = 24 h; Jan 20 open.
    weeks: Counter = Counter()
    week_scores: dict[date, list[float]] = {}
    for when, _, _, score in JANUARY:
        monday = when.date() - timedelta(days=when.weekday())
        weeks[monday] += 1
        if score is not None:
            week_scores.setdefault(monday, []).append(score)
    mondays = [date(2025, 12, 29) + timedelta(weeks=i) for i in range(5)]  # Jan 1 2026 is a Thursday

    assert got["timeframe"] == "2026-01-01..2026-01-31"
    assert (got["periodStart"], got["periodEnd"]) == ("2026-01-01T00:00:00+00:00", "2026-02-01T00:00:00+00:00")
    assert got["totalInteractions"] == len(JANUARY)
    assert got["byType"] == [{"type": t.upper(), "count": n}
                             for t, n in sorted(Counter(k for _, k, _, _ in JANUARY).items())]
    assert got["averageSentiment"] == pytest.approx(round(average, 4))
    assert got["responseTime"] == pytest.approx((6 + 24) / 2)
    assert got["unansweredInbound"] == 1
    trends = got["trends"]
    assert [(w["weekStart"], w["interactions"]) for w in trends["weekly"]] == [(m.isoformat(), weeks[m]) for m in mondays]
    for w, monday in zip(trends["weekly"], mondays, strict=True):
        expected = week_scores.get(monday)
        assert w["averageSentiment"] == (pytest.approx(round(sum(expected) / len(expected), 4)) if expected else None)
    assert (trends["previousPeriodStart"], trends["previousPeriodEnd"]) == (
        "2025-12-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00")
    assert trends["previousTotalInteractions"] == len(DECEMBER)
    assert trends["previousAverageSentiment"] == pytest.approx(previous_average)
    assert trends["interactionChange"] == len(JANUARY) - len(DECEMBER)
    assert trends["interactionChangePercent"] == pytest.approx(round((len(JANUARY) - len(DECEMBER)) * 100 / len(DECEMBER), 1))
    assert trends["sentimentChange"] == pytest.approx(round(round(average, 4) - previous_average, 4))

    recs = got["recommendations"]
    assert any(r.startswith("Sentiment is falling") for r in recs)             # −0.25 against +0.50
    assert any(r.startswith("No meeting or demo for 60 days") for r in recs)   # last one Dec 1, 61.6 days before Feb 1
    assert not any(r.startswith("Slow responses") for r in recs)               # 15 h is within a day
    assert any("1 customer contact(s)" in r for r in recs)                      # Jan 20 is unanswered


async def test_insights_recommend_on_slow_responses_and_meeting_gaps(team):
    from app.queries.visibility import scope_for

    account = await factories.account(team.rep.user)
    for when, kind, direction in [(_at(2, 9), "email", "inbound"), (_at(4, 9), "email", "outbound"),
                                  (_at(20, 9), "meeting", "outbound")]:
        await CustomerInteraction.create(account=account, type=kind, direction=direction, subject="x", occurred_at=when)
    report = await interactions.interaction_insights(await scope_for(team.rep.user), account.id, "2026-01")
    assert report.responses.average_hours == 48.0
    assert [r.split(":")[0] for r in report.recommendations] == ["Slow responses"]


async def test_insights_timeframes_and_errors(gql, team):
    account = await factories.account(team.rep.user)
    theirs = await factories.account(team.other_rep.user)
    for timeframe in ("last_7_days", "last_30_days", "last_90_days", "this_month", "this_quarter", "this_year",
                      "2026-Q3", "2026-11", "2026-01-01..2026-03-31"):
        got = (await gql(INSIGHTS, {"a": gid(account), "t": timeframe}, as_=team.rep))["interactionInsights"]
        assert got["totalInteractions"] == 0
        assert datetime.fromisoformat(got["periodEnd"]) <= max(datetime.now(timezone.utc),
                                                               datetime.fromisoformat(got["periodStart"]))
    body = await gql.raw(INSIGHTS, {"a": gid(account), "t": "last_week"}, token=team.rep.token)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "last_week" in error["message"] and "last_7_days" in error["message"] and "2026-Q3" in error["message"]
    assert (await gql(INSIGHTS, {"a": gid(theirs), "t": "this_year"}, as_=team.rep))["interactionInsights"] is None
    assert (await gql(INSIGHTS, {"a": "404", "t": "this_year"}, as_=team.rep))["interactionInsights"] is None
