"""Bulk actions on the ticket list: assign to me, solve, set priority, merge. One service call
per ticket, so each gets its events and side effects; selections are capped."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from tickets import services
from tickets.admin.common import ACTION_LIMIT, action_page
from tickets.admin.forms import PriorityForm, keep_form
from tickets.models import Status, Ticket


class TicketActionsMixin:
    """The actions of TicketAdmin."""

    actions = ["assign_to_me", "set_priority", "solve", "merge"]

    def _limited(self, request, queryset: QuerySet) -> list[int] | None:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[: ACTION_LIMIT + 1])
        if len(ids) > ACTION_LIMIT:
            self.message_user(
                request,
                _("Select at most %(limit)d tickets for one action.") % {"limit": ACTION_LIMIT},
                messages.ERROR,
            )
            return None
        return ids

    def _each(self, request, ids: list[int], change, done) -> None:
        """Apply ``change(ticket)`` to each ticket (one service call each) and report."""
        changed, errors = 0, []
        for ticket in Ticket.objects.filter(pk__in=ids).order_by("pk"):
            try:
                change(ticket)
            except ValidationError as exc:
                errors.append(f"{ticket.reference}: {' '.join(exc.messages)}")
            else:
                changed += 1
        if changed:
            self.message_user(request, done % {"count": changed}, messages.SUCCESS)
        for error in errors:
            self.message_user(request, error, messages.ERROR)

    @admin.action(description=_("Assign to me"), permissions=["change"])
    def assign_to_me(self, request, queryset):
        ids = self._limited(request, queryset)
        if ids is not None:
            self._each(
                request,
                ids,
                lambda t: services.ticket_update(
                    ticket=t, actor=request.user, assignee=request.user
                ),
                _("%(count)d ticket(s) assigned to you."),
            )

    @admin.action(description=_("Solve"), permissions=["change"])
    def solve(self, request, queryset):
        ids = self._limited(request, queryset)
        if ids is not None:
            self._each(
                request,
                ids,
                lambda t: services.ticket_update(
                    ticket=t, actor=request.user, status=Status.SOLVED
                ),
                _("%(count)d ticket(s) solved."),
            )

    @admin.action(description=_("Set priority…"), permissions=["change"])
    def set_priority(self, request, queryset):
        ids = self._limited(request, queryset)
        if ids is None:
            return None
        form = PriorityForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            priority = form.cleaned_data["priority"]
            self._each(
                request,
                ids,
                lambda t: services.ticket_update(ticket=t, actor=request.user, priority=priority),
                _("Priority set on %(count)d ticket(s)."),
            )
            return None
        return action_page(
            self,
            request,
            action="set_priority",
            title=_("Set the priority of the selected tickets"),
            objects=Ticket.objects.filter(pk__in=ids).order_by("pk"),
            form=form,
        )

    @admin.action(description=_("Merge into one ticket…"), permissions=["change"])
    def merge(self, request, queryset):
        ids = self._limited(request, queryset)
        if ids is None:
            return None
        if len(ids) < 2:
            self.message_user(request, _("Select at least two tickets to merge."), messages.ERROR)
            return None
        selected = Ticket.objects.filter(pk__in=ids).select_related("customer").order_by("pk")
        customers = {t.customer_id: t.customer for t in selected}
        # Across customers, whoever owns the kept ticket sees all the messages: only for one
        # person known under two records, and only once the agent says so.
        across = len(customers) > 1
        form_class = keep_form(
            selected,
            label=_("Keep this ticket"),
            help_text=_("The others are closed and their messages move into it."),
            confirm=_(
                "These tickets belong to different customers. I checked that they are the same "
                "person: the customer of the kept ticket will see every message."
            )
            if across
            else None,
        )
        form = form_class(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            target = form.cleaned_data["keep"]
            try:
                with transaction.atomic():
                    for source in selected.exclude(pk=target.pk):
                        if source.merged_into_id:
                            raise ValidationError(
                                _("%(reference)s was already merged into another ticket.")
                                % {"reference": source.reference}
                            )
                        services.tickets_merge(
                            source=source, target=target, actor=request.user,
                            across_customers=across,
                        )  # fmt: skip
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(count)d ticket(s) merged into %(reference)s.")
                    % {"count": len(ids) - 1, "reference": target.reference},
                )
            return None
        return action_page(
            self,
            request,
            action="merge",
            title=_("Merge tickets"),
            objects=selected,
            form=form,
            warning=_(
                "These tickets belong to different customers. Merged, the customer of the kept "
                "ticket sees the others' messages; the others no longer reach it."
            )
            if across
            else None,
            extra=[
                f"{t.reference} · {t.customer} <{t.customer.contact_email or '–'}>"
                for t in selected
            ]
            if across
            else None,
        )
