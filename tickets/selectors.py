"""Reads shaped for one page or endpoint: the portal, the agent workspace and the API. Each
names its joins once, so a page costs a fixed number of queries. The chat's reads are in
tickets/chat/selectors.py."""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.db.models import Prefetch, Q, QuerySet

from tickets import detection
from tickets.models import (
    AgentProfile,
    Attachment,
    AuthorKind,
    CannedReply,
    Customer,
    Event,
    Message,
    Ticket,
)
from tickets.models.tickets import parse_reference

User = AbstractBaseUser

# --- Who may see what ------------------------------------------------------------------------


def is_support_staff(user) -> bool:
    """Staff who work tickets (agents, managers). Other staff (knowledge-base editors, say) use
    the portal and the API as the customers they also are."""
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm("tickets.view_ticket")
    )


def same_key(expected: str, given: str) -> bool:
    # Bytes: compare_digest refuses non-ASCII str, and a key from a URL can be anything.
    return bool(given) and secrets.compare_digest(expected.encode(), given.encode())


def guest_ticket(reference: str, key: str) -> Ticket | None:
    """The ticket behind a guest link, or None (unknown reference and wrong key alike)."""
    ticket = Ticket.objects.by_reference(reference).select_related("customer").first()
    if ticket is None or not same_key(ticket.access_key, key):
        return None
    return ticket


def guest_sees_replies(ticket: Ticket) -> bool:
    """Whether the guest link of a ticket shows the answers. Not for an unverified contact's:
    whoever submitted it only knew an address that belongs to a registered customer, so the
    answers go to that mailbox and nowhere else."""
    return not ticket.customer.is_unverified_contact


def merged_target(ticket: Ticket) -> Ticket | None:
    """Where a merged ticket's customer continues: the target, if it is theirs too."""
    target = ticket.merged_into
    if target is not None and target.customer_id == ticket.customer_id:
        return target
    return None


def customer_merged_ticket(customer: Customer, reference: str) -> Ticket | None:
    """The customer's ticket that was merged into another of theirs, for a redirect."""
    ticket = (
        Ticket.objects.by_reference(reference)
        .filter(customer=customer, merged_into__isnull=False)
        .select_related("merged_into")
        .first()
    )
    return merged_target(ticket) if ticket else None


# Larger than any primary key a database can hold: such a URL names nothing.
MAX_PK = 2**63 - 1


def attachment_for_download(*, pk: int, user, key: str = "") -> Attachment | None:
    """The attachment if ``user`` (or the holder of the guest ``key``) may download it, else
    None. Staff with tickets.view_ticket see every file; a customer sees the files of public
    messages on their own tickets; a guest those of the ticket whose access key they hold (only
    their own messages' where the answers go by email only: guest_sees_replies)."""
    if pk > MAX_PK:
        return None
    attachment = (
        Attachment.objects.select_related("message", "ticket__customer").filter(pk=pk).first()
    )
    if attachment is None:
        return None
    if is_support_staff(user):
        return attachment
    if attachment.message is None or attachment.message.is_internal:
        return None
    ticket = attachment.ticket
    if same_key(ticket.access_key, key):
        own = attachment.message.author_kind == AuthorKind.CUSTOMER
        return attachment if own or guest_sees_replies(ticket) else None
    if user.is_authenticated and Customer.objects.filter(user=user, pk=ticket.customer_id).exists():
        return attachment
    return None


# --- The portal and the API ----------------------------------------------------------------


def customer_of(user) -> Customer | None:
    """The signed-in user's customer, if they have one yet."""
    return Customer.objects.select_related("tier").filter(user=user).first()


def customer_tickets(customer: Customer) -> QuerySet[Ticket]:
    """A customer's own tickets (merged ones point to their target and are left out)."""
    return (
        Ticket.objects.visible_to_customer(customer)
        .select_related("assignee")
        .order_by("-updated_at", "-pk")
    )


def customer_ticket(customer: Customer, reference: str) -> Ticket | None:
    """The customer's ticket with this reference, or None (also for somebody else's ticket:
    the caller answers 404 either way)."""
    return customer_tickets(customer).by_reference(reference).select_related("customer").first()


# --- Claims: a request sent with a registered customer's address, added to their account ------

CLAIM_SALT = "tickets.claim"
CLAIM_MAX_AGE = timedelta(days=30)


@dataclass(frozen=True)
class Claim:
    ticket: Ticket
    email: str


def claim_token(ticket: Ticket) -> str:
    """The signed token of the claim link mailed to an unverified contact's address."""
    return signing.dumps({"t": ticket.pk, "e": ticket.customer.unverified_email}, salt=CLAIM_SALT)


def claim_for_token(token: str) -> Claim | None:
    """The request a claim link names, while it can still be claimed; None for a bad or
    expired token, and once the request was claimed or merged."""
    if not token or len(token) > 600:
        return None
    try:
        data = signing.loads(token, salt=CLAIM_SALT, max_age=CLAIM_MAX_AGE)
    except signing.BadSignature:
        return None
    pk, email = (data.get("t"), data.get("e")) if isinstance(data, dict) else (None, None)
    if not isinstance(pk, int) or not isinstance(email, str) or not 0 < pk <= MAX_PK:
        return None
    ticket = Ticket.objects.select_related("customer").filter(pk=pk).first()
    if ticket is None or ticket.merged_into_id or ticket.customer.unverified_email != email:
        return None
    return Claim(ticket, email)


