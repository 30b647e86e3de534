from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0010_read_cache_sharing_tables')]

    initial = False

    operations = [
        ops.CreateModel(
            name='TrustedDocument',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=128)),
                ('body', fields.TextField()),
                ('operation_name', fields.CharField(null=True, max_length=200)),
                ('operation_type', fields.CharField(null=True, max_length=16)),
                ('client_name', fields.CharField(null=True, max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'trusted_documents', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One document of a client build, keyed by the sha256 (hex) of its exact text, as Apollo'},
            bases=['Model'],
        ),
    ]
