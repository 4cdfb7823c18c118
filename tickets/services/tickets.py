"""Every change to a ticket is one call here: it owns its transaction, appends events, keeps
the SLA clocks right, and schedules side effects (notifications, routing) after commit."""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.tasks import enqueue
from tickets import assignment, detection, notifications, selectors
from tickets.attachments import CheckedUpload
from tickets.chat import broadcast
from tickets.models import (
    AgentProfile,
    Attachment,
    AuthorKind,
    Channel,
    ChatPhase,
    Customer,
    Event,
    EventKind,
    Lane,
    Message,
    Priority,
    Status,
    SuggestionView,
    Ticket,
)
from tickets.models.tickets import ACTIVE_STATUSES, LIVE_CHAT_PHASES, PAUSED_STATUSES
from tickets.services.clocks import SLA_FIELDS, ticket_apply_sla

logger = logging.getLogger(__name__)
User = AbstractBaseUser
MAX_BODY = 20_000


def _clean_text(text: str, *, limit: int, field: str) -> str:
    # Control characters other than newlines and tabs have no place in a message.
    text = "".join(ch for ch in (text or "") if ch in "\n\t" or ch >= " " or ch == "\r").strip()
    if not text:
        raise ValidationError({field: _("This field may not be blank.")})
    if len(text) > limit:
        raise ValidationError({field: _("At most %(limit)d characters.") % {"limit": limit}})
    return text


def _language_of(text: str, default: str) -> str:
    from kb.search.text import contains_cjk

    return "zh-hans" if contains_cjk(text) else default


def _topic_of(text: str) -> str:
    """The knowledge-base category the text is most surely about (for skill routing)."""
    from kb.models import Article
    from kb.search import WEAK, search

    result = search(text[:300], limit=1)
    if not result.hits or result.best_confidence < WEAK:
        return ""
    category = (
        Article.objects.filter(pk=result.hits[0].article_id)
        .values_list("category__slug", flat=True)
        .first()
    )
    return category or ""


def _save_attachments(ticket: Ticket, message: Message, uploads: Sequence[CheckedUpload]) -> None:
    for upload in uploads:
        attachment = Attachment(
            ticket=ticket, message=message, original_name=upload.name,
            content_type=upload.content_type, size=upload.size,
        )  # fmt: skip
        attachment.file.save("upload", upload.file, save=False)
        attachment.save()


def _event(ticket: Ticket, kind: str, actor=None, *, at: datetime | None = None, **data) -> Event:
    return Event.objects.create(
        ticket=ticket, kind=kind, actor=actor if actor and actor.pk else None, data=data,
        created_at=at or timezone.now(),
    )  # fmt: skip


# --- Create ------------------------------------------------------------------------------------


