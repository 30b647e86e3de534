"""The event documents' rendering rules (app.domain.event_documents), over plain values."""

from datetime import date, datetime, timezone
from decimal import Decimal

from app.domain import event_documents as docs
from app.domain.enums import ValueSource
from app.domain.global_ids import global_id

AT = datetime(2026, 11, 20, 10, 15, tzinfo=timezone.utc)
DEAL = {"name": "Weekly produce", "account_id": 3, "contact_id": None, "value": Decimal("6500.00"),
        "value_source": ValueSource.MANUAL, "expected_close_date": date(2026, 12, 15), "stage_key": "proposal",
        "stage_id": 4, "version": 2, "updated_at": AT}


def test_a_record_reads_as_the_api_returns_it():
    rendered = docs.render_resource("Opportunity", 9, DEAL)
    assert rendered == {"id": global_id("Opportunity", 9), "name": "Weekly produce",
                        "account": {"id": global_id("Account", 3)}, "contact": None, "value": "6500.00",
                        "valueSource": "MANUAL", "expectedCloseDate": "2026-12-15", "stage": "proposal",
                        "pipelineStage": {"id": global_id("PipelineStage", 4)}, "version": 2,
                        "updatedAt": "2026-11-20T10:15:00+00:00"}


def test_previous_names_what_changed_but_not_the_bookkeeping():
    after = {**DEAL, "value": Decimal("7200.00"), "contact_id": 5, "version": 3, "updated_at": AT.replace(hour=11)}
    assert docs.render_previous("Opportunity", DEAL, after) == {"value": "6500.00", "contact": None}


def test_text_enums_and_addresses():
    interaction = docs.render_resource("CustomerInteraction", 1, {"sentiment_label": "positive"})
    assert interaction["sentimentLabel"] == "POSITIVE"
    account = docs.render_resource("Account", 1, {"headquarters": {"city": "Portland", "postalCode": "97201"}})
    assert account["headquarters"] == {"street": None, "city": "Portland", "region": None, "postalCode": "97201",
                                       "country": None}
    assert docs.render_resource("Account", 1, {"headquarters": None})["headquarters"] is None


def test_the_document_puts_the_snapshot_under_its_key():
    payload = {"changes": {"value": {"from": "6500.00", "to": "7200.00"}},
               **docs.snapshot("Opportunity", 9, {**DEAL, "value": Decimal("7200.00")}, DEAL)}
    document = docs.document(event_id=12, name="opportunity.updated", created_at=AT, payload=payload, actor_id=2,
                             extra={"source": "API"})
    assert document == {"id": "evt_12", "type": "opportunity.updated", "createdAt": "2026-11-20T10:15:00+00:00",
                        "data": {"opportunity": payload["resource"], "previous": {"value": "6500.00"},
                                 "actor": {"id": global_id("User", 2)}, "source": "API"}}
    assert docs.changed_fields(payload) == [("value", "6500.00", "7200.00")]
    # An event logged before snapshots existed: no record, and no internal keys leak out.
    bare = docs.document(event_id=1, name="task.completed", created_at=AT, payload={"task_id": 4}, actor_id=None,
                         extra={})
    assert bare["data"] == {"actor": None}
