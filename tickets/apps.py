from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        from tickets.tasks import ensure_schedules

        # The one signal here: periodic tasks are data in django-q2's table, upserted after migrate.
        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="tickets.ensure_schedules")