@transaction.atomic
def ticket_create(
    *,
    customer: Customer,
    subject: str,
    body: str,
    channel: str = Channel.WEB,
    attachments: Sequence[CheckedUpload] = (),
    priority: int | None = None,
    actor: User | None = None,
    follow_up_of: Ticket | None = None,
    live_chat: bool = False,
    client_id: str = "",
    now: datetime | None = None,
) -> Ticket:
    """Open a ticket with the customer's first message. Priority comes from urgency detection
    unless staff set it; the lane is fixed from the customer's tier now. A ``live_chat`` ticket
    starts with the bot: no "received" email, no routing and no SLA clock until it is handed
    to a person (tickets.chat)."""
    now = now or timezone.now()
    subject = _clean_text(subject, limit=200, field="subject")
    body = _clean_text(body, limit=MAX_BODY, field="body")
    language = _language_of(subject + body, customer.language)
    found = detection.detect(f"{subject}\n{body}", language=language)
    ticket = Ticket(
        customer=customer,
        subject=subject,
        channel=channel,
        priority=priority or detection.raised_priority(Priority.NORMAL, found),
        lane=Lane.VIP if customer.tier.is_vip else Lane.STANDARD,
        language=language,
        topic=_topic_of(f"{subject} {body}"),
        detected_terms=found.as_json(),
        urgency_score=found.score,
        awaiting_reply_since=now,
        follow_up_of=follow_up_of,
        chat_phase=ChatPhase.BOT if live_chat else "",
    )
    ticket.created_at = ticket.updated_at = now
    ticket_apply_sla(ticket, now=now)
    ticket.full_clean(exclude=["customer", "sla_policy", "follow_up_of"])
    ticket.save()
    message = Message.objects.create(
        ticket=ticket, author_kind=AuthorKind.CUSTOMER, body=body, created_at=now,
        client_id=client_id,
    )  # fmt: skip
    _save_attachments(ticket, message, attachments)
    _message_added(message)
    _event(
        ticket, EventKind.CREATED, actor, at=now, channel=channel, priority=ticket.priority,
        lane=ticket.lane, detected=[m["term"] for m in ticket.detected_terms],
    )  # fmt: skip
    if follow_up_of:
        _event(follow_up_of, EventKind.FOLLOW_UP, actor, at=now, follow_up=ticket.pk)
    ticket_id = ticket.pk
    if not live_chat:
        transaction.on_commit(lambda: notifications.ticket_received(ticket_id=ticket_id))
        transaction.on_commit(lambda: enqueue("tickets.tasks.ticket_auto_assign", ticket_id))
    return ticket


# --- Messages ----------------------------------------------------------------------------------


def _lock(ticket: Ticket) -> Ticket:
    # of=("self",): lock the ticket row only (PostgreSQL refuses to lock outer-joined rows).
    return (
        Ticket.objects.select_for_update(of=("self",)).select_related("customer").get(pk=ticket.pk)
    )


@transaction.atomic
def message_post(
    *,
    ticket: Ticket,
    author_kind: str,
    body: str,
    author: User | None = None,
    internal: bool = False,
    attachments: Sequence[CheckedUpload] = (),
    status: str | None = None,
    client_id: str = "",
    now: datetime | None = None,
) -> Message:
    """Add a message and apply the status rules:
    - an agent's public reply is the first response if there was none, stops the next-response
      clock, and opens a new ticket (or takes the status the agent chose);
    - a customer's reply starts the next-response clock, opens a pending ticket, reopens a solved
      one within TICKETS_REOPEN_DAYS, and otherwise (closed, or solved long ago) goes to a new
      follow-up ticket, whose message is returned;
    - a customer's reply to a merged ticket goes to the target if that is the same customer's,
      and otherwise (merged into somebody else's) to a follow-up of their own.
    A repeated ``client_id`` returns the message stored the first time."""
    now = now or timezone.now()
    body = _clean_text(body, limit=MAX_BODY, field="body")
    # A resend (same client_id) is caught by the unique constraint below; looked up first only
    # where a new ticket would be made instead.
    ticket = _lock(ticket)
    if author_kind == AuthorKind.CUSTOMER:
        internal = False
        # Only into the same customer's ticket: a merge across customers must not let one
        # write into (and so read) the other's.
        target = selectors.merged_target(ticket) if ticket.merged_into_id else None
        if target is not None:
            return message_post(
                ticket=target, author_kind=author_kind, body=body, author=author,
                attachments=attachments, client_id=client_id, now=now,
            )  # fmt: skip
        if ticket.merged_into_id or not _can_reopen(ticket, now):
            existing = _stored(ticket, client_id, follow_ups=True)
            if existing:
                return existing
            follow_up = ticket_create(
                customer=ticket.customer, subject=_follow_up_subject(ticket), body=body,
                channel=ticket.channel, attachments=attachments, follow_up_of=ticket, now=now,
                client_id=client_id,
            )  # fmt: skip
            return follow_up.messages.get()
    live = ticket.chat_phase in LIVE_CHAT_PHASES
    if (
        author_kind == AuthorKind.AGENT
        and not internal
        and live
        and ticket.assignee_id != getattr(author, "pk", None)
    ):
        # Whatever the entry point (console, ticket page, API): one person talks to the
        # customer in a live chat, the one who accepted it.
        raise ValidationError(
            _("Accept the chat before replying; until then you can add internal notes."),
            code="not_yours",
        )
    try:
        with transaction.atomic():
            message = Message.objects.create(
                ticket=ticket, author_kind=author_kind, author=author if author and author.pk else None,
                body=body, is_internal=internal, client_id=client_id, created_at=now,
            )  # fmt: skip
    except IntegrityError:
        existing = _stored(ticket, client_id)
        if existing is None:
            raise
        return existing  # a resend, or the same client_id at the same moment: stored once
    _save_attachments(ticket, message, attachments)
    sla_inputs = _sla_inputs(ticket)
    old_status = ticket.status
    new_status = status or old_status
    if internal:
        _event(ticket, EventKind.NOTE, author, at=now, message=message.pk)
    else:
        _event(
            ticket, EventKind.REPLIED, author, at=now, message=message.pk, author_kind=author_kind
        )
        if author_kind == AuthorKind.AGENT:
            if ticket.first_responded_at is None:
                ticket.first_responded_at = now
            ticket.awaiting_reply_since = None
            if status is None and old_status == Status.NEW:
                new_status = Status.OPEN
        elif author_kind == AuthorKind.CUSTOMER:
            ticket.awaiting_reply_since = ticket.awaiting_reply_since or now
            if old_status in (Status.PENDING, Status.SOLVED):
                new_status = Status.OPEN
    _change_status(ticket, new_status, author, now)
    ticket.updated_at = now
    if _sla_inputs(ticket) != sla_inputs or ticket.status in PAUSED_STATUSES:
        ticket_apply_sla(ticket, now=now)
    ticket.save(update_fields=_MESSAGE_FIELDS)
    message_id = message.pk
    # A live chat's participants are on the line: no email for each of its messages.
    if not internal and not live:
        transaction.on_commit(lambda: notifications.message_posted(message_id=message_id))
    _message_added(message)
    return message


