"""The pure rules of field history (app.domain.history) and of archiving (app.domain.archive)."""

from datetime import date, datetime, timezone
from decimal import Decimal

from app.domain.archive import archive_account_refusal, archive_deal_refusal, delete_refusal
from app.domain.enums import ContactRole, Role, StageKind, ValueSource
from app.domain.global_ids import global_id
from app.domain.history import FieldChange, field_changes, tracked_field_names, written


def test_values_are_written_in_the_apis_own_form():
    assert written(None) is None
    assert written(Decimal("6500.00")) == "6500.00"
    assert written(date(2027, 3, 31)) == "2027-03-31"
    assert written(datetime(2026, 12, 5, 9, 30, tzinfo=timezone.utc)) == "2026-12-05T09:30:00+00:00"
    assert written(ValueSource.PRODUCTS) == "PRODUCTS" and written(ContactRole.DECISION_MAKER) == "DECISION_MAKER"
    assert written(True) == "true" and written(False) == "false"
    assert written(7, "User") == global_id("User", 7)
    assert written({"street": "1 Main St", "city": "Salem"}) == '{"city":"Salem","street":"1 Main St"}'


def test_only_tracked_fields_that_differ_are_changes_under_their_api_names():
    before = {"value": Decimal("5000.00"), "assigned_to_id": 2, "name": "Produce", "version": 3}
    after = {"value": Decimal("5000.00"), "assigned_to_id": 4, "name": "Weekly produce", "version": 4,
             "stage_entered_at": datetime(2026, 1, 1, tzinfo=timezone.utc)}
    assert field_changes("opportunity", before, after) == [
        FieldChange("assignedTo", global_id("User", 2), global_id("User", 4)),
        FieldChange("name", "Produce", "Weekly produce")]
    # A column the caller did not read before is not compared (nothing to say what it was).
    assert field_changes("contact", {}, {"email": "a@b.example"}) == []
    assert "expectedCloseDate" in tracked_field_names("opportunity") and "archivedAt" in tracked_field_names("account")


def test_who_may_archive_and_delete():
    assert archive_deal_refusal(Role.REP, StageKind.OPEN) is None
    assert archive_deal_refusal(Role.REP, StageKind.WON) and archive_deal_refusal(Role.REP, StageKind.LOST)
    assert archive_deal_refusal(Role.MANAGER, StageKind.WON) is None
    assert archive_account_refusal(Role.REP, closed_deals=1) and archive_account_refusal(Role.REP, 0) is None
    assert archive_account_refusal(Role.ADMIN, closed_deals=3) is None
    assert delete_refusal(Role.ADMIN) is None and delete_refusal(Role.MANAGER) and delete_refusal(Role.REP)
