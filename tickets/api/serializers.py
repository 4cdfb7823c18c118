"""Parsing and rendering for the tickets API (tickets/api.py). Inputs only parse: they refuse
fields the caller may not set, and leave every rule to tickets.services."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import IntegerChoices
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tickets.attachments import check_uploads
from tickets.models import AuthorKind, Channel, Lane, Message, Priority, Status, Team, Ticket
from tickets.models.tickets import REFERENCE_PREFIX
from tickets.services.tickets import MAX_BODY


def _reference_of(pk: int | None) -> str | None:
    return f"{REFERENCE_PREFIX}{pk:06d}" if pk else None


def _site_url(path: str) -> str:
    return settings.SITE_URL + path


# Larger than any primary key a database holds: such an id names nothing (and must not reach
# the database, which would fail on it rather than find nothing).
MAX_ID = 2**63 - 1


def as_id(value) -> int | None:
    """An integer id from an int or a string of ASCII digits; None if it is not one."""
    if isinstance(value, str):
        value = value.strip()
        value = int(value) if value.isascii() and value.isdigit() else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    return None


# --- Input fields ------------------------------------------------------------------------------


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not declare, so a field the caller may not set (priority for a
    customer, say) is a 400 naming it, never silently dropped."""

    def to_internal_value(self, data):
        unknown = {}
        if hasattr(data, "keys"):
            unknown = {
                name: [_("You may not set this field.")]
                for name in sorted(set(data.keys()) - set(self.fields))
            }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                exc.detail.update(unknown)
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class NamedChoiceField(serializers.Field):
    """An IntegerChoices value given as its number or its name (``urgent`` or ``1``)."""

    choices: type[IntegerChoices]

    default_error_messages = {"invalid": gettext_lazy("Use one of: %(choices)s.")}

    def to_internal_value(self, data):
        names = {member.name.lower(): member.value for member in self.choices}
        if isinstance(data, str) and data.strip().lower() in names:
            return names[data.strip().lower()]
        if as_id(data) in self.choices.values:
            return as_id(data)
        self.fail("invalid", choices=", ".join(f"{v} ({n})" for n, v in names.items()))
        return None  # unreachable: fail() raises

    def to_representation(self, value) -> str:
        return self.choices(value).name.lower()


def _named_choice_schema(choices) -> dict:
    return {
        "oneOf": [
            {"type": "integer", "enum": list(choices.values)},
            {"type": "string", "enum": [m.name.lower() for m in choices]},
        ]
    }


@extend_schema_field(_named_choice_schema(Priority))
class PriorityField(NamedChoiceField):
    choices = Priority


@extend_schema_field(_named_choice_schema(Lane))
class LaneField(NamedChoiceField):
    choices = Lane


@extend_schema_field(
    {
        "oneOf": [{"type": "integer"}, {"type": "string"}],
        "nullable": True,
        "description": "The assignee's user id or username; null to unassign.",
    }
)
class AssigneeField(serializers.Field):
    default_error_messages = {
        "invalid": gettext_lazy("Give a user id or a username."),
        "does_not_exist": gettext_lazy("No such user."),
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str) or not str(data).strip():
            self.fail("invalid")
        users = get_user_model().objects
        if isinstance(data, int) or data.strip().isdigit():
            user_id = as_id(data)
            user = users.filter(pk=user_id).first() if user_id else None
        else:
            user = users.filter(username=data.strip()).first()
        if user is None:
            self.fail("does_not_exist")
        return user

    def to_representation(self, value):
        return value.pk


class AttachmentsField(serializers.ListField):
    """Files of a multipart request, checked by content (tickets.attachments)."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.FileField(), required=False, **kwargs)

    def to_internal_value(self, data):
        try:
            return check_uploads(super().to_internal_value(data))
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


# --- Input serializers -------------------------------------------------------------------------


class TicketIn(StrictSerializer):
    """A signed-in customer's new ticket."""

    subject = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=MAX_BODY)
    attachments = AttachmentsField()


class GuestTicketIn(TicketIn):
    """A ticket opened without signing in: who to answer, by email."""

    name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    email = serializers.EmailField(max_length=254)


class StaffTicketIn(TicketIn):
    """Staff opening a ticket on a customer's behalf (a phone call, say)."""

    customer_email = serializers.EmailField(max_length=254)
    customer_name = serializers.CharField(
        max_length=150, required=False, allow_blank=True, default=""
    )
    priority = PriorityField(required=False, help_text="Default: from urgency detection.")


class MessageIn(StrictSerializer):
    """A customer's reply."""

    body = serializers.CharField(max_length=MAX_BODY)
    attachments = AttachmentsField()


class StaffMessageIn(MessageIn):
    """A staff reply or internal note, optionally changing the status."""

    internal = serializers.BooleanField(default=False, help_text="An internal note.")
    status = serializers.ChoiceField(choices=Status.choices, required=False)


class TicketUpdateIn(StrictSerializer):
    """Staff changes; give only the fields to change."""

    status = serializers.ChoiceField(choices=Status.choices, required=False)
    priority = PriorityField(required=False)
    assignee = AssigneeField(required=False, allow_null=True)
    team = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Team.objects.all(),
        required=False,
        allow_null=True,
        help_text="Team slug; null for none.",
    )

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(_("Give at least one field to change."))
        return attrs


