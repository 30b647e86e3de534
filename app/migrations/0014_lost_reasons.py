"""The lost-reason picklist (`lost_reasons`) and the key a lost deal names (`opportunities.lost_reason_key`).
Existing lost deals are mapped: a free-text reason that matches an entry's name or key (case and
spaces ignored) names that entry, any other names "other" and stays as the free-text detail."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

async def seed_and_map(apps, schema_editor) -> None:
    from app.domain.pipeline_defaults import DEFAULT_LOST_REASONS

    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"

    def params(n: int) -> str:
        return ", ".join(f"${i}" if postgres else "?" for i in range(1, n + 1))

    _, existing = await client.execute_query("SELECT COUNT(*) AS n FROM lost_reasons")
    if not dict(existing[0])["n"]:
        for position, reason in enumerate(DEFAULT_LOST_REASONS, start=1):
            await client.execute_query(
                f"INSERT INTO lost_reasons (key, name, description, is_active, position, created_at) "
                f"VALUES ({params(5)}, CURRENT_TIMESTAMP)",
                [reason["key"], reason["name"], reason["description"], True, position])
    _, reasons = await client.execute_query("SELECT key, name FROM lost_reasons")
    by_text = {}
    for row in map(dict, reasons):
        by_text[" ".join(row["name"].lower().split())] = row["key"]
        by_text[row["key"]] = row["key"]
    _, lost = await client.execute_query(
        "SELECT o.id, o.lost_reason FROM opportunities o JOIN pipeline_stages s ON s.id = o.stage_id "
        "WHERE s.kind = 'lost' AND o.lost_reason_key IS NULL")
    for row in map(dict, lost):
        text = " ".join((row["lost_reason"] or "").lower().split())
        key = by_text.get(text, "other")
        await client.execute_query(f"UPDATE opportunities SET lost_reason_key = {params(1)} WHERE id = "
                                   + ("$2" if postgres else "?"), [key, row["id"]])


async def nothing(apps, schema_editor) -> None:
    return None


class Migration(migrations.Migration):
    dependencies = [('models', '0013_requirement_moments')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LostReason',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=50)),
                ('name', fields.CharField(unique=True, max_length=100)),
                ('description', fields.TextField(default='', unique=False)),
                ('is_active', fields.BooleanField(default=True)),
                ('position', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'lost_reasons', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An entry of the lost-reason picklist admins keep: deals closed as lost name one by `key`'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Opportunity',
            name='lost_reason_key',
            field=fields.CharField(null=True, db_index=True, max_length=50),
        ),
        ops.RunPython(seed_and_map, nothing),
    ]
