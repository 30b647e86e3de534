"""Personal data (app.services.personal_data): `contacts.erased_at` marks an anonymised contact, and
`audit_entries` records who exported or erased whose data, and when."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0019_field_history')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('actor', fields.ForeignKeyField('models.User', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name='audit_entries', on_delete=OnDelete.SET_NULL)),
                ('action', fields.CharField(max_length=64)),
                ('record_type', fields.CharField(max_length=64)),
                ('record_id', fields.IntField()),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('detail', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'audit_entries', 'app': 'models', 'indexes': [Index(fields=['record_type', 'record_id'])], 'pk_attr': 'id', 'table_description': 'Append-only, written in the transaction of what it records: its detail holds no personal data.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Contact',
            name='erased_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