class CustomerFilters(serializers.Serializer):
    """Query parameters; an empty one (``?channel=`` from a form's blank choice) is no filter."""

    def to_internal_value(self, data):
        if hasattr(data, "getlist"):
            data = data.copy()
            for name in [name for name in data if not any(data.getlist(name))]:
                del data[name]
        return super().to_internal_value(data)

    status = serializers.MultipleChoiceField(
        choices=Status.choices, required=False, help_text="Repeat for several."
    )


class StaffFilters(CustomerFilters):
    """Staff only (customers may filter by status)."""

    priority = PriorityField(required=False)
    lane = LaneField(required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    team = serializers.SlugField(required=False, help_text="Team slug.")
    assignee = serializers.CharField(
        required=False, help_text='Assignee\'s user id, "me" or "none" (unassigned).'
    )
    breached = serializers.BooleanField(
        required=False, allow_null=True, help_text="Whether an SLA deadline was missed."
    )
    q = serializers.CharField(
        required=False,
        max_length=200,
        help_text="Words of the subject, customer email or reference.",
    )

    def validate_assignee(self, value: str) -> str | int:
        value = value.strip().lower()
        if value in ("me", "none"):
            return value
        if user_id := as_id(value):
            return user_id
        raise serializers.ValidationError(_('Give a user id, "me" or "none".'))


# --- Output serializers ------------------------------------------------------------------------


class ErrorOut(serializers.Serializer):
    detail = serializers.CharField()


class ValidationErrorOut(ErrorOut):
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name (or non_field_errors) -> messages.",
    )


class AttachmentOut(serializers.Serializer):
    name = serializers.CharField(source="original_name")
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    url = serializers.CharField(source="get_absolute_url")


class MessageOut(serializers.Serializer):
    id = serializers.IntegerField()
    author_kind = serializers.ChoiceField(choices=AuthorKind.choices)
    author_name = serializers.SerializerMethodField()
    body = serializers.CharField()
    internal = serializers.BooleanField(
        source="is_internal", help_text="An internal note: only staff see those."
    )
    created_at = serializers.DateTimeField()
    attachments = AttachmentOut(many=True)

    def get_author_name(self, message: Message) -> str:
        if message.author_kind == AuthorKind.CUSTOMER:
            return message.ticket.customer.display_name
        if message.author:
            return message.author.get_full_name() or message.author.get_username()
        return str(message.get_author_kind_display())


class MessagePostedOut(MessageOut):
    ticket = serializers.CharField(
        source="ticket.reference",
        help_text="The ticket the message went to: a new follow-up ticket when the customer "
        "replied to a closed one.",
    )


class TicketOut(serializers.Serializer):
    """A ticket as its customer sees it."""

    reference = serializers.CharField()
    subject = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    channel = serializers.ChoiceField(choices=Channel.choices)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    solved_at = serializers.DateTimeField(allow_null=True)
    follow_up_of = serializers.SerializerMethodField()

    def get_follow_up_of(self, ticket: Ticket) -> str | None:
        return _reference_of(ticket.follow_up_of_id)


class CustomerOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField(allow_null=True)
    tier = serializers.CharField(source="tier.slug")
    vip = serializers.BooleanField(source="is_vip")


class UserOut(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField(source="get_username")
    name = serializers.CharField(source="get_full_name")


class TeamOut(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()


class StaffTicketOut(TicketOut):
    """A ticket as staff see it: triage, routing and SLA too."""

    priority = serializers.SerializerMethodField()
    lane = serializers.SerializerMethodField()
    customer = CustomerOut()
    assignee = UserOut(allow_null=True)
    team = TeamOut(allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())
    language = serializers.CharField()
    topic = serializers.CharField()
    first_response_due = serializers.DateTimeField(allow_null=True)
    next_response_due = serializers.DateTimeField(allow_null=True)
    resolution_due = serializers.DateTimeField(allow_null=True)
    next_due_at = serializers.DateTimeField(allow_null=True, help_text="The queue sorts on it.")
    sla_breached = serializers.BooleanField()
    merged_into = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(choices=[p.name.lower() for p in Priority]))
    def get_priority(self, ticket: Ticket) -> str:
        return Priority(ticket.priority).name.lower()

    @extend_schema_field(serializers.ChoiceField(choices=[lane.name.lower() for lane in Lane]))
    def get_lane(self, ticket: Ticket) -> str:
        return Lane(ticket.lane).name.lower()

    def get_merged_into(self, ticket: Ticket) -> str | None:
        return _reference_of(ticket.merged_into_id)


class TicketDetailOut(TicketOut):
    messages = MessageOut(many=True, source="thread", help_text="Public messages, oldest first.")


class StaffTicketDetailOut(StaffTicketOut):
    messages = MessageOut(
        many=True, source="thread", help_text="Messages and internal notes, oldest first."
    )


class TicketCreatedOut(serializers.Serializer):
    reference = serializers.CharField()
    subject = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    channel = serializers.ChoiceField(choices=Channel.choices)
    created_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField(help_text="The ticket on the site (signed in).")
    guest_url = serializers.SerializerMethodField(
        help_text="For tickets opened without signing in: the private link to follow the ticket."
    )

    def get_url(self, ticket: Ticket) -> str:
        with translation.override(ticket.customer.language):
            return _site_url(ticket.get_absolute_url())

    def get_guest_url(self, ticket: Ticket) -> str | None:
        if not self.context.get("guest"):
            return None
        with translation.override(ticket.customer.language):
            return _site_url(ticket.get_guest_url())
