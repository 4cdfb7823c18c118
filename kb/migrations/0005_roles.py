from django.db import migrations

from core.roles import grant_from_migration


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("kb", "0004_semantic_answers"),
    ]

    operations = [migrations.RunPython(grant_from_migration("kb"), migrations.RunPython.noop)]
