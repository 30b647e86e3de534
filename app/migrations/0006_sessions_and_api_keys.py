"""Sessions (refresh-token families), refresh tokens, API keys and service-account users.

On PostgreSQL the read cache (migration 0005) must forget a cached authentication when a session or
an API key is revoked: row triggers NOTIFY only for those writes (not for every login, refresh or
last-used stamp, which would void the whole cache for nothing)."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

CHANNEL = "crm_table_changes"


async def create_triggers(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect != "postgres":
        return
    # crm_notify_table_change() comes from migration 0005.
    await schema_editor.client.execute_script(
        'CREATE TRIGGER crm_notify_revocation AFTER INSERT OR UPDATE ON "sessions" FOR EACH ROW '
        "WHEN (NEW.revoked_at IS NOT NULL) EXECUTE FUNCTION crm_notify_table_change()"
    )
    await schema_editor.client.execute_script(
        'CREATE TRIGGER crm_notify_revocation AFTER UPDATE ON "api_keys" FOR EACH ROW '
        "WHEN (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at) EXECUTE FUNCTION crm_notify_table_change()"
    )


async def drop_triggers(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect != "postgres":
        return
    for table in ("sessions", "api_keys"):
        await schema_editor.client.execute_script(f'DROP TRIGGER IF EXISTS crm_notify_revocation ON "{table}"')


class Migration(migrations.Migration):
    dependencies = [('models', '0005_read_cache_change_notifications')]

    initial = False

    operations = [
        ops.AddField(
            model_name='User',
            name='is_service_account',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.CreateModel(
            name='Session',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_reason', fields.CharField(null=True, max_length=64)),
            ],
            options={'table': 'sessions', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RefreshToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('session', fields.ForeignKeyField('models.Session', source_field='session_id', db_constraint=True, to_field='id', related_name='refresh_tokens', on_delete=OnDelete.CASCADE)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'refresh_tokens', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiKey',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='api_keys', on_delete=OnDelete.CASCADE)),
                ('key_hash', fields.CharField(unique=True, max_length=64)),
                ('prefix', fields.CharField(max_length=16)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='created_api_keys', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_keys', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.RunPython(create_triggers, drop_triggers),
    ]
