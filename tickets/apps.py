from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_save

        from tickets.chat.broadcast import close_agent_consoles
        from tickets.tasks import ensure_schedules

        # Periodic tasks are data in django-q2's table, upserted after migrate.
        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="tickets.ensure_schedules")
        # Security: an open agent socket must not outlive its sign-out or deactivation.
        user_logged_out.connect(close_agent_consoles, dispatch_uid="tickets.close_consoles_logout")
        post_save.connect(
            close_agent_consoles,
            sender=get_user_model(),
            dispatch_uid="tickets.close_consoles_save",
        )
