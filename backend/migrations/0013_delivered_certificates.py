from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0012_candidate_routes_and_company_sizes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DeliveredCertificate',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('enrolment', fields.OneToOneField('models.Enrolment', source_field='enrolment_id', db_constraint=True, to_field='id', related_name='delivered_certificate', on_delete=OnDelete.CASCADE)),
                ('number', fields.CharField(unique=True, max_length=64)),
                ('delivered_on', fields.DateField()),
                ('referential_version', fields.CharField(max_length=32)),
                ('record', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('record_sha256', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'delivered_certificate', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A certificate delivered to a candidate: its number, its date and what it rests on (the'},
            bases=['Model'],
        ),
    ]
