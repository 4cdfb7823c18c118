"""How the agent workspace shows a ticket: SLA countdowns and badges, customer labels, one line
per event. Presentation only, from what the row already holds (no query)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from tickets.models import Customer, Event, EventKind, Priority, Status, Ticket


class SlaState:
    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"
    NONE = "none"  # no clock running (paused, solved, or no policy)


@dataclass(frozen=True)
class Countdown:
    state: str
    remaining: timedelta | None  # negative once overdue

    @property
    def text(self) -> str:
        if self.remaining is None:
            return ""
        span = format_span(abs(self.remaining))
        if self.remaining < timedelta(0):
            return str(_("%(time)s overdue") % {"time": span})
        return str(_("in %(time)s") % {"time": span})


def format_span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return str(_("%(days)dd %(hours)dh") % {"days": days, "hours": hours})
    if hours:
        return str(_("%(hours)dh %(minutes)dm") % {"hours": hours, "minutes": minutes})
    return str(_("%(minutes)dm") % {"minutes": minutes})


def sla_countdown(ticket: Ticket, *, now: datetime | None = None) -> Countdown:
    """The SLA colour and time left, from the stored deadlines only (no query): breached when
    the next deadline has passed or the sweep recorded a breach, warning once a running clock's
    warning time has passed."""
    now = now or timezone.now()
    remaining = ticket.next_due_at - now if ticket.next_due_at else None
    if ticket.sla_breached or (remaining is not None and remaining <= timedelta(0)):
        return Countdown(SlaState.BREACHED, remaining)
    if remaining is None:
        return Countdown(SlaState.NONE, None)
    for clock in ticket.sla_clocks or ():
        warn = parse_datetime(clock.get("warn") or "")
        if warn is not None and warn <= now:
            return Countdown(SlaState.WARNING, remaining)
    return Countdown(SlaState.OK, remaining)


def sla_badge(ticket: Ticket) -> str:
    countdown = sla_countdown(ticket)
    labels = {
        SlaState.OK: _("On track"),
        SlaState.WARNING: _("Warning"),
        SlaState.BREACHED: _("Breached"),
    }
    if countdown.state == SlaState.NONE:
        return format_html(
            '<span class="hc-sla hc-sla--none">{}</span>',
            _("Paused") if ticket.is_paused else "–",
        )
    return format_html(
        '<span class="hc-sla hc-sla--{}" title="{}">{} <small>{}</small></span>',
        countdown.state,
        ticket.next_due_at.isoformat() if ticket.next_due_at else "",
        labels[countdown.state],
        countdown.text,
    )


def customer_label(customer: Customer) -> str:
    tier = customer.tier
    label = format_html(
        '{} <span class="hc-tier hc-tier--{}">{}</span>',
        customer,
        "vip" if tier.is_vip else "standard",
        tier.name,
    )
    if customer.is_unverified_contact:
        label = format_html(
            '{} <span class="hc-tier hc-tier--unverified" title="{}">{}</span>',
            label,
            UNVERIFIED_WARNING,
            _("Unverified contact"),
        )
    return label


UNVERIFIED_WARNING = _(
    "Unverified contact: this email belongs to a registered customer, but whoever wrote did "
    "not sign in. Do not disclose account details."
)


def describe_event(event: Event) -> str:
    """One line for the activity list: what changed, with readable values where we have them."""
    data = event.data or {}
    labels = {
        EventKind.STATUS: dict(Status.choices),
        EventKind.PRIORITY: dict(Priority.choices),
    }.get(event.kind)
    if labels and "from" in data and "to" in data:
        return f"{event.get_kind_display()}: {labels.get(data['from'], data['from'])} → {labels.get(data['to'], data['to'])}"
    if event.kind in (EventKind.SLA_WARNING, EventKind.SLA_BREACH):
        return f"{event.get_kind_display()} ({data.get('clock', '')})"
    if event.kind == EventKind.MERGED and "other_customer" in data:
        return str(
            _("Merged: another customer's ticket (customer #%(id)s)")
            % {"id": data["other_customer"]}
        )
    return str(event.get_kind_display())
