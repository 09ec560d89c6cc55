from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='JuryMember',
            index=Index(fields=['person_id']),
        ),
        ops.AddIndex(
            model_name='LoginSession',
            index=Index(fields=['person_id']),
        ),
        ops.AddIndex(
            model_name='Tutorship',
            index=Index(fields=['tutor_id']),
        ),
    ]
