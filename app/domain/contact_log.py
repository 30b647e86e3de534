"""One way to log customer contact.

A customer interaction is the record of a contact with the customer (a call, an e-mail, a meeting, a
demo, a tasting, a site visit): it carries the sentiment, the participants and the follow-up, and it is
what account health and interaction insights read. A deal activity is work on the deal. A contact made
on a deal is both, so it is written once as the pair — one interaction and exactly one activity linked
to it, in one transaction — whichever way it is logged:

- `recordInteraction` with an opportunity adds its activity (`ACTIVITY_FOR_INTERACTION`);
- an activity of a contact type (`INTERACTION_FOR_ACTIVITY`) logged as done adds its interaction; one
  only scheduled adds it when it is marked done;
- the text both share (`SHARED_FIELDS`) is edited on either and follows on the other; when and how the
  contact happened belongs to the interaction, so a linked activity's type and dates do not change,
  and a linked activity is not deleted on its own (the interaction is the customer record).
"""

from __future__ import annotations

from datetime import datetime

from app.domain.enums import ActivityType, InteractionType

ACTIVITY_FOR_INTERACTION: dict[InteractionType, ActivityType] = {
    InteractionType.PHONE: ActivityType.CALL,
    InteractionType.EMAIL: ActivityType.EMAIL,
    InteractionType.MEETING: ActivityType.MEETING,
    InteractionType.DEMO: ActivityType.DEMO,
    InteractionType.EVENT: ActivityType.MEETING,   # met at a food show or tasting event
    InteractionType.SUPPORT: ActivityType.CALL,    # a support contact is a conversation with the customer
}

# Activity types that are a contact with the customer once done, and the interaction each records.
INTERACTION_FOR_ACTIVITY: dict[ActivityType, InteractionType] = {
    ActivityType.CALL: InteractionType.PHONE,
    ActivityType.EMAIL: InteractionType.EMAIL,
    ActivityType.MEETING: InteractionType.MEETING,
    ActivityType.DEMO: InteractionType.DEMO,
    ActivityType.TASTING: InteractionType.MEETING,      # a chef's tasting is met in person
    ActivityType.SITE_VISIT: InteractionType.MEETING,
}

# What a linked activity and its interaction say alike (the activity's names).
SHARED_FIELDS = ("subject", "description", "outcome", "next_steps")
# What only the interaction decides once the two are linked.
INTERACTION_OWNED_FIELDS = ("type", "scheduled_at", "completed_at")


def records_contact(activity_type: ActivityType | str | None, completed_at: datetime | None) -> bool:
    """Whether an activity in this state is a customer contact that must have its interaction."""
    if activity_type is None or completed_at is None:
        return False
    return ActivityType(activity_type) in INTERACTION_FOR_ACTIVITY


def owned_by_interaction(changes: dict[str, object]) -> list[str]:
    """The fields of a change to a linked activity that only its interaction may decide."""
    return [field for field in INTERACTION_OWNED_FIELDS if field in changes]
