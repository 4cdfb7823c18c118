import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

REFERENCE_PREFIX = "HC-"
# "Due soon" in the queue: a deadline within this time.
DUE_SOON = timedelta(hours=1)
REFERENCE_RE = re.compile(r"^\s*(?:HC-?)?0*(\d{1,12})\s*$", re.IGNORECASE)


class Status(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending (waiting on customer)")
    ON_HOLD = "on_hold", _("On hold")
    SOLVED = "solved", _("Solved")
    CLOSED = "closed", _("Closed")


ACTIVE_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)
DONE_STATUSES = (Status.SOLVED, Status.CLOSED)
# The SLA clock stops while the ball is in the customer's (or a third party's) court.
PAUSED_STATUSES = (Status.PENDING, Status.ON_HOLD)


class Priority(models.IntegerChoices):
    # Ascending order is most urgent first, which is what the queue wants.
    URGENT = 1, _("Urgent")
    HIGH = 2, _("High")
    NORMAL = 3, _("Normal")
    LOW = 4, _("Low")


class Channel(models.TextChoices):
    WEB = "web", _("Web")
    EMAIL = "email", _("Email")
    CHAT = "chat", _("Chat")
    API = "api", _("API")
    PHONE = "phone", _("Phone")


class Lane(models.IntegerChoices):
    VIP = 1, _("VIP")
    STANDARD = 2, _("Standard")


class ChatPhase(models.TextChoices):
    """Where a live chat stands (empty for other channels)."""

    BOT = "bot", _("With the bot")
    QUEUED = "queued", _("Waiting for an agent")
    AGENT = "agent", _("With an agent")
    ENDED = "ended", _("Ended")


# A customer and (soon) an agent are on the line: the chat's messages go by socket, not email.
LIVE_CHAT_PHASES = (ChatPhase.BOT, ChatPhase.QUEUED, ChatPhase.AGENT)


class TicketQuerySet(models.QuerySet):
    def active(self):
        """Not solved or closed: the work still to do."""
        # Said as "not done": SQLite then walks tickets_queue_order_idx for the queue order
        # instead of sorting every active ticket (0.3 ms vs 50 ms at 100,000 tickets).
        return self.exclude(status__in=DONE_STATUSES)

    def breached(self, now):
        """Still to do, and past a deadline (or recorded as breached by the sweep)."""
        return self.active().filter(Q(sla_breached=True) | Q(next_due_at__lte=now))

    def due_soon(self, now, within=None):
        """A deadline within the next hour (or ``within``)."""
        within = within or DUE_SOON
        return self.filter(next_due_at__gt=now, next_due_at__lte=now + within)

    def in_queue_order(self):
        """Earliest pending SLA deadline first; then VIP lane, priority, age. VIP policies have
        tighter targets, which is what puts VIP tickets first without starving the others."""
        return self.order_by(
            F("next_due_at").asc(nulls_last=True), "lane", "priority", "created_at", "pk"
        )

    def for_list(self):
        return self.select_related("customer", "customer__tier", "assignee", "team")

    def visible_to_customer(self, customer):
        return self.filter(customer=customer, merged_into__isnull=True)

    def by_reference(self, reference: str):
        """Filter by a human reference (HC-000123, hc123 or 123); none if it is not one."""
        pk = parse_reference(reference)
        return self.filter(pk=pk) if pk else self.none()


def parse_reference(reference: str) -> int | None:
    match = REFERENCE_RE.match(reference or "")
    return int(match.group(1)) if match else None


def new_access_key() -> str:
    return secrets.token_urlsafe(24)


