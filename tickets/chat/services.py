"""Live chat as ticket operations. A chat is a ticket with channel ``chat``; its messages are
ticket messages. Every function saves first and broadcasts after commit (tickets.chat.broadcast),
so nobody ever sees a message the database lost; consumers only parse frames and call these.
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.ratelimit import RateLimited
from kb.models import Article
from tickets import assignment, detection, limits
from tickets.chat import bot, broadcast
from tickets.chat.selectors import agents_on_duty, chat_agents, within_business_hours
from tickets.models import (
    AgentProfile,
    AuthorKind,
    Channel,
    ChatPhase,
    Customer,
    Event,
    EventKind,
    Message,
    RoutingMode,
    Status,
    Ticket,
)
from tickets.selectors import merged_target
from tickets.services import (
    customer_for_user,
    default_tier,
    message_post,
    ticket_create,
    ticket_update,
)
from tickets.services.clocks import ticket_apply_sla

logger = logging.getLogger(__name__)
User = AbstractBaseUser
MAX_TEXT = 2000
SUBJECT_LENGTH = 80


# --- Who is chatting --------------------------------------------------------------------------


def chat_customer(*, user: User | None, visitor_key: str | None, language: str = "en") -> Customer:
    """The signed-in user's customer, or the anonymous visitor's. A new visitor's (with the
    language of the page they chat from) is not saved here but by customer_message with their
    first conversation: opening the widget, or a start refused by a limit, adds no row."""
    if user is not None and user.is_authenticated:
        return customer_for_user(user=user)
    visitor_key = visitor_key or secrets.token_hex(16)
    customer = Customer.objects.select_related("tier").filter(visitor_key=visitor_key).first()
    if customer:
        return customer
    with translation.override(language):
        name = _("Visitor")
    return Customer(visitor_key=visitor_key, name=name, tier=default_tier(), language=language)


def _saved(customer: Customer) -> Customer:
    if not customer._state.adding:
        return customer
    saved, _created = Customer.objects.get_or_create(
        visitor_key=customer.visitor_key,
        defaults={"name": customer.name, "tier": customer.tier, "language": customer.language},
    )
    return saved


# --- Customer side ----------------------------------------------------------------------------


@dataclass
class Posted:
    ticket: Ticket
    message: Message
    created: bool  # False: a resend of a message already stored (same client_id)
    new_conversation: bool = False


def _clean(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError(_("The message is empty."))
    if len(text) > MAX_TEXT:
        raise ValidationError(
            _("Messages are limited to %(limit)d characters.") % {"limit": MAX_TEXT}
        )
    return text


def customer_message(
    *,
    ticket: Ticket | None,
    customer: Customer | None,
    text: str,
    client_id: str,
    client_key: str | None = None,
) -> Posted:
    """Store a customer's chat message (starting the conversation when there is none, or a new
    one after an ended chat). A resend with the same client id is stored once. ``customer`` is
    required without a ticket (saved here if new, see chat_customer); with one, it is the
    ticket's customer. A chat merged into another customer's ticket is over for this one: their
    message starts a new conversation.

    ``client_key`` (core.client) is who is chatting: a new conversation beyond their
    CHAT_CONVERSATIONS_PER_HOUR raises RateLimited, and nothing is stored. None: a caller that
    is no client (set-up code, benchmarks), not limited."""
    text = _clean(text)
    if ticket is not None and ticket.chat_phase != ChatPhase.ENDED and not _merged_away(ticket):
        now = timezone.now()
        message = message_post(
            ticket=ticket, author_kind=AuthorKind.CUSTOMER, body=text, client_id=client_id, now=now
        )
        # message_post returns the message stored earlier for a repeated client id; a message
        # stored by this call carries this call's time (and was announced by message_post).
        return Posted(message.ticket, message, created=message.created_at == now)
    customer = customer or ticket.customer
    if client_id and not customer._state.adding:
        # A first message resent before its conversation was confirmed: same conversation.
        existing = (
            Message.objects.filter(
                ticket__customer=customer, ticket__channel=Channel.CHAT, client_id=client_id
            )
            .select_related("ticket__customer__tier")
            .first()
        )
        if existing:
            return Posted(existing.ticket, existing, created=False, new_conversation=True)
    if client_key is not None and not limits.chat_start_allowed(client_key):
        with translation.override(customer.language):
            raise RateLimited(
                _(
                    "You have started many conversations in a short time. Please wait a while "
                    "before starting another."
                )
            )
    with transaction.atomic():
        customer = _saved(customer)
        new = ticket_create(
            customer=customer, subject=text[:SUBJECT_LENGTH], body=text, channel=Channel.CHAT,
            live_chat=True, client_id=client_id, follow_up_of=ticket,
        )  # fmt: skip
        message = new.messages.get()  # announced by ticket_create
    return Posted(new, message, created=True, new_conversation=True)


def _merged_away(ticket: Ticket) -> bool:
    """Merged into a ticket of another customer (chats merged before such merges ended them
    still have a live phase)."""
    return bool(ticket.merged_into_id) and merged_target(ticket) is None


def _bot_message(ticket: Ticket, turn: bot.BotTurn) -> Message:
    message = Message.objects.create(
        ticket=ticket, author_kind=AuthorKind.BOT, body=turn.text,
        data={"articles": turn.articles, "options": turn.options, "action": turn.action},
    )  # fmt: skip
    broadcast.message_saved(message)
    return message


def _system_message(ticket: Ticket, text: str, *, internal: bool = False) -> Message:
    message = Message.objects.create(
        ticket=ticket, author_kind=AuthorKind.SYSTEM, body=text, is_internal=internal
    )
    broadcast.message_saved(message)
    return message


@transaction.atomic
def bot_turn(*, ticket: Ticket, text: str, client_key: str) -> bot.BotTurn | None:
    """Let the bot answer a customer message while the chat is with the bot; hand over when
    it should. Returns what it did (None when a person has the chat). A question it declines
    is a content gap, recorded within ``client_key``'s limit (kb.services.search_gap_record)."""
    ticket = (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("customer__tier")
        .get(pk=ticket.pk)
    )
    if ticket.chat_phase != ChatPhase.BOT:
        return None
    turn = bot.reply(ticket, text)
    if turn.action == "handoff":
        handoff(ticket=ticket, reason=turn.reason)
        return turn
    _bot_message(ticket, turn)
    if turn.action == "decline":
        from kb.services import search_gap_record

        search_gap_record(
            query=text, language=ticket.language, result_count=0, best_confidence=0.0,
            client_key=client_key,
        )  # fmt: skip
    return turn


