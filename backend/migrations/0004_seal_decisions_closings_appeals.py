from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_login_attempts_and_person_tokens')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Decision',
            name='decision_sha256',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Dossier',
            name='appeal_sha256',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='JurySession',
            name='minutes_sha256',
            field=fields.CharField(null=True, max_length=64),
        ),
    ]
