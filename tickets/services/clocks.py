"""SLA clocks of tickets: choosing the policy, storing the deadlines, the sweep that warns and
escalates exactly once."""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from tickets import sla
from tickets.models import BusinessHours, Event, EventKind, Holiday, SLAPolicy, Ticket
from tickets.models.tickets import PAUSED_STATUSES, ChatPhase, Status

logger = logging.getLogger(__name__)


def active_policies() -> list[SLAPolicy]:
    return list(
        SLAPolicy.objects.active()
        .select_related("calendar")
        .prefetch_related(
            "tiers",
            Prefetch("calendar__hours", queryset=BusinessHours.objects.all()),
            Prefetch("calendar__holidays", queryset=Holiday.objects.all()),
        )
    )


def select_policy(ticket: Ticket, policies: list[SLAPolicy]) -> SLAPolicy | None:
    """The first active policy (in the managers' order) whose conditions the ticket meets."""
    for policy in policies:
        tier_ids = {tier.pk for tier in policy.tiers.all()}
        if policy.matches(
            priority=ticket.priority, channel=ticket.channel, tier_id=ticket.customer.tier_id,
            tier_ids=tier_ids,
        ):  # fmt: skip
            return policy
    return None


def schedule_for(policy: SLAPolicy) -> sla.Schedule:
    calendar = policy.calendar
    if calendar is None:
        return sla.Schedule.always()
    import zoneinfo

    hours: dict[int, list] = {}
    for row in calendar.hours.all():
        hours.setdefault(row.weekday, []).append((row.opens, row.closes))
    return sla.Schedule(
        time_zone=zoneinfo.ZoneInfo(calendar.time_zone),
        hours={day: tuple(sorted(spans)) for day, spans in hours.items()},
        holidays=frozenset(h.date for h in calendar.holidays.all()),
    )


def targets_for(policy: SLAPolicy) -> sla.Targets:
    return sla.Targets(
        first_response=policy.first_response,
        next_response=policy.next_response,
        resolution=policy.resolution,
        warn_at_percent=policy.warn_at_percent,
    )


def ticket_pauses(ticket: Ticket, *, now: datetime) -> list[sla.Pause]:
    """Pending / on-hold intervals, from the event log (and the current status)."""
    changes = []
    if ticket.pk:
        # values_list, not ticket.events: the related manager would load each event's
        # deferred ticket_id to link it back (one query per status change).
        changes = [
            (created_at, data.get("to"))
            for created_at, data in Event.objects.filter(
                ticket_id=ticket.pk, kind=EventKind.STATUS
            ).values_list("created_at", "data")
        ]
    if not changes and ticket.status in PAUSED_STATUSES:
        changes = [(ticket.updated_at or now, ticket.status)]
    return sla.pauses_from_status_changes(changes, PAUSED_STATUSES)


def ticket_apply_sla(
    ticket: Ticket, *, now: datetime | None = None, policies: list[SLAPolicy] | None = None
) -> None:
    """Choose the ticket's policy and store its deadlines and running clocks (not saved)."""
    now = now or timezone.now()
    policy = select_policy(ticket, active_policies() if policies is None else policies)
    ticket.sla_policy = policy
    # A live chat owes a person's reply only from the moment it is handed to one; while the bot
    # handles it no clock runs.
    start = ticket.handed_off_at or ticket.created_at or now
    if ticket.chat_phase == ChatPhase.BOT:
        start = None
    if policy is None or ticket.status == Status.CLOSED or start is None:
        _store(ticket, sla.Deadlines(), now)
        return
    deadlines = sla.compute_deadlines(
        targets=targets_for(policy),
        schedule=schedule_for(policy),
        pauses=ticket_pauses(ticket, now=now),
        created_at=start,
        first_responded_at=ticket.first_responded_at,
        awaiting_reply_since=ticket.awaiting_reply_since,
        resolved_at=ticket.solved_at if ticket.status in (Status.SOLVED, Status.CLOSED) else None,
    )
    _store(ticket, deadlines, now)


def _store(ticket: Ticket, deadlines: sla.Deadlines, now: datetime) -> None:
    ticket.first_response_due = deadlines.first_response_due
    ticket.next_response_due = deadlines.next_response_due
    ticket.resolution_due = deadlines.resolution_due
    ticket.next_due_at = deadlines.next_due
    ticket.sla_clocks = [
        {"name": c.name, "due": c.due.isoformat(), "warn": c.warn.isoformat()}
        for c in deadlines.pending
    ]
    # Look again at the earliest instant ahead; a clock already past due is looked at now.
    past = [c for c in deadlines.pending if c.due <= now]
    ticket.sla_check_at = now if past else deadlines.next_check_after(now)


SLA_FIELDS = [
    "sla_policy", "first_response_due", "next_response_due", "resolution_due", "next_due_at",
    "sla_clocks", "sla_check_at",
]  # fmt: skip


