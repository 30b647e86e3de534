"""PostgreSQL: tell API processes, at commit, that a table their read cache depends on changed.

A statement-level trigger calls pg_notify(channel, table name). NOTIFY is transactional: listeners
hear it only when the writing transaction commits, never for a rollback, whichever process or tool
wrote (services, workers, psql). SQLite has no NOTIFY: the read cache is off there, nothing to do.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

CHANNEL = "crm_table_changes"

# Every table a cached read (app/api/fastpath.py, its authentication included) reads from.
TABLES = (
    "users", "accounts", "contacts", "products", "pipelines", "pipeline_stages", "opportunities",
    "opportunity_products", "opportunity_activities", "opportunity_documents", "stage_transitions",
)


async def _is_postgres(schema_editor) -> bool:
    return schema_editor.client.capabilities.dialect == "postgres"


async def create_triggers(apps, schema_editor) -> None:
    if not await _is_postgres(schema_editor):
        return
    await schema_editor.client.execute_script(
        "CREATE OR REPLACE FUNCTION crm_notify_table_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME); RETURN NULL; END $$"
    )
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
    await schema_editor.client.execute_script("DROP FUNCTION IF EXISTS crm_notify_table_change()")


class Migration(migrations.Migration):
    dependencies = [('models', '0004_foreign_key_and_sort_indexes')]

    initial = False

    operations = [ops.RunPython(create_triggers, drop_triggers)]
