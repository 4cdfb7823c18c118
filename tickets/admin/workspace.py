"""The ticket page of the agent workspace: the thread, the reply form (canned replies filled
for the ticket) and the ticket's controls, instead of Django's generic model form. Every write
here is one service call."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from tickets import selectors, services
from tickets.admin.display import UNVERIFIED_WARNING, customer_label, describe_event, sla_badge
from tickets.admin.forms import ReplyForm, TicketForm
from tickets.models import AuthorKind, Ticket
from tickets.replies import render_canned_reply


class WorkspaceMixin:
    """The change view of TicketAdmin."""

    def workspace_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("<int:ticket_id>/canned/", view(self.canned_view), name="tickets_ticket_canned"),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        ticket = selectors.ticket_for_workspace(object_id)
        if ticket is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, ticket):
            raise PermissionDenied
        can_change = self.has_change_permission(request, ticket)
        can_reply = (
            can_change
            and request.user.has_perm("tickets.add_message")
            and not ticket.merged_into_id
        )
        reply_form = ticket_form = None
        if request.method == "POST":
            which = request.POST.get("_form")
            if which == "reply" and can_reply:
                result = reply_form = self._reply(request, ticket)
            elif which == "ticket" and can_change:
                result = ticket_form = self._update(request, ticket)
            else:
                raise PermissionDenied
            if isinstance(result, HttpResponse):  # done: back to the page (GET)
                return result
        data = selectors.workspace_for(ticket)
        if can_reply and reply_form is None:
            initial = {"body": f"{data.opening}\n\n" if data.opening else ""}
            reply_form = ReplyForm(initial=initial, ticket=ticket, agent=request.user)
        if can_change and ticket_form is None:
            ticket_form = TicketForm(ticket=ticket, actor=request.user)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": ticket.reference,
            "ticket": ticket,
            "customer": ticket.customer,
            "workspace": data,
            "events": [(event, describe_event(event)) for event in data.events],
            "sla_badge": sla_badge(ticket),
            "customer_label": customer_label(ticket.customer),
            "unverified_warning": UNVERIFIED_WARNING,
            "reply_form": reply_form,
            "ticket_form": ticket_form,
            "media": self.media,
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/tickets/ticket/workspace.html", context)

    def _reply(self, request, ticket: Ticket):
        """Send the reply (and redirect to it), or return the form with its errors."""
        form = ReplyForm(request.POST, request.FILES, ticket=ticket, agent=request.user)
        if not form.is_valid():
            return form
        try:
            message = services.message_post(
                ticket=ticket, author_kind=AuthorKind.AGENT, author=request.user, **form.message()
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
            return form
        self.message_user(request, _("Note added.") if message.is_internal else _("Reply sent."))
        url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
        return HttpResponseRedirect(f"{url}#message-{message.pk}")

    def _update(self, request, ticket: Ticket):
        """Save the changed controls (and redirect), or return the form with its errors."""
        form = TicketForm(request.POST, ticket=ticket, actor=request.user)
        if not form.is_valid():
            return form
        changes = form.changes()
        try:
            if changes:
                services.ticket_update(ticket=ticket, actor=request.user, **changes)
        except ValidationError as exc:
            form.add_error(None, exc.messages)
            return form
        if changes:
            self.message_user(request, _("Ticket updated."))
        else:
            self.message_user(request, _("Nothing changed."), messages.INFO)
        return HttpResponseRedirect(reverse("admin:tickets_ticket_change", args=[ticket.pk]))

    def canned_view(self, request: HttpRequest, ticket_id: int) -> HttpResponse:
        return require_GET(self._canned)(request, ticket_id)

    def _canned(self, request: HttpRequest, ticket_id: int) -> JsonResponse:
        """A canned reply (by ``reply`` id or ``shortcut``) with its placeholders filled for
        this ticket and agent, as plain text: the page puts it in the reply box's value."""
        ticket = get_object_or_404(Ticket.objects.select_related("customer"), pk=ticket_id)
        if not self.has_change_permission(request, ticket):
            raise PermissionDenied
        reply = selectors.canned_reply_for(
            ticket=ticket,
            pk=request.GET.get("reply"),
            shortcut=request.GET.get("shortcut", ""),
        )
        if reply is None:
            return JsonResponse({"detail": str(_("No such canned reply."))}, status=404)
        return JsonResponse(
            {
                "id": reply.pk,
                "title": reply.title,
                "text": render_canned_reply(reply, ticket=ticket, agent=request.user),
                "set_status": reply.set_status,
            }
        )