# --- The sweep ---------------------------------------------------------------------------------


@dataclass
class SweepReport:
    checked: int = 0
    warnings: list[tuple[int, str]] = field(default_factory=list)
    breaches: list[tuple[int, str]] = field(default_factory=list)


def sla_sweep(*, now: datetime | None = None, batch_size: int = 200) -> SweepReport:
    """Warn before and escalate at every deadline that has come, once each, however late the
    sweep runs: each ticket is claimed with a conditional update of its check time, and each
    fact is an event with a unique dedupe key."""
    from tickets import notifications

    now = now or timezone.now()
    report = SweepReport()
    due = Ticket.objects.filter(sla_check_at__lte=now).order_by("sla_check_at", "pk")
    after = None  # keyset pagination along tickets_sla_check_idx
    while True:
        page = due
        if after is not None:
            page = due.filter(
                Q(sla_check_at__gt=after[0]) | Q(sla_check_at=after[0], pk__gt=after[1])
            )
        batch = list(
            page.select_related("sla_policy").only(
                "pk", "priority", "sla_clocks", "sla_check_at", "sla_policy__escalate_to_priority"
            )[:batch_size]
        )
        if not batch:
            return report
        after = (batch[-1].sla_check_at, batch[-1].pk)
        for ticket in batch:
            report.checked += 1
            with transaction.atomic():
                facts = _sweep_ticket(ticket, now)
            for kind, clock in facts:
                (report.warnings if kind == EventKind.SLA_WARNING else report.breaches).append(
                    (ticket.pk, clock)
                )
                notifications.sla_alert(ticket_id=ticket.pk, kind=kind, clock=clock)


def _sweep_ticket(ticket: Ticket, now: datetime) -> list[tuple[str, str]]:
    clocks = [
        (c["name"], parse_datetime(c["warn"]), parse_datetime(c["due"])) for c in ticket.sla_clocks
    ]
    upcoming = [t for _, warn, due in clocks for t in (warn, due) if t > now]
    claimed = Ticket.objects.filter(pk=ticket.pk, sla_check_at=ticket.sla_check_at).update(
        sla_check_at=min(upcoming, default=None)
    )
    if not claimed:
        return []  # another sweep took it
    facts, events = [], []
    escalate_to = ticket.sla_policy.escalate_to_priority if ticket.sla_policy else None
    for name, warn, due in clocks:
        if due <= now:
            kind = EventKind.SLA_BREACH
        elif warn <= now:
            kind = EventKind.SLA_WARNING
        else:
            continue
        stamp = due.isoformat()
        events.append(
            Event(
                ticket_id=ticket.pk,
                kind=kind,
                data={"clock": name, "due": stamp},
                dedupe_key=f"{kind}:{ticket.pk}:{name}:{stamp}",
            )
        )
        facts.append((kind, name))
    if not events:
        return []
    existing = set(
        Event.objects.filter(dedupe_key__in=[e.dedupe_key for e in events]).values_list(
            "dedupe_key", flat=True
        )
    )
    new_events = [e for e in events if e.dedupe_key not in existing]
    Event.objects.bulk_create(new_events)
    new_facts = [f for f, e in zip(facts, events, strict=True) if e.dedupe_key not in existing]
    if any(kind == EventKind.SLA_BREACH for kind, _ in new_facts):
        changes = {"sla_breached": True}
        if escalate_to and escalate_to < ticket.priority:
            changes["priority"] = escalate_to
            Event.objects.create(
                ticket_id=ticket.pk, kind=EventKind.PRIORITY,
                data={"from": ticket.priority, "to": escalate_to, "reason": "sla_breach"},
            )  # fmt: skip
        Ticket.objects.filter(pk=ticket.pk).update(**changes)
    return new_facts


def sla_recompute(*, policy_ids: list[int] | None = None, now: datetime | None = None) -> int:
    """Recompute the deadlines of active tickets (after a policy or calendar change)."""
    now = now or timezone.now()
    policies = active_policies()
    tickets = Ticket.objects.active().select_related("customer")
    if policy_ids is not None:
        tickets = tickets.filter(sla_policy_id__in=policy_ids) | Ticket.objects.active().filter(
            sla_policy__isnull=True
        ).select_related("customer")
    count = 0
    for ticket in tickets.iterator(chunk_size=500):
        ticket_apply_sla(ticket, now=now, policies=policies)
        Ticket.objects.filter(pk=ticket.pk).update(**{f: getattr(ticket, f) for f in SLA_FIELDS})
        count += 1
    return count


def clock_remaining(ticket: Ticket, *, now: datetime | None = None) -> timedelta | None:
    """Time left before the next deadline (negative once breached); None if no clock runs."""
    if ticket.next_due_at is None:
        return None
    return ticket.next_due_at - (now or timezone.now())
