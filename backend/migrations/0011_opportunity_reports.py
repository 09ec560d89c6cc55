from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0010_certificates_and_catalogue_contacts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OpportunityReport',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('certificate', fields.OneToOneField('models.Certificate', source_field='certificate_id', db_constraint=True, to_field='id', related_name='report', on_delete=OnDelete.RESTRICT)),
                ('title', fields.CharField(max_length=300)),
                ('state', fields.CharField(default='draft', max_length=16)),
                ('need_jobs', fields.TextField(default='', unique=False)),
                ('evidence_job_offers', fields.TextField(default='', unique=False)),
                ('evidence_survey', fields.TextField(default='', unique=False)),
                ('evidence_opco', fields.TextField(default='', unique=False)),
                ('target_public', fields.TextField(default='', unique=False)),
                ('expected_per_year', fields.IntField(null=True)),
                ('existing', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('companies_consulted', fields.TextField(default='', unique=False)),
                ('assessment_mode', fields.TextField(default='', unique=False)),
                ('cpne_date', fields.DateField(null=True)),
                ('cpne_minutes', fields.CharField(default='', max_length=200)),
                ('submitted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'opportunity_report', 'app': 'models', 'pk_attr': 'id', 'table_description': "The rapport préalable d'opportunité of a CQP project, decided by the CPNE."},
            bases=['Model'],
        ),
    ]