def _message_added(message: Message) -> None:
    """Ring the chat's doorbell for a stored message, after commit: the customer's open widget
    (public messages) and the agents watching (everything). Every writer of a chat message
    calls this once, so a reply reaches the customer whatever the entry point."""
    if message.ticket.channel == Channel.CHAT:
        broadcast.message_saved(message)


# What message_post may change on the ticket (status rules, clocks, deadlines); the UPDATE
# leaves the other columns alone, and a field message_post starts to change must be added here.
_MESSAGE_FIELDS = [
    "status", "solved_at", "closed_at", "first_responded_at", "awaiting_reply_since",
    "updated_at", *SLA_FIELDS,
]  # fmt: skip


def _stored(ticket: Ticket, client_id: str, *, follow_ups: bool = False) -> Message | None:
    """The message stored earlier under ``client_id``: in this ticket, or (``follow_ups``) as
    the first message of a follow-up it opened, so a resend does not open another."""
    if not client_id:
        return None
    where = Q(ticket=ticket) | Q(ticket__follow_up_of=ticket) if follow_ups else Q(ticket=ticket)
    return Message.objects.filter(where, client_id=client_id).first()


def _sla_inputs(ticket: Ticket) -> tuple:
    """What a ticket's deadlines are computed from (with the policy and the status events):
    a message that changes none of it (a customer's second message in a row) leaves them as
    they are, and message_post skips the recomputation, the costliest part of a chat message."""
    return (
        ticket.status, ticket.priority, ticket.channel, ticket.customer_id, ticket.customer.tier_id,
        ticket.chat_phase,
        ticket.handed_off_at, ticket.first_responded_at, ticket.awaiting_reply_since,
        ticket.solved_at, ticket.sla_policy_id,
    )  # fmt: skip


