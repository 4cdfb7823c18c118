"""Customers: search, tickets, merge."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from tickets import services
from tickets.admin.common import ActionSelectionMixin, CappedPaginator, action_page
from tickets.admin.forms import keep_form
from tickets.models import (
    Customer,
)


class MergedFilter(admin.SimpleListFilter):
    title = _("merged")
    parameter_name = "merged"

    def lookups(self, request, model_admin):
        return [("no", _("Active customers")), ("yes", _("Merged into another"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(merged_into__isnull=True)
        if self.value() == "yes":
            return queryset.filter(merged_into__isnull=False)
        return queryset


@admin.register(Customer)
class CustomerAdmin(ActionSelectionMixin, admin.ModelAdmin):
    list_display = ["__str__", "email", "phone", "tier_badge", "organization", "created_at"]
    list_filter = ["tier", MergedFilter, "segment", "language"]
    list_select_related = ["tier"]
    search_fields = ["name", "email", "unverified_email", "phone"]
    search_help_text = _("Name, email or phone.")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = CappedPaginator
    ordering = ["name", "email", "pk"]
    readonly_fields = ["unverified_email", "user", "merged_into", "created_at", "their_tickets"]
    fieldsets = [
        (
            None,
            {"fields": ["name", "email", "unverified_email", "phone", "language", "organization"]},
        ),
        (_("Service"), {"fields": ["tier", "segment", "dedicated_agent", "dedicated_team"]}),
        (_("Notes"), {"fields": ["notes"]}),
        (_("Tickets"), {"fields": ["their_tickets"]}),
        (_("Account"), {"classes": ["collapse"], "fields": ["user", "merged_into", "created_at"]}),
    ]
    actions = ["merge_customers"]

    class Media:
        css = {"all": ["tickets/admin.css"]}

    @admin.display(description=_("Tier"), ordering="tier__position")
    def tier_badge(self, customer: Customer) -> str:
        return format_html(
            '<span class="hc-tier hc-tier--{}">{}</span>',
            "vip" if customer.tier.is_vip else "standard",
            customer.tier.name,
        )

    @admin.display(description=_("Their tickets"))
    def their_tickets(self, customer: Customer) -> str:
        if not customer.pk:
            return "–"
        tickets = list(customer.tickets.order_by("-created_at")[:10])
        url = reverse("admin:tickets_ticket_changelist")
        all_link = format_html(
            '<a href="{}?customer__id__exact={}&amp;status=all">{}</a>',
            url,
            customer.pk,
            _("All their tickets"),
        )
        if not tickets:
            return format_html("{}<br>{}", _("No tickets yet."), all_link)
        rows = format_html_join(
            "",
            '<li><a href="{}">{}</a> {} <span class="hc-muted">({})</span></li>',
            (
                (
                    reverse("admin:tickets_ticket_change", args=[t.pk]),
                    t.reference,
                    t.subject,
                    t.get_status_display(),
                )
                for t in tickets
            ),
        )
        return format_html('<ul class="hc-plain">{}</ul>{}', rows, all_link)

    def has_merge_permission(self, request) -> bool:
        # Merging retires a customer record, which is a manager's call.
        return request.user.has_perm("tickets.delete_customer")

    @admin.action(description=_("Merge two customers…"), permissions=["merge"])
    def merge_customers(self, request, queryset):
        selected = queryset.select_related("tier").order_by("pk")[:3]
        if len(selected) != 2:
            self.message_user(request, _("Select exactly two customers to merge."), messages.ERROR)
            return None
        if any(c.merged_into_id for c in selected):
            self.message_user(
                request,
                _("A customer that was merged already cannot be merged again."),
                messages.ERROR,
            )
            return None
        form_class = keep_form(
            Customer.objects.filter(pk__in=[c.pk for c in selected]),
            label=_("Keep this customer"),
            help_text=_("The other one's tickets, login and missing details move to it."),
        )
        form = form_class(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            target = form.cleaned_data["keep"]
            source = next(c for c in selected if c.pk != target.pk)
            services.customers_merge(source=source, target=target, actor=request.user)
            self.message_user(
                request,
                _("%(source)s was merged into %(target)s.") % {"source": source, "target": target},
            )
            return None
        return action_page(
            self,
            request,
            action="merge_customers",
            title=_("Merge customers"),
            objects=selected,
            form=form,
        )


# --- Settings: managers edit, agents (at most) read --------------------------------------------
