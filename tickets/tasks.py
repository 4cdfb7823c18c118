"""django-q2 tasks: each loads by id and calls a service. Schedules are upserted after migrate."""

from django.utils import timezone

from tickets import notifications, services

# name -> (function path, minutes between runs)
SCHEDULES = {
    "tickets: SLA sweep": ("tickets.tasks.sla_sweep", 1),
    "tickets: retry notifications": ("tickets.tasks.notifications_retry", 1),
    "tickets: close solved tickets": ("tickets.tasks.tickets_close_solved", 60),
    "tickets: forget old idempotency keys": ("tickets.tasks.idempotency_keys_expire", 24 * 60),
    "chat: end idle bot chats": ("tickets.tasks.chats_close_idle", 10),
}
IDEMPOTENCY_KEY_DAYS = 30


def sla_sweep() -> str:
    report = services.sla_sweep(now=timezone.now())
    return f"checked {report.checked}, warnings {len(report.warnings)}, breaches {len(report.breaches)}"


def notifications_retry() -> int:
    return notifications.notifications_retry()


def tickets_close_solved() -> int:
    return services.tickets_close_solved()


def idempotency_keys_expire() -> int:
    """A client retries within minutes; after a month a key only takes space."""
    from datetime import timedelta

    from tickets.models import IdempotencyKey

    cutoff = timezone.now() - timedelta(days=IDEMPOTENCY_KEY_DAYS)
    return IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()[0]


def chats_close_idle() -> int:
    from tickets.chat.services import close_idle_bot_chats

    return close_idle_bot_chats()


def ticket_auto_assign(ticket_id: int) -> None:
    services.ticket_auto_assign(ticket_id=ticket_id)


def notification_send(notification_id: int) -> bool:
    return notifications.notification_send(notification_id)


def account_mail_send(kind: str, user_id: int, language: str) -> bool:
    from tickets.services.accounts import account_mail_send

    return account_mail_send(kind=kind, user_id=user_id, language=language)


def sla_recompute(policy_ids: list[int] | None = None) -> int:
    return services.sla_recompute(policy_ids=policy_ids)


def ensure_schedules(**kwargs) -> None:
    """Create or update the periodic tasks (connected to post_migrate)."""
    from django_q.models import Schedule

    for name, (func, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
            },
        )
