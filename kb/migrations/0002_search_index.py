"""Full-text index over kb_searchdocument: FTS5 + triggers on SQLite, a generated weighted
tsvector with a GIN index on PostgreSQL (see kb/search/backends.py)."""

from django.db import migrations


def create_index(apps, schema_editor):
    from kb.search.backends import ensure_index_structures

    ensure_index_structures(schema_editor.connection)


def drop_index(apps, schema_editor):
    from kb.search.backends import drop_index_structures

    drop_index_structures(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("kb", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index)]
