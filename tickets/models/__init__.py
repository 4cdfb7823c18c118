"""Tickets: one conversation model for every channel (web, email, API, phone, chat)."""

from tickets.models.customers import Customer, Segment, Tier
from tickets.models.policies import BusinessHours, Calendar, Holiday, SLAPolicy
from tickets.models.replies import CannedReply, EmpatheticOpening, LexiconEntry, UrgencyRule
from tickets.models.teams import AgentProfile, AgentStatus, RoutingMode, Skill, Team
from tickets.models.tickets import (
    Attachment,
    AuthorKind,
    Channel,
    ChatPhase,
    Event,
    EventKind,
    IdempotencyKey,
    Lane,
    Message,
    Notification,
    Priority,
    Status,
    SuggestionView,
    Ticket,
)

__all__ = [
    "AgentProfile", "AgentStatus", "Attachment", "AuthorKind", "BusinessHours", "Calendar",
    "CannedReply", "Channel", "ChatPhase", "Customer", "EmpatheticOpening", "Event", "EventKind", "Holiday",
    "IdempotencyKey", "Lane", "LexiconEntry", "Message", "Notification", "Priority", "RoutingMode",
    "SLAPolicy", "Segment", "Skill", "Status", "SuggestionView", "Team", "Ticket", "Tier",
    "UrgencyRule",
]  # fmt: skip
