"""Stage requirements get a moment (`when`: entry or exit). Deals are created in a pipeline's first
open stage, so an entry requirement there on activities or products could never be met: such
requirements become exit requirements (what must be true to move on), which is how the default
pipeline's discovery gate (a completed call and a budget) reads."""

from tortoise import migrations
from tortoise.migrations import operations as ops

UNMEETABLE_AT_CREATION = ("activity_completed", "products_selected")


async def entry_gates_of_creation_stages_to_exit(apps, schema_editor) -> None:
    import json

    client = schema_editor.client
    _, rows = await client.execute_query(
        "SELECT id, pipeline_id, \"order\", requirements FROM pipeline_stages WHERE kind = 'open'")
    first: dict = {}
    for row in rows:
        row = dict(row)
        if row["pipeline_id"] not in first or row["order"] < first[row["pipeline_id"]]["order"]:
            first[row["pipeline_id"]] = row
    for stage in first.values():
        requirements = stage["requirements"]
        if isinstance(requirements, str):
            requirements = json.loads(requirements)
        changed = False
        for requirement in requirements or []:
            if requirement.get("type") in UNMEETABLE_AT_CREATION and requirement.get("when", "entry") == "entry":
                requirement["when"] = "exit"
                changed = True
        if changed:
            # Parameters work the same on both databases through Tortoise's client.
            await client.execute_query("UPDATE pipeline_stages SET requirements = "
                                       + ("$1::jsonb" if client.capabilities.dialect == "postgres" else "?")
                                       + " WHERE id = " + ("$2" if client.capabilities.dialect == "postgres" else "?"),
                                       [json.dumps(requirements), stage["id"]])


async def nothing(apps, schema_editor) -> None:
    return None


class Migration(migrations.Migration):
    dependencies = [('models', '0012_outgoing_mail_send_lease')]

    initial = False

    operations = [
        ops.RunPython(entry_gates_of_creation_stages_to_exit, nothing),
    ]