class Ticket(models.Model):
    subject = models.CharField(_("subject"), max_length=200)
    customer = models.ForeignKey(
        "tickets.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="tickets",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.NEW
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    channel = models.CharField(
        _("channel"), max_length=10, choices=Channel.choices, default=Channel.WEB
    )
    lane = models.PositiveSmallIntegerField(
        _("lane"), choices=Lane.choices, default=Lane.STANDARD, editable=False
    )
    team = models.ForeignKey(
        "tickets.Team",
        verbose_name=_("team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        limit_choices_to={"is_staff": True},
    )
    tags = models.JSONField(_("tags"), default=list, blank=True)
    language = models.CharField(_("language"), max_length=10, default="en")
    topic = models.SlugField(
        _("topic"), max_length=60, blank=True,
        help_text=_("Knowledge-base category the ticket is about, for skill-based routing."),
    )  # fmt: skip
    # Urgency / negative-sentiment lexicon matches: [{"term", "weight", "kind"}].
    detected_terms = models.JSONField(_("detected terms"), default=list, blank=True, editable=False)
    urgency_score = models.FloatField(_("urgency score"), default=0, editable=False)
    access_key = models.CharField(
        max_length=40, unique=True, default=new_access_key, editable=False
    )
    # Live chat: the conversation's phase, when it was handed to a person and when one joined.
    chat_phase = models.CharField(
        _("chat"), max_length=10, choices=ChatPhase.choices, blank=True, default="", editable=False
    )
    handed_off_at = models.DateTimeField(_("handed off"), null=True, blank=True, editable=False)
    agent_joined_at = models.DateTimeField(_("agent joined"), null=True, blank=True, editable=False)

    # Times default to now but can be given, so that imports and tests state when things happened.
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    first_responded_at = models.DateTimeField(_("first response"), null=True, blank=True)
    solved_at = models.DateTimeField(_("solved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # The oldest customer message not answered yet: the start of the next-response clock.
    awaiting_reply_since = models.DateTimeField(null=True, blank=True, editable=False)

    # SLA deadlines are data: computed by tickets.sla from the policy, the calendar and the
    # pauses in the event log, stored so that queue order and sweeps are plain indexed queries.
    sla_policy = models.ForeignKey(
        "tickets.SLAPolicy", verbose_name=_("SLA policy"), on_delete=models.SET_NULL,
        null=True, blank=True, editable=False,
    )  # fmt: skip
    first_response_due = models.DateTimeField(
        _("first response due"), null=True, blank=True, editable=False
    )
    next_response_due = models.DateTimeField(
        _("next response due"), null=True, blank=True, editable=False
    )
    resolution_due = models.DateTimeField(
        _("resolution due"), null=True, blank=True, editable=False
    )
    next_due_at = models.DateTimeField(_("next deadline"), null=True, blank=True, editable=False)
    # The running clocks: [{"name", "due", "warn"}] (ISO times), what the sweep acts on.
    sla_clocks = models.JSONField(default=list, blank=True, editable=False)
    # When the SLA sweep must next look at this ticket (the earliest warning or deadline still
    # ahead); None when no clock is running.
    sla_check_at = models.DateTimeField(null=True, blank=True, editable=False)
    sla_breached = models.BooleanField(_("SLA breached"), default=False, editable=False)

    follow_up_of = models.ForeignKey(
        "self", verbose_name=_("follow-up of"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="follow_ups", editable=False,
    )  # fmt: skip
    merged_into = models.ForeignKey(
        "self", verbose_name=_("merged into"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="merged_tickets", editable=False,
    )  # fmt: skip

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            # The queue order (in_queue_order); on PostgreSQL an ascending index already keeps
            # NULLs last, so the first page of the queue is an index scan.
            models.Index(
                fields=["next_due_at", "lane", "priority", "created_at", "id"],
                name="tickets_queue_order_idx",
            ),
            models.Index(fields=["status", "next_due_at"], name="tickets_queue_idx"),
            models.Index(
                fields=["chat_phase", "team"],
                name="tickets_live_chat_idx",
                condition=Q(chat_phase__in=["queued", "agent"]),
            ),
            models.Index(fields=["assignee", "status"], name="tickets_assignee_idx"),
            models.Index(fields=["team", "status"], name="tickets_team_idx"),
            models.Index(fields=["customer", "created_at"], name="tickets_customer_idx"),
            models.Index(
                fields=["sla_check_at"],
                name="tickets_sla_check_idx",
                condition=Q(sla_check_at__isnull=False),
            ),
            models.Index(
                fields=["next_due_at"],
                name="tickets_due_idx",
                condition=Q(next_due_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("tickets:detail", kwargs={"reference": self.reference})

    def get_guest_url(self) -> str:
        return reverse(
            "tickets:guest", kwargs={"reference": self.reference, "key": self.access_key}
        )

    @property
    def reference(self) -> str:
        return f"{REFERENCE_PREFIX}{self.pk:06d}" if self.pk else f"{REFERENCE_PREFIX}new"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_paused(self) -> bool:
        return self.status in PAUSED_STATUSES


class AuthorKind(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    AGENT = "agent", _("Agent")
    BOT = "bot", _("Bot")
    SYSTEM = "system", _("System")


class MessageQuerySet(models.QuerySet):
    def public(self):
        return self.filter(is_internal=False)


class Message(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author_kind = models.CharField(_("author"), max_length=10, choices=AuthorKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Plain text as written; templates escape it (and turn line breaks and URLs into HTML).
    body = models.TextField(_("message"))
    is_internal = models.BooleanField(_("internal note"), default=False)
    # Set by chat clients so that a resend after a reconnect is stored once.
    client_id = models.CharField(max_length=64, blank=True, default="")
    # Bot answers: {"articles": [{"slug", "title", "url"}], "options": [...]}.
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("sent"), default=timezone.now, db_index=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "client_id"],
                condition=~Q(client_id=""),
                name="tickets_message_client_id_unique",
            ),
        ]
        indexes = [models.Index(fields=["ticket", "created_at"], name="tickets_message_thread_idx")]

    def __str__(self) -> str:
        return f"{self.get_author_kind_display()}: {self.body[:60]}"


def attachment_path(instance: "Attachment", filename: str) -> str:
    # A random name: the client's file name never reaches the file system.
    return f"attachments/{secrets.token_hex(2)}/{secrets.token_urlsafe(24)}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="attachments", null=True, blank=True
    )
    file = models.FileField(upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveIntegerField(_("size"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return reverse("tickets:attachment", kwargs={"pk": self.pk})


class EventKind(models.TextChoices):
    CREATED = "created", _("Created")
    REPLIED = "replied", _("Public reply")
    NOTE = "note", _("Internal note")
    STATUS = "status", _("Status changed")
    PRIORITY = "priority", _("Priority changed")
    ASSIGNEE = "assignee", _("Assignee changed")
    TEAM = "team", _("Team changed")
    TAGS = "tags", _("Tags changed")
    SLA_WARNING = "sla_warning", _("SLA warning")
    SLA_BREACH = "sla_breach", _("SLA breach")
    MERGED = "merged", _("Merged")
    FOLLOW_UP = "follow_up", _("Follow-up opened")
    HANDOFF = "handoff", _("Handed off to a person")
    CLAIMED = "claimed", _("Claimed by the customer")


class Event(models.Model):
    """Append-only log of everything that happened to a ticket: the audit trail, and what
    SLA pauses and the metrics are computed from."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=20, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    # For facts that must be recorded once (an SLA warning for one deadline): unique when set.
    dedupe_key = models.CharField(max_length=120, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="tickets_event_ticket_idx"),
            models.Index(fields=["kind", "created_at"], name="tickets_event_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind}"


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key for ticket creation: a retried POST returns the same ticket."""

    scope = models.CharField(max_length=80)  # "user:<id>" or "guest:<email>"
    key = models.CharField(max_length=120)
    request_hash = models.CharField(max_length=64)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="tickets_idempotency_unique")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"


class Notification(models.Model):
    """One email to one recipient about one fact; the dedupe key makes sending idempotent."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=30)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="notifications")
    recipient = models.EmailField(_("recipient"))
    language = models.CharField(max_length=10, default="en")
    dedupe_key = models.CharField(max_length=160, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient}"


class SuggestionView(models.Model):
    """A knowledge-base article opened from the suggestions of the request form. One that is
    not followed by a request from the same visitor is a deflection."""

    visitor_key = models.CharField(max_length=80, db_index=True)
    article = models.ForeignKey("kb.Article", on_delete=models.CASCADE, related_name="+")
    query = models.CharField(max_length=200, blank=True)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("suggested article opened")
        verbose_name_plural = _("suggested articles opened")

    def __str__(self) -> str:
        return f"{self.article_id} ({'request' if self.ticket_id else 'deflected'})"
