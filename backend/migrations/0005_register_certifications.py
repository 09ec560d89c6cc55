from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_seal_decisions_closings_appeals')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RegisterCertification',
            fields=[
                ('number', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=16)),
                ('kind', fields.CharField(max_length=8)),
                ('title', fields.TextField(unique=False)),
                ('abbreviation', fields.CharField(default='', max_length=100)),
                ('level', fields.IntField(null=True)),
                ('active', fields.BooleanField(default=False)),
                ('state', fields.CharField(default='', max_length=64)),
                ('certifiers', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('rome_codes', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('nsf_codes', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('effective_on', fields.DateField(null=True)),
                ('ends_on', fields.DateField(null=True)),
                ('published_on', fields.DateField(null=True)),
                ('details', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('search_text', fields.TextField(default='', unique=False)),
                ('content_sha256', fields.CharField(max_length=64)),
                ('imported_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'register_certification', 'app': 'models', 'pk_attr': 'number', 'table_description': 'A certification of the national register (RNCP or RS), imported from its open data.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RegisterBlock',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('certification', fields.ForeignKeyField('models.RegisterCertification', source_field='certification_id', db_constraint=True, to_field='number', related_name='blocks', on_delete=OnDelete.CASCADE)),
                ('code', fields.CharField(max_length=64)),
                ('position', fields.IntField()),
                ('title', fields.TextField(unique=False)),
                ('competencies', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('assessment', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'register_block', 'app': 'models', 'unique_together': (('certification', 'code'),), 'pk_attr': 'id', 'table_description': 'A block of a register certification. Block codes repeat across fiches: keyed on both.'},
            bases=['Model'],
        ),
    ]
