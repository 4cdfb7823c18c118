from django.db import migrations

from core.roles import grant_from_migration


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("tickets", "0002_defaults"),
    ]

    operations = [migrations.RunPython(grant_from_migration("tickets"), migrations.RunPython.noop)]