@transaction.atomic
def choose_article(*, ticket: Ticket, slug: str) -> Message:
    """The customer picked one of the bot's options."""
    article = Article.objects.published().filter(slug=slug).first()
    if article is None:
        raise ValidationError(_("That article is not available."))
    return _bot_message(ticket, bot.article_turn(ticket, article))


@dataclass
class Handoff:
    ticket: Ticket
    agent: User | None
    agents_online: bool


@transaction.atomic
def handoff(*, ticket: Ticket, reason: str = "asked") -> Handoff:
    """Move the chat to its team's queue, with the whole conversation. If the team routes
    automatically and an agent has room, the chat goes to them at once. When nobody can take
    it, say so: the conversation stays a ticket and gets a reply within its SLA."""
    ticket = (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("customer__tier", "customer__dedicated_agent", "customer__dedicated_team")
        .get(pk=ticket.pk)
    )
    if ticket.chat_phase in (ChatPhase.QUEUED, ChatPhase.AGENT):
        return Handoff(ticket, ticket.assignee, True)
    now = timezone.now()
    team, _why = assignment.choose_team(ticket)
    ticket.chat_phase = ChatPhase.QUEUED
    ticket.handed_off_at = now
    ticket.team = team
    ticket.awaiting_reply_since = ticket.awaiting_reply_since or now
    if ticket.status == Status.SOLVED:
        ticket.status = Status.OPEN
    ticket_apply_sla(ticket, now=now)
    ticket.save()
    Event.objects.create(
        ticket=ticket,
        kind=EventKind.HANDOFF,
        data={"reason": reason, "team": getattr(team, "pk", None)},
    )
    customer = ticket.customer
    with translation.override(ticket.language):
        opening = detection.empathetic_opening(language=ticket.language, segment=customer.segment)
        online = agents_on_duty(team.pk if team else None) and within_business_hours(ticket)
        if online:
            text = _("I'm connecting you with a person now. They will see our whole conversation.")
        else:
            text = _(
                "No one from our team is available right now. Your conversation is saved as "
                "request %(reference)s and we will reply here and by email as soon as we can."
            ) % {"reference": ticket.reference}
        if reason == "urgent" and opening:
            text = f"{opening} {text}"
    _system_message(ticket, text)
    broadcast.queue_changed()
    agent = None
    if online and (team is None or team.routing_mode != RoutingMode.MANUAL):
        # Auto-assignment: only to an agent with room for one more chat.
        agent = _auto_agent(ticket)
        if agent is not None:
            try:
                accept(ticket_id=ticket.pk, agent=agent)
            except ValidationError:  # filled up in the meantime: the chat waits in the queue
                agent = None
    return Handoff(ticket, agent, online)


