from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0009_pending_tutorship')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CatalogueContact',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('certificate_code', fields.CharField(max_length=64)),
                ('kind', fields.CharField(max_length=16)),
                ('full_name', fields.CharField(max_length=200)),
                ('email', fields.CharField(max_length=254)),
                ('organisation', fields.CharField(default='', max_length=200)),
                ('message', fields.TextField(unique=False)),
                ('consent', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'catalogue_contact', 'app': 'models', 'indexes': [Index(fields=['created_at'])], 'pk_attr': 'id', 'table_description': 'A message sent from the public catalogue by a company or a person interested.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Certificate',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=64)),
                ('branch', fields.ForeignKeyField('models.Organisation', source_field='branch_id', null=True, db_constraint=True, to_field='id', related_name='certificates', on_delete=OnDelete.RESTRICT)),
                ('publish_figures', fields.BooleanField(default=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'certificate', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A CQP as its branch manages it: owner branch and what the public catalogue publishes.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CertificateVersion',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('certificate', fields.ForeignKeyField('models.Certificate', source_field='certificate_id', db_constraint=True, to_field='id', related_name='versions', on_delete=OnDelete.CASCADE)),
                ('version', fields.CharField(max_length=32)),
                ('status', fields.CharField(default='open', max_length=16)),
                ('opened_on', fields.DateField(null=True)),
                ('closed_on', fields.DateField(null=True)),
                ('withdrawn_on', fields.DateField(null=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'certificate_version', 'app': 'models', 'unique_together': (('certificate', 'version'),), 'pk_attr': 'id', 'table_description': 'The status of one referential version (project, open, closed, withdrawn).'},
            bases=['Model'],
        ),
    ]
