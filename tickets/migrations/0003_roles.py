from django.db import migrations

from helpcenter.roles import ensure_roles


class Migration(migrations.Migration):
    dependencies = [("tickets", "0002_defaults"), ("helpcenter", "0001_roles")]

    operations = [migrations.RunPython(ensure_roles, migrations.RunPython.noop)]
