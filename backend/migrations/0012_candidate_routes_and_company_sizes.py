from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0011_opportunity_reports')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CandidateRoute',
            fields=[
                ('enrolment', fields.OneToOneField('models.Enrolment', source_field='enrolment_id', primary_key=True, db_index=True, db_constraint=True, to_field='id', related_name='candidate_route', on_delete=OnDelete.CASCADE)),
                ('route', fields.CharField(max_length=16)),
            ],
            options={'table': 'candidate_route', 'app': 'models', 'pk_attr': 'enrolment_id', 'table_description': 'How a candidate came to the CQP, when recorded at enrolment: employee or job seeker.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CompanySize',
            fields=[
                ('company', fields.OneToOneField('models.Organisation', source_field='company_id', primary_key=True, db_index=True, db_constraint=True, to_field='id', related_name='size', on_delete=OnDelete.CASCADE)),
                ('band', fields.CharField(max_length=8)),
            ],
            options={'table': 'company_size', 'app': 'models', 'pk_attr': 'company_id', 'table_description': "A company's headcount band, for the branch's inventory."},
            bases=['Model'],
        ),
    ]
