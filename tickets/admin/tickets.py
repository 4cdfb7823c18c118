"""The agent workspace's ticket admin, put together from its parts: the queue (list, filters,
search, take next), the ticket page and the bulk actions."""

from django.contrib import admin

from tickets.admin.actions import TicketActionsMixin
from tickets.admin.common import ActionSelectionMixin
from tickets.admin.queue import QueueMixin
from tickets.admin.workspace import WorkspaceMixin
from tickets.models import Ticket


@admin.register(Ticket)
class TicketAdmin(
    QueueMixin, WorkspaceMixin, TicketActionsMixin, ActionSelectionMixin, admin.ModelAdmin
):
    class Media:
        css = {"all": ["tickets/admin.css"]}
        js = ["tickets/admin.js"]

    def has_add_permission(self, request):
        return False  # tickets come from the channels, through ticket_create

    def has_delete_permission(self, request, obj=None):
        return False  # the record stays; merge or close instead

    def get_urls(self):
        return self.queue_urls() + self.workspace_urls() + super().get_urls()
