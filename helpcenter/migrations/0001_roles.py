from django.db import migrations

from helpcenter.roles import ensure_roles


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("kb", "0002_search_index"),
    ]

    operations = [migrations.RunPython(ensure_roles, migrations.RunPython.noop)]
