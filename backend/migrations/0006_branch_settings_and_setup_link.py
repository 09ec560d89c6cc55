from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_register_certifications')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Invitation',
            name='invited_by',
            field=fields.ForeignKeyField('models.Person', source_field='invited_by_id', null=True, db_constraint=True, to_field='id', related_name='invitations_sent', on_delete=OnDelete.CASCADE),
        ),
        ops.AddField(
            model_name='Organisation',
            name='address',
            field=fields.TextField(default='', unique=False),
        ),
        ops.AddField(
            model_name='Organisation',
            name='contact',
            field=fields.CharField(default='', max_length=200),
        ),
        ops.AddField(
            model_name='Organisation',
            name='logo',
            field=fields.BinaryField(null=True),
        ),
        ops.AddField(
            model_name='Organisation',
            name='logo_type',
            field=fields.CharField(default='', max_length=32),
        ),
        ops.AddField(
            model_name='Organisation',
            name='time_zone',
            field=fields.CharField(default='Europe/Paris', max_length=64),
        ),
    ]
