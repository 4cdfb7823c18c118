"""Reads shaped for the portal, the agent workspace and the API."""

from django.db.models import Prefetch, QuerySet

from tickets.models import Attachment, Customer, Message, Ticket


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


def thread(ticket: Ticket, *, include_internal: bool) -> QuerySet[Message]:
    """The conversation in order, with attachments and authors, in a fixed number of queries."""
    messages = ticket.messages.select_related("author").prefetch_related(
        Prefetch("attachments", queryset=Attachment.objects.order_by("pk"))
    )
    return messages if include_internal else messages.public()


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
