"""Which team and which agent get a ticket. Reads only; the assignment itself is a service.

Team: the customer's dedicated team; else, for the VIP lane, the VIP team; else the team whose
skills best match the ticket's topic and language (a topic match counts double); else the
default team. Agent (unless the team routes manually): the customer's dedicated agent when
available, else among the team's available agents with a matching language skill and room
under their capacity, the least loaded (or, for round-robin teams, the one assigned longest
ago). Nobody available: the ticket waits in the team queue.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q

from tickets.models import AgentProfile, AgentStatus, Lane, RoutingMode, Skill, Team, Ticket
from tickets.models.tickets import ACTIVE_STATUSES

User = get_user_model()


@dataclass(frozen=True)
class Route:
    team: Team | None
    assignee: User | None  # type: ignore[valid-type]
    reason: str


def choose_team(ticket: Ticket) -> tuple[Team | None, str]:
    customer = ticket.customer
    if customer.dedicated_team_id:
        return customer.dedicated_team, "dedicated team"
    if ticket.lane == Lane.VIP and (vip := Team.objects.filter(is_vip_team=True).first()):
        return vip, "VIP lane"
    topic = Q(skills__kind=Skill.Kind.TOPIC, skills__code=ticket.topic or None)
    language = Q(skills__kind=Skill.Kind.LANGUAGE, skills__code=ticket.language)
    teams = (
        Team.objects.filter(is_vip_team=False)
        .annotate(
            topic_hits=Count("skills", filter=topic, distinct=True),
            language_hits=Count("skills", filter=language, distinct=True),
        )
        .filter(Q(topic_hits__gt=0) | Q(language_hits__gt=0))
        .order_by(-(F("topic_hits") * 2 + F("language_hits")), "position", "pk")
    )
    if team := teams.first():
        return team, "skills"
    return Team.objects.filter(is_default=True).first(), "default team"


def available_agents(team: Team | None, *, language: str):
    """Available agents of ``team`` who speak ``language`` (when they list languages) and are
    under capacity, with their current load."""
    active_load = Count(
        "user__assigned_tickets",
        filter=Q(user__assigned_tickets__status__in=ACTIVE_STATUSES),
        distinct=True,
    )
    agents = (
        AgentProfile.objects.filter(
            status=AgentStatus.AVAILABLE, user__is_active=True, user__is_staff=True
        )
        .annotate(
            load=active_load,
            language_skills=Count(
                "skills", filter=Q(skills__kind=Skill.Kind.LANGUAGE), distinct=True
            ),
            speaks=Count(
                "skills",
                filter=Q(skills__kind=Skill.Kind.LANGUAGE, skills__code=language),
                distinct=True,
            ),
        )
        .filter(load__lt=F("capacity"))
        .filter(Q(language_skills=0) | Q(speaks__gt=0))
        .select_related("user")
    )
    if team is not None:
        agents = agents.filter(teams=team)
    return agents


def _dedicated_agent_if_available(ticket: Ticket):
    agent = ticket.customer.dedicated_agent
    if agent is None:
        return None
    if available_agents(None, language=ticket.language).filter(user=agent).exists():
        return agent
    return None


def route(ticket: Ticket) -> Route:
    if agent := _dedicated_agent_if_available(ticket):
        team = ticket.customer.dedicated_team or ticket.team
        return Route(team, agent, "dedicated agent")
    team, why = choose_team(ticket)
    if ticket.customer.dedicated_agent_id and ticket.lane == Lane.VIP:
        vip = Team.objects.filter(is_vip_team=True).first()
        team, why = (vip, "dedicated agent away: VIP team") if vip else (team, why)
    if team is not None and team.routing_mode == RoutingMode.MANUAL:
        return Route(team, None, f"{why}; manual routing")
    agents = available_agents(team, language=ticket.language)
    if team is not None and team.routing_mode == RoutingMode.ROUND_ROBIN:
        agents = agents.order_by(F("last_assigned_at").asc(nulls_first=True), "pk")
    else:
        agents = agents.order_by("load", F("last_assigned_at").asc(nulls_first=True), "pk")
    profile = agents.first()
    if profile is None:
        return Route(team, None, f"{why}; nobody available")
    return Route(team, profile.user, f"{why}; {team.routing_mode if team else 'least_loaded'}")
