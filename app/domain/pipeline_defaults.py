"""The food-service default pipeline ("New business"), as the product spec describes it."""

from typing import Any

DEFAULT_PIPELINE_NAME = "New business"

DEFAULT_STAGES: list[dict[str, Any]] = [
    {
        "key": "discovery", "name": "Discovery", "order": 1, "kind": "open", "probability": 20,
        "expected_duration_days": 7, "forecast_category": "pipeline",
        # What must be true to leave discovery (deals are created here: on entry they could not be met).
        "requirements": [
            {"type": "activity_completed", "value": "call", "when": "exit"},
            {"type": "field_populated", "field": "budget", "when": "exit"},
        ],
        "automations": [
            {"trigger": "stage_entered", "action": "create_task", "parameters": {
                "title": "Conduct discovery call",
                "description": "Schedule and conduct discovery call to understand customer needs",
                "dueDate": "+3 days", "priority": "high"}},
            {"trigger": "stage_duration_exceeded", "action": "notify_manager", "parameters": {
                "threshold": 14, "message": "Discovery stage duration exceeded"}},
        ],
    },
    {
        "key": "qualification", "name": "Qualification", "order": 2, "kind": "open", "probability": 40,
        "expected_duration_days": 14, "forecast_category": "pipeline",
        "requirements": [], "automations": [],
    },
    {
        "key": "proposal", "name": "Proposal", "order": 3, "kind": "open", "probability": 60,
        "expected_duration_days": 14, "forecast_category": "best_case",
        "requirements": [
            {"type": "products_selected"},
            {"type": "minimum_value", "value": "1000"},
        ],
        "automations": [],
    },
    {
        "key": "negotiation", "name": "Negotiation", "order": 4, "kind": "open", "probability": 80,
        "expected_duration_days": 10, "forecast_category": "commit",
        "requirements": [{"type": "activity_completed", "value": ["proposal", "presentation"]}],
        "automations": [],
    },
    {
        "key": "closed_won", "name": "Closed won", "order": 5, "kind": "won", "probability": 100,
        "expected_duration_days": 0, "forecast_category": "closed",
        "requirements": [], "automations": [],
    },
    {
        "key": "closed_lost", "name": "Closed lost", "order": 6, "kind": "lost", "probability": 0,
        "expected_duration_days": 0, "forecast_category": "omitted",
        "requirements": [], "automations": [],
    },
]

# How reports name losses that name no picklist entry (data from before the picklist).
UNSPECIFIED_LOSS = "Unspecified"
# The lost-reason picklist a new installation starts with (admins edit it: lostReasons).
DEFAULT_LOST_REASONS: list[dict[str, Any]] = [
    {"key": "price", "name": "Price", "description": "Our price or terms were not competitive."},
    {"key": "competitor", "name": "Went with a competitor", "description": "Chose or stayed with another supplier."},
    {"key": "service", "name": "Service or delivery", "description": "Delivery windows, fill rate or service concerns."},
    {"key": "product_fit", "name": "Product fit", "description": "Range, specs or quality did not fit the menu."},
    {"key": "no_budget", "name": "No budget", "description": "No budget for a change this period."},
    {"key": "timing", "name": "Timing or no decision", "description": "Decision postponed or never made."},
    {"key": "no_response", "name": "Went silent", "description": "The buyer stopped responding."},
    {"key": "other", "name": "Other", "description": "Anything else: say what in the detail."},
]