def customer_ticket_or_target(customer: Customer, pk: int) -> Ticket | None:
    """The customer's ticket; a merged one stands for its target, when that is theirs too."""
    ticket = Ticket.objects.for_list().filter(pk=pk, customer=customer).first()
    for _hop in range(5):  # merges chain rarely; never follow a cycle forever
        if ticket is None or not ticket.merged_into_id:
            return ticket
        ticket = (
            Ticket.objects.for_list().filter(pk=ticket.merged_into_id, customer=customer).first()
        )
    return None


def staff_tickets(filters: dict, *, user: User) -> QuerySet[Ticket]:
    """The API's staff list: every ticket in queue order, filtered."""
    tickets = Ticket.objects.for_list()
    if statuses := filters.get("status"):
        tickets = tickets.filter(status__in=statuses)
    for name in ("priority", "lane", "channel"):
        if (value := filters.get(name)) is not None:
            tickets = tickets.filter(**{name: value})
    if team := filters.get("team"):
        tickets = tickets.filter(team__slug=team)
    assignee = filters.get("assignee")
    if assignee == "me":
        tickets = tickets.filter(assignee=user)
    elif assignee == "none":
        tickets = tickets.filter(assignee__isnull=True)
    elif assignee is not None:
        tickets = tickets.filter(assignee_id=assignee)
    if (breached := filters.get("breached")) is not None:
        tickets = tickets.filter(sla_breached=breached)
    if q := filters.get("q"):
        match = (
            Q(subject__icontains=q)
            | Q(customer__email__icontains=q)
            | Q(customer__unverified_email__icontains=q)
        )
        if pk := parse_reference(q):
            match |= Q(pk=pk)
        tickets = tickets.filter(match)
    return tickets.in_queue_order()


def thread(ticket: Ticket, *, include_internal: bool) -> QuerySet[Message]:
    """The conversation in order, with attachments and authors, in a fixed number of queries."""
    messages = ticket.messages.select_related("author").prefetch_related(
        Prefetch("attachments", queryset=Attachment.objects.order_by("pk"))
    )
    return messages if include_internal else messages.public()


def guest_thread(ticket: Ticket) -> tuple[QuerySet[Message], bool]:
    """What the guest link shows: the public conversation, or, where the answers go only by
    email (guest_sees_replies), the customer's own messages; and whether answers were left out."""
    messages = thread(ticket, include_internal=False)
    if guest_sees_replies(ticket):
        return messages, False
    hidden = messages.exclude(author_kind=AuthorKind.CUSTOMER).exists()
    return messages.filter(author_kind=AuthorKind.CUSTOMER), hidden


def previous_tickets(ticket: Ticket, *, limit: int = 10) -> QuerySet[Ticket]:
    return (
        Ticket.objects.filter(customer_id=ticket.customer_id)
        .exclude(pk=ticket.pk)
        .only("pk", "subject", "status", "created_at", "customer_id")
        .order_by("-created_at")[:limit]
    )


def suggested_articles(ticket: Ticket, *, limit: int = 5):
    """Knowledge-base articles for this ticket, from its subject and first message."""
    from kb.search import search

    first = (
        ticket.messages.filter(author_kind="customer").values_list("body", flat=True).first() or ""
    )
    return search(f"{ticket.subject} {first[:300]}", language=ticket.language, limit=limit).hits


# --- The agent workspace ---------------------------------------------------------------------


@dataclass
class Workspace:
    """Everything the ticket page shows besides its forms, in a fixed number of queries."""

    ticket: Ticket
    thread: Sequence[Message]
    previous: Sequence[Ticket]
    events: Sequence[Event]
    suggestions: Sequence = ()
    opening: str = ""
    detected: list[dict] = field(default_factory=list)


def ticket_for_workspace(object_id) -> Ticket | None:
    try:
        pk = int(str(object_id))
    except ValueError:
        return None
    if not 0 < pk <= MAX_PK:
        return None
    return (
        Ticket.objects.select_related(
            "customer__tier", "assignee", "team", "sla_policy", "merged_into"
        )
        .filter(pk=pk)
        .first()
    )


def workspace_for(ticket: Ticket) -> Workspace:
    customer = ticket.customer
    detected = list(ticket.detected_terms or [])
    return Workspace(
        ticket=ticket,
        thread=list(thread(ticket, include_internal=True)),
        previous=list(previous_tickets(ticket)),
        events=list(
            Event.objects.filter(ticket=ticket)
            .select_related("actor")
            .order_by("-created_at", "-pk")[:20]
        ),
        suggestions=suggested_articles(ticket),
        opening=(
            detection.empathetic_opening(language=customer.language, segment=customer.segment)
            if detected
            else ""
        ),
        detected=detected,
    )


def canned_replies() -> QuerySet[CannedReply]:
    return CannedReply.objects.filter(is_active=True).order_by("language", "title")


def canned_reply_for(*, ticket: Ticket, pk=None, shortcut: str = "") -> CannedReply | None:
    """A canned reply by id, or by shortcut in the ticket's language first (then the
    customer's, then any)."""
    replies = canned_replies()
    if pk not in (None, ""):
        try:
            return replies.filter(pk=int(pk)).first()
        except (TypeError, ValueError, OverflowError):
            return None
    shortcut = (shortcut or "").strip().lstrip("/").lower()
    if not shortcut:
        return None
    matches = {reply.language: reply for reply in replies.filter(shortcut=shortcut)}
    for language in (ticket.language, ticket.customer.language):
        if language in matches:
            return matches[language]
    return next(iter(matches.values()), None)


def agent_status(user) -> str:
    return AgentProfile.objects.filter(user=user).values_list("status", flat=True).first() or ""
