from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_person_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LoginAttempt',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('attempts', fields.IntField(default=0)),
                ('allowance', fields.IntField()),
                ('blocked_until', fields.BigIntField(default=0)),
                ('last_at', fields.BigIntField(default=0)),
            ],
            options={'table': 'login_attempt', 'app': 'models', 'pk_attr': 'key', 'table_description': 'Login attempts per key: an account, a client address, or both (keys are'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PersonToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='tokens', on_delete=OnDelete.CASCADE)),
                ('purpose', fields.CharField(max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'person_token', 'app': 'models', 'indexes': [Index(fields=['person_id'])], 'pk_attr': 'id', 'table_description': 'A single-use link mailed to a person (password reset, lifting a login lock):'},
            bases=['Model'],
        ),
        ops.DeleteModel(name='LoginThrottle'),
    ]