def _can_reopen(ticket: Ticket, now: datetime) -> bool:
    if ticket.status == Status.CLOSED:
        return False
    if ticket.status == Status.SOLVED and ticket.solved_at:
        return now - ticket.solved_at <= timedelta(days=settings.TICKETS_REOPEN_DAYS)
    return True


def _follow_up_subject(ticket: Ticket) -> str:
    # Stored text, read by the customer: in their language, not the caller's.
    with translation.override(ticket.customer.language):
        prefix = _("Follow-up to %(reference)s: ") % {"reference": ticket.reference}
    return (prefix + ticket.subject)[:200]


def _change_status(ticket: Ticket, status: str, actor, now: datetime) -> None:
    if status == ticket.status:
        return
    if status not in Status.values:
        raise ValidationError({"status": _("Unknown status.")})
    old = ticket.status
    ticket.status = status
    if status == Status.SOLVED:
        ticket.solved_at = now
        ticket.awaiting_reply_since = None
    elif status == Status.CLOSED:
        ticket.closed_at = now
        ticket.solved_at = ticket.solved_at or now
    elif old in (Status.SOLVED, Status.CLOSED):
        ticket.solved_at = None
        ticket.closed_at = None
        if actor is not None and not actor.is_staff:
            # The customer says it is not solved: they are waiting for an answer again.
            ticket.awaiting_reply_since = ticket.awaiting_reply_since or now
    # The SLA pauses are read from these events, so they carry the time of the change.
    _event(ticket, EventKind.STATUS, actor, at=now, **{"from": old, "to": status})
    if status == Status.SOLVED:
        ticket_id = ticket.pk
        transaction.on_commit(lambda: notifications.ticket_solved(ticket_id=ticket_id))


# --- Staff changes -----------------------------------------------------------------------------

_UNSET = object()


