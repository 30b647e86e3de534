"""A deal activity's interaction (`opportunity_activities.interaction_id`, app.domain.contact_log).
Existing pairs are linked: an interaction on a deal and the activity it added after it (same deal,
subject and moment), each activity to one interaction at most."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields


async def link_existing_pairs(apps, schema_editor) -> None:
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    _, pairs = await client.execute_query("""
SELECT a.id AS activity_id, i.id AS interaction_id
FROM opportunity_activities a
JOIN customer_interactions i ON i.opportunity_id = a.opportunity_id AND i.subject = a.subject
                            AND i.occurred_at = a.completed_at
WHERE a.interaction_id IS NULL AND a.type <> 'system'
ORDER BY i.id, a.id""")
    taken_activities: set[int] = set()
    taken_interactions: set[int] = set()
    for row in map(dict, pairs):
        if row["activity_id"] in taken_activities or row["interaction_id"] in taken_interactions:
            continue
        taken_activities.add(row["activity_id"])
        taken_interactions.add(row["interaction_id"])
        await client.execute_query(
            "UPDATE opportunity_activities SET interaction_id = " + ("$1 WHERE id = $2" if postgres else "? WHERE id = ?"),
            [row["interaction_id"], row["activity_id"]])


async def nothing(apps, schema_editor) -> None:
    return None


class Migration(migrations.Migration):
    dependencies = [('models', '0015_value_source_and_volume')]

    initial = False

    operations = [
        ops.AddField(
            model_name='OpportunityActivity',
            name='interaction',
            field=fields.OneToOneField('models.CustomerInteraction', source_field='interaction_id', null=True, db_constraint=True, to_field='id', related_name='activity', on_delete=OnDelete.CASCADE),
        ),
        ops.RunPython(link_existing_pairs, nothing),
    ]
