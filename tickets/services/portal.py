"""What a customer does on the site besides chatting: submit a request (as a signed-in
customer or a guest), claim a request sent with their address, mark it solved, reopen it, open
a suggested article."""

from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.tasks import enqueue
from tickets.attachments import CheckedUpload
from tickets.models import Channel, Event, EventKind, Lane, Status, Ticket
from tickets.models.tickets import ACTIVE_STATUSES, new_access_key
from tickets.services.clocks import ticket_apply_sla
from tickets.services.customers import customer_for_guest, customer_for_user, normalize_email
from tickets.services.idempotency import create_once, idempotency_scope, request_fingerprint
from tickets.services.tickets import (
    suggestion_view_record,
    suggestions_convert,
    ticket_create,
    ticket_update,
)


def request_submit(
    *,
    user,
    subject: str,
    body: str,
    attachments: Sequence[CheckedUpload] = (),
    email: str = "",
    name: str = "",
    language: str | None = None,
    visitor_key: str = "",
    submission: str = "",
) -> tuple[Ticket, bool]:
    """(ticket, created): a request from the site, for the signed-in user's customer or the
    guest with this email. ``submission`` names one posting of the form (tickets.forms.OnceForm:
    its one-time nonce with what was posted): posted again (a double click, a resend after an
    error), it returns the ticket the first post made instead of making another. Suggested
    articles the visitor opened before submitting were not deflections after all."""
    fields = {"subject": subject, "body": body, "email": email, "name": name}
    request_hash = (
        request_fingerprint({**fields, "attachments": list(attachments)}) if submission else ""
    )
    return create_once(
        scope=idempotency_scope(user=user, email=email),
        key=submission,
        request_hash=request_hash,
        create=lambda: _request_create(
            user=user, subject=subject, body=body, attachments=attachments, email=email,
            name=name, language=language, visitor_key=visitor_key,
        ),
    )  # fmt: skip


@transaction.atomic
def _request_create(
    *, user, subject, body, attachments, email, name, language, visitor_key
) -> Ticket:
    """The ticket of a request from the site: the signed-in user's customer, or the guest's (an
    unverified contact when the email is a registered customer's: customer_for_guest)."""
    if user is not None and user.is_authenticated:
        customer = customer_for_user(user=user)
        actor = user
    else:
        customer = customer_for_guest(email=email, name=name, language=language)
        actor = None
    ticket = ticket_create(
        customer=customer, subject=subject, body=body, channel=Channel.WEB,
        attachments=attachments, actor=actor,
    )  # fmt: skip
    if visitor_key:
        suggestions_convert(visitor_key=visitor_key, ticket=ticket)
    return ticket


@transaction.atomic
def request_claim(*, ticket: Ticket, email: str, user) -> Ticket:
    """The owner of ``email``, signed in, adds a request that was sent with their address
    without signing in (an unverified contact's) to their account: it moves to their customer,
    takes their lane and SLA, and is routed again if nobody has it yet. Its guest link stops
    working, so whoever submitted it does not see the replies made to the account."""
    email = normalize_email(email)
    if not (user.is_authenticated and user.is_active and normalize_email(user.email) == email):
        raise ValidationError(
            _("This request was sent with another email address than your account's.")
        )
    customer = customer_for_user(user=user)
    ticket = (
        Ticket.objects.select_for_update(of=("self",)).select_related("customer").get(pk=ticket.pk)
    )
    contact = ticket.customer
    if contact.unverified_email != email or ticket.merged_into_id:
        raise ValidationError(_("This request can no longer be added to your account."))
    now = timezone.now()
    ticket.customer = customer
    ticket.lane = Lane.VIP if customer.tier.is_vip else Lane.STANDARD
    ticket.access_key = new_access_key()
    ticket.updated_at = now
    ticket_apply_sla(ticket, now=now)
    ticket.save()
    Event.objects.create(
        ticket=ticket, kind=EventKind.CLAIMED, actor=user, created_at=now,
        data={"customer_from": contact.pk, "customer_to": customer.pk, "lane": ticket.lane},
    )  # fmt: skip
    if ticket.assignee_id is None and ticket.is_active:
        # The customer's dedicated agent or team, or the VIP team, as for their own requests.
        ticket_id = ticket.pk
        transaction.on_commit(lambda: enqueue("tickets.tasks.ticket_auto_assign", ticket_id))
    return ticket


def suggestion_open(*, visitor_key: str, article_id: int, query: str = "") -> None:
    # Control characters (a NUL from a crafted URL) are not part of a search someone typed.
    query = "".join(ch for ch in query if ch.isprintable())
    suggestion_view_record(visitor_key=visitor_key, article_id=article_id, query=query)


def can_solve(ticket: Ticket) -> bool:
    return ticket.status in ACTIVE_STATUSES and not ticket.merged_into_id


def can_reopen(ticket: Ticket, *, now=None) -> bool:
    """Solved recently enough to reopen; later (or once closed) a reply opens a follow-up."""
    if ticket.status != Status.SOLVED or ticket.merged_into_id or ticket.solved_at is None:
        return False
    now = now or timezone.now()
    return now - ticket.solved_at <= timedelta(days=settings.TICKETS_REOPEN_DAYS)


def request_mark_solved(*, ticket: Ticket, actor=None) -> Ticket:
    if not can_solve(ticket):
        raise ValidationError(_("This request is already solved or closed."))
    return ticket_update(ticket=ticket, actor=_actor(actor), status=Status.SOLVED)


def request_reopen(*, ticket: Ticket, actor=None) -> Ticket:
    if not can_reopen(ticket):
        raise ValidationError(
            _("This request can no longer be reopened. Reply to open a follow-up.")
        )
    return ticket_update(ticket=ticket, actor=_actor(actor), status=Status.OPEN)


def _actor(user):
    return user if user is not None and user.is_authenticated else None
