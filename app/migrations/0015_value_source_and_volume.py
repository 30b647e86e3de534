"""Where a deal's value comes from (`opportunities.value_source`) and contract lines
(`opportunity_products.contract_weeks`). Existing deals: one whose value equals its lines' sum keeps
following them (PRODUCTS), as does one with neither lines nor value; any other value was typed (MANUAL)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from app.domain.enums import ValueSource
from tortoise import fields


async def classify_values(apps, schema_editor) -> None:
    await schema_editor.client.execute_script("""
UPDATE opportunities SET value_source = 'products'
WHERE (EXISTS (SELECT 1 FROM opportunity_products op WHERE op.opportunity_id = opportunities.id)
       AND value = (SELECT SUM(op.total_price) FROM opportunity_products op
                    WHERE op.opportunity_id = opportunities.id))
   OR (value = 0 AND NOT EXISTS (SELECT 1 FROM opportunity_products op WHERE op.opportunity_id = opportunities.id));
""")


async def nothing(apps, schema_editor) -> None:
    return None


class Migration(migrations.Migration):
    dependencies = [('models', '0014_lost_reasons')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Opportunity',
            name='value_source',
            field=fields.CharEnumField(default=ValueSource.MANUAL, db_default=ValueSource.MANUAL, description='MANUAL: manual\nPRODUCTS: products', enum_type=ValueSource, max_length=16),
        ),
        ops.AddField(
            model_name='OpportunityProduct',
            name='contract_weeks',
            field=fields.IntField(null=True),
        ),
        ops.RunPython(classify_values, nothing),
    ]
