"""The chat queue, read from the database: positions, estimated waits, who can take a chat.

Each team has its own queue of waiting chats, in the ticket queue order (earliest first-reply
deadline, so VIP chats with their tighter policy come first, then lane, priority, age). The
estimated wait is the position times the median wait of the last chats an agent accepted,
divided by the number of agents of that team who could take a chat now (at least one).
"""

import statistics
from datetime import timedelta

from django.db.models import Count, F, Q
from django.utils import timezone

from tickets.models import AgentProfile, AgentStatus, ChatPhase, Ticket

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
