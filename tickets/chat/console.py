"""Reads for the agent console: the waiting chats and mine, one conversation with its context."""

from django.utils import timezone

from tickets.chat import broadcast
from tickets.chat.queue import waiting_chats
from tickets.chat.services import replay
from tickets.models import AgentProfile, ChatPhase, Ticket
from tickets.selectors import previous_tickets


def _summary(ticket: Ticket, now) -> dict:
    customer = ticket.customer
    since = ticket.handed_off_at or ticket.created_at
    return {
        "conversation": ticket.pk,
        "reference": ticket.reference,
        "subject": ticket.subject,
        "customer": customer.display_name,
        "vip": customer.tier.is_vip,
        "tier": customer.tier.name,
        "language": ticket.language,
        "team": ticket.team.name if ticket.team else None,
        "priority": ticket.get_priority_display(),
        "waiting_seconds": max(int((now - since).total_seconds()), 0),
        "due": ticket.next_due_at.isoformat() if ticket.next_due_at else None,
        "assignee": ticket.assignee.get_username() if ticket.assignee else None,
    }


def console_snapshot(user) -> dict:
    """The ``console`` frame: waiting chats in queue order and the agent's active chats."""
    now = timezone.now()
    related = ("customer__tier", "team", "assignee")
    waiting = waiting_chats().select_related(*related)[:100]
    mine = (
        Ticket.objects.filter(assignee=user, chat_phase=ChatPhase.AGENT)
        .select_related(*related)
        .order_by("agent_joined_at")
    )
    profile = AgentProfile.objects.filter(user=user).first()
    return {
        "type": "console",
        "status": profile.status if profile else "available",
        "chat_capacity": profile.chat_capacity if profile else 3,
        "waiting": [_summary(t, now) for t in waiting],
        "mine": [_summary(t, now) for t in mine],
    }


def conversation_detail(ticket: Ticket, *, after: int | None = None) -> dict:
    """The ``conversation`` frame: the whole transcript (bot part included, internal notes too),
    the customer's profile and previous tickets."""
    customer = ticket.customer
    return {
        "type": "conversation",
        "conversation": ticket.pk,
        "reference": ticket.reference,
        "phase": ticket.chat_phase,
        "status": ticket.status,
        "admin_url": f"/admin/tickets/ticket/{ticket.pk}/change/",
        "customer": {
            "name": customer.display_name,
            "email": customer.email,
            "tier": customer.tier.name,
            "vip": customer.tier.is_vip,
            "segment": customer.segment,
            "language": customer.language,
            "organization": customer.organization,
            "notes": customer.notes,
        },
        "previous": [
            {"reference": t.reference, "subject": t.subject, "status": t.status}
            for t in previous_tickets(ticket, limit=5)
        ],
        "detected": [m["term"] for m in ticket.detected_terms],
        "messages": replay(ticket, after=after, include_internal=True),
    }


def set_status(user, value: str) -> None:
    profile, _created = AgentProfile.objects.get_or_create(user=user)
    profile.status = value
    profile.save(update_fields=["status"])
    broadcast.queue_changed()
