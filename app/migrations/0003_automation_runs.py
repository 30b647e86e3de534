from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_event_log_and_feature_tables')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AutomationRun',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=200)),
                ('opportunity_id', fields.IntField(null=True, db_index=True)),
                ('trigger', fields.CharField(max_length=32)),
                ('action', fields.CharField(max_length=32)),
                ('event_id', fields.BigIntField(null=True)),
                ('status', fields.CharField(default='done', max_length=16)),
                ('detail', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'automation_runs', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One row per automation effect, written in the same transaction as the effect: a job that'},
            bases=['Model'],
        ),
    ]
