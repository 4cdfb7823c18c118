"""Reads of the live chat: the queue (positions, estimated waits, who can take a chat), the
agent console's snapshot and conversation, a conversation by its token, replays.

The queue: each team has its own queue of waiting chats, in the ticket queue order (earliest
first-reply deadline, so VIP chats with their tighter policy come first, then lane, priority,
age). The estimated wait is the position times the median wait of the last chats an agent
accepted, divided by the number of agents of that team who could take a chat now (at least one).
"""

import statistics
from datetime import timedelta

from django.db.models import Count, F, Q
from django.utils import timezone

from tickets.chat.frames import message_frame
from tickets.models import AgentProfile, AgentStatus, Channel, ChatPhase, Ticket
from tickets.selectors import previous_tickets

DEFAULT_WAIT_SECONDS = 60
RECENT_CHATS = 20


def waiting_chats():
    return Ticket.objects.filter(chat_phase=ChatPhase.QUEUED).in_queue_order()


def chat_agents(team_id: int | None = None):
    """Available agents with room for one more chat (optionally of one team)."""
    agents = (
        AgentProfile.objects.filter(
            status=AgentStatus.AVAILABLE, user__is_active=True, user__is_staff=True
        )
        .annotate(
            chats=Count(
                "user__assigned_tickets",
                filter=Q(user__assigned_tickets__chat_phase=ChatPhase.AGENT),
                distinct=True,
            )
        )
        .filter(chats__lt=F("chat_capacity"))
        .select_related("user")
    )
    if team_id is not None:
        agents = agents.filter(teams__id=team_id)
    return agents


def agents_on_duty(team_id: int | None = None) -> bool:
    """Whether anyone who could answer is available at all (busy or not)."""
    agents = AgentProfile.objects.filter(
        status=AgentStatus.AVAILABLE, user__is_active=True, user__is_staff=True
    )
    if team_id is not None:
        agents = agents.filter(teams__id=team_id)
    return agents.exists()


def within_business_hours(ticket: Ticket, *, now=None) -> bool:
    """Whether the ticket's SLA policy's calendar is open now (always, for 24/7 policies)."""
    from tickets.services.clocks import schedule_for

    policy = ticket.sla_policy
    if policy is None or policy.calendar_id is None:
        return True
    now = now or timezone.now()
    return any(True for _ in schedule_for(policy).open_intervals(now, now + timedelta(seconds=1)))


def median_wait_seconds() -> float:
    """Median time from hand-off to an agent joining, over the most recent accepted chats."""
    since = timezone.now() - timedelta(days=7)
    recent = (
        Ticket.objects.filter(agent_joined_at__gte=since, handed_off_at__isnull=False)
        .order_by("-agent_joined_at")
        .values_list("handed_off_at", "agent_joined_at")[:RECENT_CHATS]
    )
    waits = [(joined - handed).total_seconds() for handed, joined in recent if joined >= handed]
    return statistics.median(waits) if waits else DEFAULT_WAIT_SECONDS


def waiting_positions() -> dict[int, tuple[int, int]]:
    """ticket id -> (1-based position in its team's queue, estimated wait in seconds), for
    teams with someone on duty."""
    per_team: dict[int | None, int] = {}
    rows = list(waiting_chats().values_list("pk", "team_id"))
    if not rows:
        return {}
    wait = median_wait_seconds()
    teams = {team for _, team in rows}
    # A team with nobody on duty has no queue to stand in: those customers were told so.
    teams = {team for team in teams if agents_on_duty(team)}
    staffing = {team_id: max(chat_agents(team_id).count(), 1) for team_id in teams}
    positions = {}
    for pk, team_id in rows:
        if team_id not in teams:
            continue
        per_team[team_id] = per_team.get(team_id, 0) + 1
        position = per_team[team_id]
        positions[pk] = (position, round(position * wait / staffing[team_id]))
    return positions


def position_of(ticket_id: int) -> tuple[int, int] | None:
    return waiting_positions().get(ticket_id)


def queue_frame(ticket: Ticket) -> dict | None:
    if ticket.chat_phase != ChatPhase.QUEUED:
        return None
    position = position_of(ticket.pk)
    if position is None:
        return None
    return {"type": "queue", "position": position[0], "eta_seconds": position[1]}


# --- Conversations ---------------------------------------------------------------------------


MAX_MERGE_HOPS = 5


def conversation_for_token(token: str | None) -> Ticket | None:
    """The chat with this token (its unguessable access key). A merged chat leads to its target
    only when that is the same customer's (the portal's rule, tickets.selectors.merged_target);
    merged into somebody else's ticket, the token opens nothing (as if unknown), so it can
    neither replay nor post into another customer's ticket."""
    if not token or not isinstance(token, str) or len(token) > 64:
        return None
    tickets = Ticket.objects.select_related("customer__tier", "assignee")
    ticket = tickets.filter(access_key=token, channel=Channel.CHAT).first()
    for _hop in range(MAX_MERGE_HOPS):  # merges chain rarely; never follow a cycle forever
        if ticket is None or not ticket.merged_into_id:
            return ticket
        ticket = tickets.filter(pk=ticket.merged_into_id, customer_id=ticket.customer_id).first()
    return None


def replay(ticket: Ticket, *, after: int | None, include_internal: bool = False) -> list[dict]:
    """The frames of every message after ``after`` (all when None), from the database."""
    messages = ticket.messages.select_related("author", "ticket__customer").order_by("pk")
    if not include_internal:
        messages = messages.filter(is_internal=False)
    if after:
        messages = messages.filter(pk__gt=after)
    return [message_frame(m) for m in messages]


# --- The agent console --------------------------------------------------------------------------


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
            "email": customer.contact_email or None,
            # A registered customer's address given without signing in: disclose nothing.
            "unverified": customer.is_unverified_contact,
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
