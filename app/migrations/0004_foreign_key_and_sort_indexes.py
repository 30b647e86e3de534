from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_automation_runs')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Account',
            name='assigned_to',
            field=fields.ForeignKeyField('models.User', source_field='assigned_to_id', db_index=True, db_constraint=True, to_field='id', related_name='accounts', on_delete=OnDelete.RESTRICT),
        ),
        ops.AlterField(
            model_name='Account',
            name='parent',
            field=fields.ForeignKeyField('models.Account', source_field='parent_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='subsidiaries', on_delete=OnDelete.RESTRICT),
        ),
        ops.AlterField(
            model_name='AccountHealthSnapshot',
            name='account',
            field=fields.ForeignKeyField('models.Account', source_field='account_id', db_index=True, db_constraint=True, to_field='id', related_name='health_snapshots', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterField(
            model_name='Contact',
            name='account',
            field=fields.ForeignKeyField('models.Account', source_field='account_id', db_index=True, db_constraint=True, to_field='id', related_name='contacts', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterField(
            model_name='Contract',
            name='account',
            field=fields.ForeignKeyField('models.Account', source_field='account_id', db_index=True, db_constraint=True, to_field='id', related_name='contracts', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterField(
            model_name='CustomerInteraction',
            name='opportunity',
            field=fields.ForeignKeyField('models.Opportunity', source_field='opportunity_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='interactions', on_delete=OnDelete.SET_NULL),
        ),
        ops.AlterField(
            model_name='InteractionParticipant',
            name='interaction',
            field=fields.ForeignKeyField('models.CustomerInteraction', source_field='interaction_id', db_index=True, db_constraint=True, to_field='id', related_name='participants', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterField(
            model_name='Location',
            name='account',
            field=fields.ForeignKeyField('models.Account', source_field='account_id', db_index=True, db_constraint=True, to_field='id', related_name='locations', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterField(
            model_name='Notification',
            name='user',
            field=fields.ForeignKeyField('models.User', source_field='user_id', db_index=True, db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterField(
            model_name='Opportunity',
            name='account',
            field=fields.ForeignKeyField('models.Account', source_field='account_id', db_index=True, db_constraint=True, to_field='id', related_name='opportunities', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddIndex(
            model_name='Opportunity',
            index=Index(fields=['created_at', 'id']),
        ),
        ops.AddIndex(
            model_name='Opportunity',
            index=Index(fields=['updated_at', 'id']),
        ),
        ops.AddIndex(
            model_name='Opportunity',
            index=Index(fields=['value', 'id']),
        ),
        ops.AddIndex(
            model_name='Opportunity',
            index=Index(fields=['stage_id']),
        ),
        ops.AlterField(
            model_name='OpportunityActivity',
            name='opportunity',
            field=fields.ForeignKeyField('models.Opportunity', source_field='opportunity_id', db_index=True, db_constraint=True, to_field='id', related_name='activities', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterField(
            model_name='OpportunityDocument',
            name='opportunity',
            field=fields.ForeignKeyField('models.Opportunity', source_field='opportunity_id', db_index=True, db_constraint=True, to_field='id', related_name='documents', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterField(
            model_name='OpportunityProduct',
            name='opportunity',
            field=fields.ForeignKeyField('models.Opportunity', source_field='opportunity_id', db_index=True, db_constraint=True, to_field='id', related_name='products', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterField(
            model_name='StageTransition',
            name='opportunity',
            field=fields.ForeignKeyField('models.Opportunity', source_field='opportunity_id', db_index=True, db_constraint=True, to_field='id', related_name='stage_transitions', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterField(
            model_name='Task',
            name='assignee',
            field=fields.ForeignKeyField('models.User', source_field='assignee_id', db_index=True, db_constraint=True, to_field='id', related_name='tasks', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterField(
            model_name='Task',
            name='opportunity',
            field=fields.ForeignKeyField('models.Opportunity', source_field='opportunity_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='tasks', on_delete=OnDelete.CASCADE),
        ),
    ]
