"""PostgreSQL: the read cache also depends on account team membership.

The compiled read path now checks who may read a contact or a parent account (app.queries.visibility),
and that depends on the current account team: a change to `account_team_members` must void cached
results like a change to any other table they read (same trigger function as migration 0005).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

TABLES = ("account_team_members",)


async def _is_postgres(schema_editor) -> bool:
    return schema_editor.client.capabilities.dialect == "postgres"


async def create_triggers(apps, schema_editor) -> None:
    if not await _is_postgres(schema_editor):
        return
    for table in TABLES:
        await schema_editor.client.execute_script(
            f'CREATE TRIGGER crm_notify_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{table}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION crm_notify_table_change()"
        )


async def drop_triggers(apps, schema_editor) -> None:
    if not await _is_postgres(schema_editor):
        return
    for table in TABLES:
        await schema_editor.client.execute_script(f'DROP TRIGGER IF EXISTS crm_notify_change ON "{table}"')


class Migration(migrations.Migration):
    dependencies = [('models', '0009_event_log_positions')]

    initial = False

    operations = [ops.RunPython(create_triggers, drop_triggers)]
