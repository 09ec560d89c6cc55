from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0008_jury_votes_mandates_representatives')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PendingTutorship',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('enrolment', fields.ForeignKeyField('models.Enrolment', source_field='enrolment_id', db_constraint=True, to_field='id', related_name='pending_tutors', on_delete=OnDelete.CASCADE)),
                ('invitation', fields.ForeignKeyField('models.Invitation', source_field='invitation_id', db_constraint=True, to_field='id', related_name='pending_tutorships', on_delete=OnDelete.CASCADE)),
                ('designated_on', fields.DateField()),
            ],
            options={'table': 'pending_tutorship', 'app': 'models', 'unique_together': (('enrolment', 'invitation'),), 'pk_attr': 'id', 'table_description': 'A tutor designated through an invitation not yet accepted: the enrolment waits'},
            bases=['Model'],
        ),
    ]