def _auto_agent(ticket: Ticket):
    dedicated = ticket.customer.dedicated_agent
    candidates = chat_agents(ticket.team_id)
    if dedicated and candidates.filter(user=dedicated).exists():
        return dedicated
    profile = candidates.order_by("chats", "last_assigned_at", "pk").first()
    return profile.user if profile else None


# --- Agent side -------------------------------------------------------------------------------


def can_chat(user: User) -> bool:
    return bool(
        user
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm("tickets.change_ticket")
    )


@transaction.atomic
def accept(*, ticket_id: int, agent: User) -> Ticket | None:
    """Give a waiting chat to ``agent`` (within their chat capacity, else ValidationError with
    code "at_capacity"). When two agents accept at once exactly one wins (a conditional
    update); the other gets None."""
    now = timezone.now()
    AgentProfile.objects.get_or_create(user=agent)
    # One accept per agent at a time, so two tabs cannot both pass the capacity check.
    profile = AgentProfile.objects.select_for_update().get(user=agent)
    active = Ticket.objects.filter(assignee=agent, chat_phase=ChatPhase.AGENT).count()
    if active >= profile.chat_capacity:
        raise ValidationError(
            _("You already have %(count)d chats, your limit.") % {"count": active},
            code="at_capacity",
        )
    won = Ticket.objects.filter(
        pk=ticket_id, chat_phase=ChatPhase.QUEUED, assignee__isnull=True
    ).update(chat_phase=ChatPhase.AGENT, assignee=agent, agent_joined_at=now, updated_at=now)
    if not won:
        return None
    ticket = Ticket.objects.select_related("customer__tier").get(pk=ticket_id)
    Event.objects.create(
        ticket=ticket,
        kind=EventKind.ASSIGNEE,
        actor=agent,
        data={"from": None, "to": agent.pk, "via": "chat"},
    )
    AgentProfile.objects.filter(user=agent).update(last_assigned_at=now)
    if ticket.status == Status.NEW:
        ticket_update(ticket=ticket, actor=agent, status=Status.OPEN)
    name = agent.first_name or agent.get_username()
    broadcast.to_customer(ticket.pk, {"type": "agent_joined", "name": name})
    broadcast.to_staff(ticket.pk, {"type": "agent_joined", "name": name, "conversation": ticket.pk})
    broadcast.to_agent(agent.pk, {"type": "chat.assigned", "ticket": ticket.pk})
    broadcast.queue_changed()
    return ticket


