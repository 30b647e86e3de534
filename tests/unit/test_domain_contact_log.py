"""Which deal activities are customer contacts (app.domain.contact_log), without a database."""

from datetime import datetime, timezone

from app.domain.contact_log import (
    ACTIVITY_FOR_INTERACTION,
    INTERACTION_FOR_ACTIVITY,
    owned_by_interaction,
    records_contact,
)
from app.domain.enums import ActivityType, InteractionType

DONE = datetime(2026, 5, 1, tzinfo=timezone.utc)


def test_a_done_contact_type_is_a_contact_and_deal_work_never_is():
    assert records_contact(ActivityType.CALL, DONE) and records_contact("tasting", DONE)
    assert not records_contact(ActivityType.CALL, None)  # only planned
    for work in (ActivityType.PROPOSAL, ActivityType.PRESENTATION, ActivityType.SAMPLE_DELIVERY, ActivityType.SYSTEM):
        assert not records_contact(work, DONE)
    assert not records_contact(None, DONE)


def test_every_interaction_type_has_its_activity_and_back():
    assert set(ACTIVITY_FOR_INTERACTION) == set(InteractionType)
    # An interaction's activity is itself a contact type, so the pair it makes is recognised both ways.
    assert all(activity in INTERACTION_FOR_ACTIVITY for activity in ACTIVITY_FOR_INTERACTION.values())


def test_a_linked_activitys_type_and_dates_are_the_interactions():
    assert owned_by_interaction({"subject": "x", "completed_at": DONE, "type": "call"}) == ["type", "completed_at"]
    assert owned_by_interaction({"subject": "x", "outcome": None}) == []
