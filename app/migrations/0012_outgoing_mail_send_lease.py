"""Outgoing mail gets a send lease (`lease_until`): one sender at a time claims a message before
talking to SMTP, so a job retry, the catch-up cron and a re-dispatched event never send it twice
at once."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0011_trusted_documents')]

    initial = False

    operations = [
        ops.AddField(model_name='OutgoingMail', name='lease_until', field=fields.DatetimeField(null=True)),
    ]
