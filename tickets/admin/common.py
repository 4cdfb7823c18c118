"""Shared pieces of the tickets admin: capped pagination, tamper-proof selections, action pages."""

from django.contrib import admin
from django.core.paginator import Paginator
from django.template.response import TemplateResponse
from django.utils.functional import cached_property

# Rows an action may touch at once; bigger selections are refused with a message.
ACTION_LIMIT = 500


class CappedPaginator(Paginator):
    """Counts at most CAP rows (COUNT over a LIMITed subquery), so a list page costs the same
    at 100,000 rows as at 100. ``capped`` tells the templates to show "10,000+"."""

    CAP = 10_000
    capped = False

    @cached_property
    def count(self) -> int:
        # order_by(): a count does not need the queue order, and sorting first costs a full scan.
        counted = self.object_list.order_by()[: self.CAP + 1].count()
        self.capped = counted > self.CAP
        return counted


class QueuePaginator(CappedPaginator):
    """Fetches a page in two steps: the page's ids from the ticket rows alone, then those rows
    with their joins. When a filter keeps the queue-order index from serving the sort (mine,
    unassigned, a team), sorting narrow rows is about twice as fast at 100,000 tickets, and a
    deep page costs what the first one does (measured on SQLite)."""

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in self.object_list.order_by().filter(pk__in=ids)}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)


class ActionSelectionMixin:
    """A tampered selection (ids that are not numbers, or too big for the database) is dropped
    instead of ending in a 500."""

    def response_action(self, request, queryset):
        name = admin.helpers.ACTION_CHECKBOX_NAME
        selected = request.POST.getlist(name)
        valid = [pk for pk in selected if pk.isdigit() and len(pk) <= 18]
        if valid != selected:
            request.POST = request.POST.copy()
            request.POST.setlist(name, valid)
        return super().response_action(request, queryset)


def action_page(
    model_admin, request, *, action: str, title, objects, form, warning=None, extra=None
) -> TemplateResponse:
    """The intermediate page of an action that needs a choice (the selection rides along);
    ``warning`` (with ``extra``, a list of lines) is shown above the form."""
    context = {
        "warning": warning,
        "warning_lines": extra or [],
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": title,
        "objects": objects,
        "form": form,
        "action": action,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        "media": model_admin.media,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/tickets/action_form.html", context)
