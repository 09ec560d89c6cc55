from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_notices_and_mail_outbox')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Decision',
            name='deliberation',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Decision',
            name='excluded',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Invitation',
            name='represents_company',
            field=fields.ForeignKeyField('models.Organisation', source_field='represents_company_id', null=True, db_constraint=True, to_field='id', related_name='representative_invitations', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='JuryMember',
            name='mandate',
            field=fields.CharField(default='', max_length=32),
        ),
        ops.AddField(
            model_name='JuryMember',
            name='represents',
            field=fields.CharField(default='', max_length=200),
        ),
        ops.AddField(
            model_name='Person',
            name='represents_company',
            field=fields.ForeignKeyField('models.Organisation', source_field='represents_company_id', null=True, db_constraint=True, to_field='id', related_name='representatives', on_delete=OnDelete.RESTRICT),
        ),
    ]