def agent_message(
    *, ticket: Ticket, agent: User, text: str, client_id: str = "", internal: bool = False
) -> Posted:
    """An agent's reply (or internal note) in a chat they may work on."""
    text = _clean(text)
    if client_id:
        existing = Message.objects.filter(ticket=ticket, client_id=client_id).first()
        if existing:
            return Posted(ticket, existing, created=False)
    # message_post checks that the agent accepted the chat and announces the message.
    message = message_post(
        ticket=ticket, author_kind=AuthorKind.AGENT, author=agent, body=text,
        internal=internal, client_id=client_id,
    )  # fmt: skip
    return Posted(ticket, message, created=True)


@transaction.atomic
def transfer(*, ticket: Ticket, actor: User, to_agent: User | None = None, team=None) -> Ticket:
    """Hand a chat to another agent, or back to a team's queue."""
    ticket = Ticket.objects.select_for_update(of=("self",)).get(pk=ticket.pk)
    if ticket.chat_phase not in (ChatPhase.QUEUED, ChatPhase.AGENT):
        raise ValidationError(_("Only a live chat can be transferred."))
    if to_agent is not None:
        if not can_chat(to_agent):
            raise ValidationError(_("That person cannot take chats."))
        ticket = ticket_update(ticket=ticket, actor=actor, assignee=to_agent)
        Ticket.objects.filter(pk=ticket.pk).update(
            chat_phase=ChatPhase.AGENT, agent_joined_at=timezone.now()
        )
        name = to_agent.first_name or to_agent.get_username()
        broadcast.to_customer(ticket.pk, {"type": "agent_joined", "name": name})
        broadcast.to_agent(to_agent.pk, {"type": "chat.assigned", "ticket": ticket.pk})
    else:
        ticket = ticket_update(
            ticket=ticket,
            actor=actor,
            assignee=None,
            team=team if team is not None else ticket.team,
        )
        Ticket.objects.filter(pk=ticket.pk).update(chat_phase=ChatPhase.QUEUED)
        with translation.override(ticket.language):
            _system_message(
                ticket, _("You are being transferred to another colleague. Please wait a moment.")
            )
    broadcast.to_staff(ticket.pk, {"type": "transferred", "conversation": ticket.pk})
    broadcast.queue_changed()
    return Ticket.objects.get(pk=ticket.pk)


@transaction.atomic
def end(*, ticket: Ticket, by: User | None = None) -> Ticket:
    """End the chat: it stays a ticket, solved; the customer is offered a survey (when surveys
    exist; ``survey_url`` is None until then)."""
    ticket = Ticket.objects.select_for_update(of=("self",)).get(pk=ticket.pk)
    if ticket.chat_phase == ChatPhase.ENDED:
        return ticket
    was_waiting = ticket.chat_phase == ChatPhase.QUEUED
    handled = ticket.chat_phase == ChatPhase.AGENT or ticket.first_responded_at is not None
    Ticket.objects.filter(pk=ticket.pk).update(chat_phase=ChatPhase.ENDED)
    ticket.chat_phase = ChatPhase.ENDED
    if was_waiting and not handled:
        # Nobody answered yet: keep it open for a reply by email instead of calling it solved.
        ticket_apply_sla(ticket, now=timezone.now())
        ticket.save()
    else:
        ticket = ticket_update(ticket=ticket, actor=by, status=Status.SOLVED)
    frame = {"type": "ended", "survey_url": None}
    broadcast.to_customer(ticket.pk, frame)
    broadcast.to_staff(ticket.pk, {**frame, "conversation": ticket.pk})
    if was_waiting:
        broadcast.queue_changed()
    return ticket


BOT_IDLE = timedelta(hours=1)


def close_idle_bot_chats(*, now=None) -> int:
    """Chats the bot handled and the customer left (no message for an hour) end as solved:
    answered by the knowledge base. Chats waiting for a person are never closed this way."""
    now = now or timezone.now()
    idle = Ticket.objects.filter(chat_phase=ChatPhase.BOT, updated_at__lt=now - BOT_IDLE)
    closed = 0
    for ticket in idle.iterator():
        end(ticket=ticket)
        closed += 1
    return closed
