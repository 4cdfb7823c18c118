"""What managers set up: tiers, skills, teams, agents, calendars, SLA policies, canned
replies, the urgency lexicon; and the notification log."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.tasks import enqueue
from tickets import detection
from tickets.admin.common import CappedPaginator
from tickets.models import (
    AgentProfile,
    BusinessHours,
    Calendar,
    CannedReply,
    Channel,
    EmpatheticOpening,
    Holiday,
    LexiconEntry,
    Notification,
    Priority,
    Skill,
    SLAPolicy,
    Team,
    Tier,
    UrgencyRule,
)


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_vip", "position"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "code"]
    list_filter = ["kind"]
    search_fields = ["name", "code"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "routing_mode", "is_vip_team", "is_default", "lead", "position"]
    list_select_related = ["lead"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["skills"]


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "capacity", "last_assigned_at"]
    list_filter = ["status", "teams"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email"]
    filter_horizontal = ["teams", "skills"]
    readonly_fields = ["last_assigned_at"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = get_user_model().objects.filter(is_staff=True).order_by("username")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class BusinessHoursInline(admin.TabularInline):
    model = BusinessHours
    extra = 0


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0


def _recompute_after_commit(policy_ids: list[int]) -> None:
    """Deadlines are stored on tickets: recompute them once the new settings are committed."""
    ids = sorted(set(policy_ids))
    transaction.on_commit(lambda: enqueue("tickets.tasks.sla_recompute", ids), robust=True)


@admin.register(Calendar)
class CalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone"]
    inlines = [BusinessHoursInline, HolidayInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        _recompute_after_commit(
            list(SLAPolicy.objects.filter(calendar=form.instance).values_list("pk", flat=True))
        )


class SLAPolicyForm(forms.ModelForm):
    """Priorities and channels are JSON lists on the model; here they are checkboxes."""

    priorities = forms.TypedMultipleChoiceField(
        label=_("Priorities"),
        choices=Priority.choices,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: any priority."),
    )
    channels = forms.MultipleChoiceField(
        label=_("Channels"),
        choices=Channel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: any channel."),
    )

    class Meta:
        model = SLAPolicy
        fields = [
            "name",
            "position",
            "is_active",
            "priorities",
            "channels",
            "tiers",
            "first_response",
            "next_response",
            "resolution",
            "calendar",
            "warn_at_percent",
            "escalate_to_priority",
        ]


@admin.register(SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin):
    form = SLAPolicyForm
    list_display = [
        "name",
        "position",
        "is_active",
        "conditions",
        "first_response",
        "next_response",
        "resolution",
        "calendar",
    ]
    list_select_related = ["calendar"]
    list_filter = ["is_active"]
    ordering = ["position", "pk"]
    filter_horizontal = ["tiers"]

    @admin.display(description=_("Applies to"))
    def conditions(self, policy: SLAPolicy) -> str:
        parts = [
            ", ".join(str(Priority(p).label) for p in policy.priorities if p in Priority.values),
            ", ".join(str(Channel(c).label) for c in policy.channels if c in Channel.values),
        ]
        return " · ".join(p for p in parts if p) or str(_("Everything else"))

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        policy = form.instance
        # Tickets of this policy, and of every policy it may now come before, can change.
        old = form.initial.get("position", policy.position) if change else policy.position
        ids = SLAPolicy.objects.filter(Q(position__gte=min(old, policy.position)) | Q(pk=policy.pk))
        _recompute_after_commit(list(ids.values_list("pk", flat=True)))

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        _recompute_after_commit([])  # its tickets have no policy now: they are recomputed

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        _recompute_after_commit([])


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["title", "shortcut", "language", "set_status", "is_active"]
    list_filter = ["language", "is_active"]
    search_fields = ["title", "shortcut", "body"]


class LexiconAdminMixin:
    """Detection caches the lexicon: drop the cache once a change is committed."""

    def _changed(self):
        transaction.on_commit(detection.lexicon_changed, robust=True)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        self._changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        self._changed()


@admin.register(LexiconEntry)
class LexiconEntryAdmin(LexiconAdminMixin, admin.ModelAdmin):
    list_display = ["term", "kind", "language", "weight", "is_regex", "is_active"]
    list_editable = ["weight", "is_active"]
    list_filter = ["kind", "language", "is_active", "is_regex"]
    search_fields = ["term"]


@admin.register(UrgencyRule)
class UrgencyRuleAdmin(LexiconAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "min_score", "priority"]


@admin.register(EmpatheticOpening)
class EmpatheticOpeningAdmin(LexiconAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "language", "segment"]
    list_filter = ["language", "segment"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Read-only: what was mailed to whom, and what failed."""

    list_display = ["kind", "recipient", "ticket", "state", "attempts", "created_at", "sent_at"]
    list_filter = ["state", "kind"]
    list_select_related = ["ticket"]
    search_fields = ["recipient"]
    show_full_result_count = False
    paginator = CappedPaginator

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
