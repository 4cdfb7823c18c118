"""The forms of the agent workspace in admin. They parse; the admin views call the services."""

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from tickets import selectors
from tickets.attachments import CheckedUpload, check_uploads
from tickets.models import CannedReply, Status, Team, Ticket
from tickets.models.tickets import Priority
from tickets.replies import render_canned_reply
from tickets.services.tickets import MAX_BODY


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class CannedChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: CannedReply) -> str:
        label = f"{obj.title} [{obj.language}]"
        return f"{label} /{obj.shortcut}" if obj.shortcut else label


class ReplyForm(forms.Form):
    """A public reply or an internal note, with files and the status to set after sending."""

    PUBLIC, INTERNAL = "public", "internal"

    kind = forms.ChoiceField(
        label=_("Send as"),
        choices=[(PUBLIC, _("Public reply")), (INTERNAL, _("Internal note"))],
        initial=PUBLIC,
        widget=forms.RadioSelect,
    )
    canned_reply = CannedChoiceField(
        label=_("Canned reply"),
        queryset=CannedReply.objects.none(),
        required=False,
        empty_label=_("— insert a canned reply —"),
        help_text=_("Or type /shortcut and a space in the message."),
    )
    body = forms.CharField(
        label=_("Message"),
        required=False,
        max_length=MAX_BODY,
        widget=forms.Textarea(attrs={"rows": 9}),
    )
    attachments = MultipleFileField(label=_("Attachments"), required=False)
    status = forms.ChoiceField(
        label=_("Then set status"),
        required=False,
        choices=[
            ("", _("Keep (a first reply opens a new ticket)")),
            (Status.OPEN, Status.OPEN.label),
            (Status.PENDING, Status.PENDING.label),
            (Status.ON_HOLD, Status.ON_HOLD.label),
            (Status.SOLVED, Status.SOLVED.label),
        ],
    )

    def __init__(self, *args, ticket: Ticket, agent, **kwargs):
        super().__init__(*args, **kwargs)
        self.ticket, self.agent = ticket, agent
        self.fields["canned_reply"].queryset = selectors.canned_replies()
        self.checked_uploads: list[CheckedUpload] = []

    def clean_body(self) -> str:
        # Browsers submit a textarea's line breaks as CRLF; store them as the other channels do.
        return self.cleaned_data["body"].replace("\r\n", "\n")

    def clean_attachments(self) -> list:
        files = self.cleaned_data.get("attachments") or []
        self.checked_uploads = check_uploads(files)
        return files

    def clean(self):
        cleaned = super().clean()
        canned = cleaned.get("canned_reply")
        if not (cleaned.get("body") or "").strip() and canned is not None:
            # Without JavaScript the picker cannot fill the box: send the canned reply itself.
            cleaned["body"] = render_canned_reply(canned, ticket=self.ticket, agent=self.agent)
            cleaned["status"] = cleaned.get("status") or canned.set_status
        if not (cleaned.get("body") or "").strip() and "body" not in self.errors:
            self.add_error("body", _("Write a message or choose a canned reply."))
        return cleaned

    def message(self) -> dict:
        """The arguments of services.message_post for this reply."""
        data = self.cleaned_data
        return {
            "body": data["body"],
            "internal": data["kind"] == self.INTERNAL,
            "attachments": self.checked_uploads,
            "status": data.get("status") or None,
        }


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.get_username()


class TicketForm(forms.Form):
    """Status, priority, assignee and team. Each field carries the value the agent saw, so only
    what they changed is written, and a colleague's change made meanwhile is not undone."""

    status = forms.ChoiceField(label=_("Status"), choices=Status.choices, show_hidden_initial=True)
    priority = forms.TypedChoiceField(
        label=_("Priority"), choices=Priority.choices, coerce=int, show_hidden_initial=True
    )
    assignee = StaffChoiceField(
        label=_("Assignee"),
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label=_("— unassigned —"),
        show_hidden_initial=True,
    )
    team = forms.ModelChoiceField(
        label=_("Team"),
        queryset=Team.objects.none(),
        required=False,
        empty_label=_("— no team —"),
        show_hidden_initial=True,
    )

    def __init__(self, *args, ticket: Ticket, actor, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "status": ticket.status,
                "priority": ticket.priority,
                "assignee": ticket.assignee_id,
                "team": ticket.team_id,
            },
        )
        super().__init__(*args, **kwargs)
        self.ticket, self.actor = ticket, actor
        self.fields["assignee"].queryset = (
            get_user_model()
            .objects.filter(Q(is_staff=True, is_active=True) | Q(pk=ticket.assignee_id or 0))
            .order_by("first_name", "last_name", "username")
        )
        self.fields["team"].queryset = Team.objects.order_by("position", "name")

    def changes(self) -> dict:
        """The fields the agent changed, for services.ticket_update."""
        return {name: self.cleaned_data[name] for name in self.changed_data}


class PriorityForm(forms.Form):
    priority = forms.TypedChoiceField(label=_("New priority"), choices=Priority.choices, coerce=int)


class KeepChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return str(obj)


def keep_form(
    queryset: QuerySet, *, label, help_text="", confirm: str | None = None
) -> type[forms.Form]:
    """A form choosing which of the selected objects to keep when merging the others into it;
    with ``confirm``, a box that must be ticked to go on."""

    class KeepForm(forms.Form):
        keep = KeepChoiceField(
            label=label,
            queryset=queryset,
            widget=forms.RadioSelect,
            empty_label=None,
            help_text=help_text,
        )
        if confirm:
            confirm_other_customers = forms.BooleanField(
                label=confirm,
                error_messages={"required": _("Tick this box to merge across customers.")},
            )

    return KeepForm