@transaction.atomic
def ticket_update(
    *,
    ticket: Ticket,
    actor: User | None,
    status: str | None = None,
    priority: int | None = None,
    assignee=_UNSET,
    team=_UNSET,
    tags: list[str] | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Change status, priority, assignee, team or tags; one event per changed field."""
    now = now or timezone.now()
    ticket = _lock(ticket)
    if ticket.merged_into_id and status not in (None, Status.CLOSED):
        raise ValidationError({"status": _("This ticket was merged into another one.")})
    if status is not None:
        _change_status(ticket, status, actor, now)
    if priority is not None and priority != ticket.priority:
        if priority not in Priority.values:
            raise ValidationError({"priority": _("Unknown priority.")})
        _event(
            ticket, EventKind.PRIORITY, actor, at=now, **{"from": ticket.priority, "to": priority}
        )
        ticket.priority = priority
    if assignee is not _UNSET and getattr(assignee, "pk", None) != ticket.assignee_id:
        _set_assignee(ticket, assignee, actor, now)
    if team is not _UNSET and getattr(team, "pk", None) != ticket.team_id:
        _event(
            ticket, EventKind.TEAM, actor, at=now,
            **{"from": ticket.team_id, "to": getattr(team, "pk", None)},
        )  # fmt: skip
        ticket.team = team
    if tags is not None:
        clean = sorted({t.strip()[:40] for t in tags if t and t.strip()})
        if clean != sorted(ticket.tags):
            _event(ticket, EventKind.TAGS, actor, at=now, **{"from": ticket.tags, "to": clean})
            ticket.tags = clean
    ticket.updated_at = now
    ticket_apply_sla(ticket, now=now)
    ticket.save()
    return ticket


def _set_assignee(ticket: Ticket, assignee, actor, now: datetime) -> None:
    if assignee is not None and not (assignee.is_staff and assignee.is_active):
        raise ValidationError({"assignee": _("Tickets can only be assigned to active staff.")})
    _event(
        ticket, EventKind.ASSIGNEE, actor, at=now,
        **{"from": ticket.assignee_id, "to": getattr(assignee, "pk", None)},
    )  # fmt: skip
    ticket.assignee = assignee
    if assignee is not None:
        AgentProfile.objects.filter(user=assignee).update(last_assigned_at=now)
        ticket_id, user_id = ticket.pk, assignee.pk
        if actor is None or actor.pk != assignee.pk:
            transaction.on_commit(
                lambda: notifications.ticket_assigned(ticket_id=ticket_id, user_id=user_id)
            )


def ticket_auto_assign(*, ticket_id: int) -> assignment.Route | None:
    """Route a new ticket to a team and, when someone is available, an agent."""
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related(
                "customer__tier", "customer__dedicated_agent", "customer__dedicated_team"
            )
            .filter(pk=ticket_id)
            .first()
        )
        if ticket is None or ticket.assignee_id or not ticket.is_active:
            return None
        route = assignment.route(ticket)
        ticket_update(
            ticket=ticket, actor=None,
            team=route.team if route.team else ticket.team,
            assignee=route.assignee if route.assignee else _UNSET,
        )  # fmt: skip
        return route


def take_next_queue(agent: User):
    """The tickets ``agent`` may take, best first: unassigned, active and not waiting on the
    customer, in their teams (or in no team), matching their topic and language skills."""
    from django.db.models import Q

    from tickets.models import Skill

    profile = AgentProfile.objects.filter(user=agent).prefetch_related("teams", "skills").first()
    queue = Ticket.objects.filter(
        assignee__isnull=True, status__in=[Status.NEW, Status.OPEN], merged_into__isnull=True
    ).exclude(chat_phase=ChatPhase.BOT)  # the bot has those
    if profile is None:
        return queue.in_queue_order()
    team_ids = [team.pk for team in profile.teams.all()]
    if team_ids:
        queue = queue.filter(Q(team_id__in=team_ids) | Q(team__isnull=True))
    topics = [s.code for s in profile.skills.all() if s.kind == Skill.Kind.TOPIC]
    languages = [s.code for s in profile.skills.all() if s.kind == Skill.Kind.LANGUAGE]
    if topics:
        queue = queue.filter(Q(topic__in=topics) | Q(topic=""))
    if languages:
        queue = queue.filter(language__in=languages)
    return queue.in_queue_order()


def ticket_take_next(*, agent: User, now: datetime | None = None) -> Ticket | None:
    """Assign the top ticket of the agent's queue to them. Two agents taking at once never get
    the same ticket: candidates are locked (skipped when another transaction holds them) and
    claimed with a conditional update; the loser moves on to the next candidate."""
    now = now or timezone.now()
    for _attempt in range(10):
        with transaction.atomic():
            # Lock one row at a time, skipping rows another agent holds right now.
            pk = (
                take_next_queue(agent)
                .select_for_update(skip_locked=True, of=("self",))
                .values_list("pk", flat=True)
                .first()
            )
            if pk is None:
                return None
            if Ticket.objects.filter(pk=pk, assignee__isnull=True).update(
                assignee=agent, updated_at=now
            ):
                ticket = Ticket.objects.get(pk=pk)
                _event(
                    ticket, EventKind.ASSIGNEE, agent, at=now,
                    **{"from": None, "to": agent.pk, "via": "take_next"},
                )  # fmt: skip
                AgentProfile.objects.filter(user=agent).update(last_assigned_at=now)
                return ticket
    return None


@transaction.atomic
def tickets_merge(
    *, source: Ticket, target: Ticket, actor: User | None, across_customers: bool = False
) -> Ticket:
    """Fold ``source`` into ``target``: its messages and attachments move over (keeping their
    times), it closes and points at the target; customers replying to it reach the target.

    Tickets of two customers merge only with ``across_customers`` (someone confirmed they are
    the same person): the target's customer then sees the source's messages. The source's
    customer does not follow: their replies open a follow-up of their own, and a live chat of
    theirs ends (its token opens nothing of the other customer)."""
    if source.pk == target.pk:
        raise ValidationError(_("A ticket cannot be merged into itself."))
    if target.merged_into_id:
        raise ValidationError(_("The target ticket was itself merged into another one."))
    now = timezone.now()
    # Lock both rows in one query, in primary-key order, so two merges cannot deadlock.
    locked = {
        t.pk: t
        for t in Ticket.objects.select_for_update(of=("self",))
        .select_related("customer__tier")
        .filter(pk__in=[source.pk, target.pk])
        .order_by("pk")
    }
    source, target = locked[source.pk], locked[target.pk]
    other_customer = source.customer_id != target.customer_id
    if other_customer and not across_customers:
        raise ValidationError(
            _(
                "%(source)s and %(target)s belong to different customers: confirm that they "
                "are the same person to merge them."
            )
            % {"source": source.reference, "target": target.reference}
        )
    # Client ids are unique per conversation, and every chat widget starts from the same ones:
    # a moved message whose id the target already has keeps its text but not the id (it only
    # recognised resends to the source).
    taken = Message.objects.filter(ticket=target).exclude(client_id="").values("client_id")
    Message.objects.filter(ticket=source, client_id__in=taken).update(client_id="")
    Message.objects.filter(ticket=source).update(ticket=target)
    Attachment.objects.filter(ticket=source).update(ticket=target)
    note = Message.objects.create(
        ticket=target, author_kind=AuthorKind.SYSTEM, is_internal=True,
        body=_("%(source)s (%(subject)s) was merged into this ticket.")
        % {"source": source.reference, "subject": source.subject},
    )  # fmt: skip
    _message_added(note)
    _event(target, EventKind.MERGED, actor, merged_from=source.pk)
    _event(source, EventKind.MERGED, actor, merged_into=target.pk)
    source.merged_into = target
    _change_status(source, Status.CLOSED, actor, now)
    source.sla_check_at = source.next_due_at = None
    source.sla_clocks = []
    was_waiting = source.chat_phase == ChatPhase.QUEUED
    if other_customer and source.chat_phase in LIVE_CHAT_PHASES:
        source.chat_phase = ChatPhase.ENDED
        broadcast.to_customer(source.pk, {"type": "ended", "survey_url": None})
        if was_waiting:
            broadcast.queue_changed()
    source.save()
    if other_customer:
        _event(target, EventKind.MERGED, actor, other_customer=source.customer_id)
    ticket_apply_sla(target, now=now)
    target.save(update_fields=[*SLA_FIELDS, "updated_at"])
    return target


def tickets_close_solved(*, now: datetime | None = None) -> int:
    """Close tickets solved more than TICKETS_AUTO_CLOSE_DAYS ago (scheduled daily)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.TICKETS_AUTO_CLOSE_DAYS)
    closed = 0
    for pk in Ticket.objects.filter(status=Status.SOLVED, solved_at__lte=cutoff).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            ticket = Ticket.objects.select_for_update().get(pk=pk)
            if ticket.status == Status.SOLVED:
                _change_status(ticket, Status.CLOSED, None, now)
                ticket_apply_sla(ticket, now=now)
                ticket.save()
                closed += 1
    return closed


# --- Deflection --------------------------------------------------------------------------------

DEFLECTION_WINDOW = timedelta(hours=1)


def suggestion_view_record(*, visitor_key: str, article_id: int, query: str = "") -> None:
    SuggestionView.objects.create(visitor_key=visitor_key, article_id=article_id, query=query[:200])


def suggestions_convert(*, visitor_key: str, ticket: Ticket) -> int:
    """The visitor submitted a request after all: their recent suggestion views were not
    deflections."""
    since = timezone.now() - DEFLECTION_WINDOW
    return SuggestionView.objects.filter(
        visitor_key=visitor_key, ticket__isnull=True, created_at__gte=since
    ).update(ticket=ticket)


def active_load(user: User) -> int:
    return Ticket.objects.filter(assignee=user, status__in=ACTIVE_STATUSES).count()
