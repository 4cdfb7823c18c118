"""Who hears about what. Each notification is a row with a unique dedupe key (so a fact is
mailed once, however often it is reported), sent by a task; a failure is recorded and retried
by the minute sweep up to MAX_ATTEMPTS, and never reaches the request that caused it.

Customers: ticket received (with a link), agent replied, ticket solved — in their language. An
unverified contact's mails go to its address (whose owner is the real person), and its "ticket
received" mail carries the link to claim the request.
Agents: assigned to them, SLA warning, SLA breach (breaches also to the team lead)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from core.tasks import enqueue
from tickets import selectors
from tickets.models import AuthorKind, EventKind, Message, Notification, Ticket

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
RETRY_AFTER = timedelta(minutes=1)


def _create(kind: str, ticket: Ticket, recipient: str, language: str, key: str) -> None:
    if not recipient:
        return
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                kind=kind, ticket=ticket, recipient=recipient, language=language,
                dedupe_key=f"{kind}:{key}:{recipient}"[:160],
            )  # fmt: skip
    except IntegrityError:
        return  # already notified of this fact
    transaction.on_commit(
        lambda: enqueue("tickets.tasks.notification_send", notification.pk), robust=True
    )


def _customer_email(ticket: Ticket) -> tuple[str, str]:
    customer = ticket.customer
    return customer.contact_email, customer.language


def _staff_language() -> str:
    return settings.LANGUAGE_CODE


def _safely(function):
    def wrapper(**kwargs):
        try:
            function(**kwargs)
        except Exception:
            logger.exception("Notification %s(%r) failed", function.__name__, kwargs)

    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    return wrapper


@_safely
def ticket_received(*, ticket_id: int) -> None:
    ticket = Ticket.objects.select_related("customer").get(pk=ticket_id)
    email, language = _customer_email(ticket)
    _create("ticket_received", ticket, email, language, str(ticket.pk))


@_safely
def message_posted(*, message_id: int) -> None:
    message = Message.objects.select_related("ticket__customer", "ticket__assignee").get(
        pk=message_id
    )
    ticket = message.ticket
    if message.is_internal:
        return
    if message.author_kind in (AuthorKind.AGENT, AuthorKind.BOT) and ticket.channel != "chat":
        email, language = _customer_email(ticket)
        _create("agent_replied", ticket, email, language, str(message.pk))
    elif message.author_kind == AuthorKind.CUSTOMER and ticket.assignee and ticket.assignee.email:
        _create(
            "customer_replied", ticket, ticket.assignee.email, _staff_language(), str(message.pk)
        )


@_safely
def ticket_solved(*, ticket_id: int) -> None:
    ticket = Ticket.objects.select_related("customer").get(pk=ticket_id)
    email, language = _customer_email(ticket)
    stamp = ticket.solved_at.isoformat() if ticket.solved_at else "now"
    _create("ticket_solved", ticket, email, language, f"{ticket.pk}:{stamp}")


@_safely
def ticket_assigned(*, ticket_id: int, user_id: int) -> None:
    ticket = Ticket.objects.select_related("assignee").get(pk=ticket_id)
    if ticket.assignee_id != user_id or not ticket.assignee.email:
        return
    # One mail per assignment: the assignment event's id is the fact.
    event = ticket.events.filter(kind=EventKind.ASSIGNEE).order_by("-pk").first()
    key = f"{ticket.pk}:{user_id}:{event.pk if event else 0}"
    _create("ticket_assigned", ticket, ticket.assignee.email, _staff_language(), key)


@_safely
def sla_alert(*, ticket_id: int, kind: str, clock: str) -> None:
    ticket = Ticket.objects.select_related("assignee", "team__lead").get(pk=ticket_id)
    recipients = set()
    if ticket.assignee and ticket.assignee.email:
        recipients.add(ticket.assignee.email)
    if kind == EventKind.SLA_BREACH and ticket.team and ticket.team.lead and ticket.team.lead.email:
        recipients.add(ticket.team.lead.email)
    due = {"first_response": ticket.first_response_due, "next_response": ticket.next_response_due,
           "resolution": ticket.resolution_due}.get(clock)  # fmt: skip
    key = f"{ticket.pk}:{clock}:{due.isoformat() if due else ''}"
    for email in sorted(recipients):
        _create(kind, ticket, email, _staff_language(), key)


# --- Sending -----------------------------------------------------------------------------------

SUBJECTS = {
    "ticket_received": _("[%(ref)s] We received your request: %(subject)s"),
    "agent_replied": _("[%(ref)s] New reply to your request: %(subject)s"),
    "ticket_solved": _("[%(ref)s] Your request was solved: %(subject)s"),
    "customer_replied": _("[%(ref)s] Customer replied: %(subject)s"),
    "ticket_assigned": _("[%(ref)s] Assigned to you: %(subject)s"),
    "sla_warning": _("[%(ref)s] SLA deadline approaching: %(subject)s"),
    "sla_breach": _("[%(ref)s] SLA breached: %(subject)s"),
}
CUSTOMER_KINDS = {"ticket_received", "agent_replied", "ticket_solved"}


def _context(notification: Notification) -> dict:
    ticket = notification.ticket
    customer_facing = notification.kind in CUSTOMER_KINDS
    link = (
        ticket.get_guest_url() if customer_facing else f"/admin/tickets/ticket/{ticket.pk}/change/"
    )
    last_reply = None
    if notification.kind == "agent_replied":
        last_reply = ticket.messages.public().filter(author_kind=AuthorKind.AGENT).last()
    claim_link = None
    if notification.kind == "ticket_received" and ticket.customer.is_unverified_contact:
        # Made now, in the task: the token exists only in the mail, not in the database.
        claim_link = settings.SITE_URL + reverse(
            "tickets:claim", kwargs={"token": selectors.claim_token(ticket)}
        )
    return {
        "ticket": ticket,
        "customer": ticket.customer,
        "link": settings.SITE_URL + link,
        "claim_link": claim_link,
        "site_name": settings.SITE_NAME,
        "reply": last_reply,
        "kind": notification.kind,
    }


def notification_send(notification_id: int) -> bool:
    """Send one notification (a task). Returns whether it is sent now."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("ticket__customer")
            .filter(pk=notification_id)
            .first()
        )
        if notification is None or notification.state == Notification.State.SENT:
            return notification is not None
        if notification.attempts >= MAX_ATTEMPTS:
            return False
        notification.attempts += 1
        try:
            with translation.override(notification.language):
                context = _context(notification)
                subject = str(SUBJECTS[notification.kind]) % {
                    "ref": notification.ticket.reference,
                    "subject": notification.ticket.subject,
                }
                text = render_to_string(f"tickets/email/{notification.kind}.txt", context)
                html = render_to_string(f"tickets/email/{notification.kind}.html", context)
            email = EmailMultiAlternatives(
                subject=" ".join(subject.split())[:200], body=text, to=[notification.recipient]
            )
            email.attach_alternative(html, "text/html")
            email.send()
        except Exception as exc:  # noqa: BLE001 - any mail failure is recorded and retried
            logger.warning("Sending notification %s failed: %s", notification.pk, exc)
            notification.state = Notification.State.FAILED
            notification.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            notification.save(update_fields=["state", "attempts", "last_error"])
            return False
        notification.state = Notification.State.SENT
        notification.sent_at = timezone.now()
        notification.save(update_fields=["state", "attempts", "sent_at"])
        return True


def notifications_retry(*, now=None) -> int:
    """Send what failed or was never sent (lost enqueue), up to MAX_ATTEMPTS (every minute)."""
    now = now or timezone.now()
    due = Notification.objects.filter(
        state__in=[Notification.State.PENDING, Notification.State.FAILED],
        attempts__lt=MAX_ATTEMPTS,
        created_at__lte=now - RETRY_AFTER,
        created_at__gte=now - timedelta(days=2),
    ).values_list("pk", flat=True)[:500]
    return sum(notification_send(pk) for pk in list(due))
