"""The event log in commit order: each event records the id of the transaction that wrote it.

PostgreSQL fills `txid` with `pg_current_xact_id()` (existing rows get this migration's id, which is
newer than all of them, so their order stays id order). SQLite: a constant 0 (single writer).
Readers order by (txid, id) and hand out only events of transactions older than their snapshot's xmin.
Tasks and interactions get `updated_at` (for the `updatedSince` list filters), backfilled.
"""

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from app.models.events import CurrentTransactionId


class Migration(migrations.Migration):
    dependencies = [('models', '0008_idempotency_keys')]

    initial = False

    operations = [
        ops.AddField(
            model_name='DomainEvent',
            name='txid',
            field=fields.BigIntField(db_default=CurrentTransactionId()),
        ),
        ops.AddIndex(
            model_name='DomainEvent',
            index=Index(fields=['txid', 'id']),
        ),
        # `updatedSince` on tasks and interactions (the other listed records already had updated_at).
        ops.AddField(
            model_name='Task',
            name='updated_at',
            field=fields.DatetimeField(null=True, auto_now=True),
        ),
        ops.AddField(
            model_name='CustomerInteraction',
            name='updated_at',
            field=fields.DatetimeField(null=True, auto_now=True),
        ),
        ops.RunSQL([
            "UPDATE tasks SET updated_at = COALESCE(completed_at, created_at)",
            "UPDATE customer_interactions SET updated_at = created_at",
        ], reverse_sql=[]),
    ]
