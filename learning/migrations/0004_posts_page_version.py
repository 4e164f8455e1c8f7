"""The posts list's page-cache version on PostgreSQL (common.page_cache, `sequence=`): a sequence,
read in the statement that loads the list's caller. Other databases keep it in the shared cache."""

from django.db import migrations

SEQUENCE = "learning_posts_page_version"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'CREATE SEQUENCE IF NOT EXISTS "{SEQUENCE}"')


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP SEQUENCE IF EXISTS "{SEQUENCE}"')


class Migration(migrations.Migration):
    dependencies = [
        ("learning", "0003_topic_keys"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
