"""When a deal was last worked (`opportunities.last_activity_at`, sortable): its latest done,
non-system activity, filled in for existing deals."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index


async def fill(apps, schema_editor) -> None:
    await schema_editor.client.execute_script("""
UPDATE opportunities SET last_activity_at = (
    SELECT MAX(a.completed_at) FROM opportunity_activities a
    WHERE a.opportunity_id = opportunities.id AND a.type <> 'system' AND a.completed_at IS NOT NULL)""")


async def nothing(apps, schema_editor) -> None:
    return None


class Migration(migrations.Migration):
    dependencies = [('models', '0017_search')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Opportunity',
            name='last_activity_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='Opportunity',
            index=Index(fields=['last_activity_at', 'id']),
        ),
        ops.RunPython(fill, nothing),
    ]
