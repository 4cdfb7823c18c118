"""What a customer does on the site besides chatting: submit a request (as a signed-in
customer or a guest), mark it solved, reopen it, open a suggested article."""

from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tickets.attachments import CheckedUpload
from tickets.models import Channel, Status, Ticket
from tickets.models.tickets import ACTIVE_STATUSES
from tickets.services.customers import customer_for_email, customer_for_user
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
    if user is not None and user.is_authenticated:
        customer = customer_for_user(user=user)
        actor = user
    else:
        customer = customer_for_email(email=email, name=name, language=language)
        actor = None
    ticket = ticket_create(
        customer=customer, subject=subject, body=body, channel=Channel.WEB,
        attachments=attachments, actor=actor,
    )  # fmt: skip
    if visitor_key:
        suggestions_convert(visitor_key=visitor_key, ticket=ticket)
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
