"""The durable domain-event log: transactional outbox for workers, replay log for subscriptions."""

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.fields.db_defaults import SqlDefault
from tortoise.models import Model

from app.models.base import JSONObject, created_at

if TYPE_CHECKING:
    from app.domain.changelog import Position
    from app.models.accounts import Account
    from app.models.opportunities import Opportunity
    from app.models.users import User


class CurrentTransactionId(SqlDefault):
    """The writing transaction's id, filled in by the database so no writer has to remember it.

    PostgreSQL: `pg_current_xact_id()` (read back through the snapshot's xmin, see app/queries/changelog.py).
    SQLite has a single writer, so id order already is commit order: a constant 0."""

    _DIALECT_SQL = {"postgres": "(pg_current_xact_id()::text::bigint)"}

    def __init__(self) -> None:
        super().__init__("0")

    def get_sql(self, _context=None, dialect: str | None = None) -> str:
        return self._DIALECT_SQL.get(dialect or "", self.sql)

    def __repr__(self) -> str:
        return "CurrentTransactionId()"


class DomainEvent(Model):
    """Written in the same transaction as the change it describes. Its log position (txid, id) is the
    subscription and sync cursor (app/domain/changelog.py)."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=64, db_index=True)
    opportunity: fields.ForeignKeyNullableRelation["Opportunity"] = fields.ForeignKeyField(
        "models.Opportunity", related_name="events", null=True, on_delete=fields.SET_NULL, db_constraint=False
    )
    opportunity_id: int | None
    account_id = fields.IntField(null=True)
    # Whose record it is: subscriptions filter events by the same visibility rules as queries.
    owner_id = fields.IntField(null=True)
    actor: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="events", null=True, on_delete=fields.SET_NULL
    )
    actor_id: int | None
    payload: fields.JSONField[JSONObject] = fields.JSONField(default=dict)
    # Loop guard: an automation's changes carry the event that caused them and the chain depth.
    caused_by_id = fields.BigIntField(null=True)
    chain_depth = fields.IntField(default=0)
    dispatched_at = fields.DatetimeField(null=True, db_index=True)
    # The database decides when an event is done: `completed_at` is set once every reaction has
    # committed. Until then the relay hands the event to Redis again whenever its lease (when the
    # latest hand-over stops counting) has run out — Redis may have lost the job.
    completed_at = fields.DatetimeField(null=True, db_index=True)
    lease_until = fields.DatetimeField(null=True)
    dispatch_count = fields.IntField(default=0, db_default=0)
    created_at = created_at()
    # Commit-order key: the id of the transaction that wrote the event (set by the database).
    txid = fields.BigIntField(db_default=CurrentTransactionId())
    # Not a column: set on the events app.queries.changelog.read_after returns (the cursor after each one).
    position: "Position"

    class Meta:
        table = "domain_events"
        indexes = (("txid", "id"),)


class OutgoingMail(Model):
    """Every email the system sends. Without SMTP configured it stays here, shown in the API."""

    id = fields.IntField(primary_key=True)
    to_address = fields.CharField(max_length=254)
    subject = fields.CharField(max_length=300)
    body = fields.TextField()
    ics = fields.TextField(null=True)
    status = fields.CharField(max_length=16, default="queued")
    error = fields.TextField(null=True)
    # While status is "sending": the sender's claim, taken over by another sender only once it lapsed.
    lease_until = fields.DatetimeField(null=True)
    source_key = fields.CharField(max_length=200, unique=True)
    opportunity_id = fields.IntField(null=True)
    sent_at = fields.DatetimeField(null=True)
    created_at = created_at()

    class Meta:
        table = "outgoing_mail"


class AccountHealthSnapshot(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation["Account"] = fields.ForeignKeyField(
        "models.Account", related_name="health_snapshots", on_delete=fields.CASCADE, db_index=True
    )
    account_id: int
    score = fields.IntField()
    risk_level = fields.CharField(max_length=16)
    factors: fields.JSONField[list[JSONObject]] = fields.JSONField(default=list)
    computed_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "account_health_snapshots"


class ForecastSnapshot(Model):
    id = fields.IntField(primary_key=True)
    period = fields.CharField(max_length=32, db_index=True)
    method = fields.CharField(max_length=16)
    total_forecast = fields.DecimalField(max_digits=16, decimal_places=2)
    best_case = fields.DecimalField(max_digits=16, decimal_places=2)
    worst_case = fields.DecimalField(max_digits=16, decimal_places=2)
    confidence = fields.FloatField()
    details: fields.JSONField[JSONObject] = fields.JSONField(default=dict)
    computed_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "forecast_snapshots"


class Webhook(Model):
    id = fields.IntField(primary_key=True)
    url = fields.CharField(max_length=2000)
    events: fields.JSONField[list[str]] = fields.JSONField(default=list)
    description = fields.CharField(max_length=300, default="")
    secret = fields.CharField(max_length=128)
    is_active = fields.BooleanField(default=True)
    disabled_reason = fields.CharField(max_length=300, null=True)
    failing_since = fields.DatetimeField(null=True)
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="webhooks", null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    created_at = created_at()

    class Meta:
        table = "webhooks"


class WebhookDelivery(Model):
    id = fields.IntField(primary_key=True)
    webhook: fields.ForeignKeyRelation["Webhook"] = fields.ForeignKeyField(
        "models.Webhook", related_name="deliveries", on_delete=fields.CASCADE
    )
    webhook_id: int
    event: fields.ForeignKeyRelation["DomainEvent"] = fields.ForeignKeyField(
        "models.DomainEvent", related_name="deliveries", on_delete=fields.CASCADE
    )
    event_id: int
    status = fields.CharField(max_length=16, default="pending")
    attempts = fields.IntField(default=0)
    response_code = fields.IntField(null=True)
    latency_ms = fields.IntField(null=True)
    last_error = fields.TextField(null=True)
    next_attempt_at = fields.DatetimeField(null=True)
    delivered_at = fields.DatetimeField(null=True)
    # An attempt in flight holds the delivery until then: a second job for it (re-queued after Redis
    # lost the first, or an admin's redeliver) does not post the same attempt twice.
    lease_until = fields.DatetimeField(null=True)
    created_at = created_at()

    class Meta:
        table = "webhook_deliveries"
        unique_together = (("webhook", "event"),)


class AutomationRun(Model):
    """One row per automation effect, written in the same transaction as the effect: a job that
    runs twice (arq is at-least-once) finds the row and does nothing the second time."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=200, unique=True)
    opportunity_id = fields.IntField(null=True, db_index=True)
    trigger = fields.CharField(max_length=32)
    action = fields.CharField(max_length=32)
    event_id = fields.BigIntField(null=True)
    status = fields.CharField(max_length=16, default="done")
    detail: fields.JSONField[JSONObject] = fields.JSONField(default=dict)
    created_at = created_at()

    class Meta:
        table = "automation_runs"
