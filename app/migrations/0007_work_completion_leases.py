"""Work is done when the database says so: domain events get `completed_at` (every reaction committed)
and a dispatch lease (`lease_until`, `dispatch_count`); webhook deliveries get an attempt lease.

Events dispatched before this migration count as completed (they ran under the old rules)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


async def complete_dispatched(apps, schema_editor) -> None:
    await schema_editor.client.execute_script(
        "UPDATE domain_events SET completed_at = dispatched_at WHERE dispatched_at IS NOT NULL")


async def nothing(apps, schema_editor) -> None:
    return None


class Migration(migrations.Migration):
    dependencies = [('models', '0006_sessions_and_api_keys')]

    initial = False

    operations = [
        ops.AddField(model_name='DomainEvent', name='completed_at', field=fields.DatetimeField(null=True, db_index=True)),
        ops.AddField(model_name='DomainEvent', name='lease_until', field=fields.DatetimeField(null=True)),
        ops.AddField(model_name='DomainEvent', name='dispatch_count', field=fields.IntField(default=0, db_default=0)),
        ops.AddField(model_name='WebhookDelivery', name='lease_until', field=fields.DatetimeField(null=True)),
        ops.RunPython(complete_dispatched, nothing),
    ]
