"""Default tiers, calendar, SLA policies, lexicon, openings and canned replies (tickets/defaults.py)."""

from django.db import migrations

from tickets.defaults import ensure_defaults


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [migrations.RunPython(ensure_defaults, migrations.RunPython.noop)]
