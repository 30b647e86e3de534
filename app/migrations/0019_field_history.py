from tortoise import migrations
from tortoise.migrations import operations as ops
from app.domain.enums import ChangeSource
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0018_last_activity')]

    initial = False

    operations = [
        ops.CreateModel(
            name='FieldHistoryEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('opportunity_id', fields.IntField(null=True)),
                ('account_id', fields.IntField(null=True)),
                ('contact_id', fields.IntField(null=True)),
                ('field', fields.CharField(max_length=64)),
                ('before', fields.TextField(null=True, unique=False)),
                ('after', fields.TextField(null=True, unique=False)),
                ('source', fields.CharEnumField(default=ChangeSource.API, description='API: api\nAUTOMATION: automation\nIMPORT: import', enum_type=ChangeSource, max_length=16)),
                ('changed_by', fields.ForeignKeyField('models.User', source_field='changed_by_id', null=True, db_constraint=False, to_field='id', related_name="field_history", on_delete=OnDelete.SET_NULL)),
                ('changed_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'field_history', 'app': 'models', 'indexes': [Index(fields=['opportunity_id', 'id']), Index(fields=['account_id', 'id']), Index(fields=['contact_id', 'id'])], 'pk_attr': 'id', 'table_description': 'Exactly one of opportunity_id, account_id, contact_id names the record (no foreign-key'},
            bases=['Model'],
        ),
    ]
