from datetime import timedelta

from django.core import mail
from django.utils import timezone

from tickets import services
from tickets.models import Event, EventKind, Priority, Status, Ticket
from tickets.tests.factories import CustomerFactory, TeamFactory, agent, ticket, tier


def chat_ticket(**kwargs):
    return ticket(channel="chat", **kwargs)  # 24/7 policy: first reply due in 30 s


def test_sweep_warns_then_escalates_each_deadline_once(db, django_capture_on_commit_callbacks):
    lead = agent("lead")
    team = TeamFactory(lead=lead)
    owner = agent("owner")
    created = timezone.now()
    t = chat_ticket()
    services.ticket_update(ticket=t, actor=None, assignee=owner, team=team)
    t.refresh_from_db()
    due = t.first_response_due
    assert due - created <= timedelta(seconds=31)

    with django_capture_on_commit_callbacks(execute=True):
        nothing = services.sla_sweep(now=created + timedelta(seconds=5))
    assert nothing.warnings == []
    assert nothing.breaches == []

    with django_capture_on_commit_callbacks(execute=True):
        warned = services.sla_sweep(now=due - timedelta(seconds=2))  # past 75 % of the target
        services.sla_sweep(now=due - timedelta(seconds=1))  # again: nothing new
    assert warned.warnings == [(t.pk, "first_response")]
    assert Event.objects.filter(ticket=t, kind=EventKind.SLA_WARNING).count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        breached = services.sla_sweep(now=due + timedelta(seconds=1))
        again = services.sla_sweep(now=due + timedelta(minutes=5))
    assert (t.pk, "first_response") in breached.breaches
    assert again.breaches == []
    t.refresh_from_db()
    assert t.sla_breached
    assert t.priority == Priority.HIGH  # the chat policy escalates to high
    assert Event.objects.filter(ticket=t, kind=EventKind.SLA_BREACH).count() == 1
    breach_mails = [m for m in mail.outbox if "SLA breached" in m.subject]
    assert sorted(m.to[0] for m in breach_mails) == ["lead@example.com", "owner@example.com"]


def test_a_sweep_after_an_hour_of_downtime_acts_once_and_skips_stale_warnings(db):
    t = chat_ticket()
    late = t.first_response_due + timedelta(hours=1)
    report = services.sla_sweep(now=late)
    assert report.warnings == []  # the deadline already passed: straight to the breach
    assert [clock for _, clock in report.breaches] == ["first_response"]
    assert services.sla_sweep(now=late + timedelta(minutes=1)).breaches == []


def test_two_sweeps_at_once_record_a_breach_once(db):
    t = chat_ticket()
    late = t.first_response_due + timedelta(seconds=1)
    stale_copy = Ticket.objects.get(pk=t.pk)
    services.sla_sweep(now=late)
    # A second sweep that read the ticket before the first one claimed it gets nothing.
    from tickets.services.clocks import _sweep_ticket

    assert _sweep_ticket(stale_copy, late) == []
    assert Event.objects.filter(ticket=t, kind=EventKind.SLA_BREACH).count() == 1


def test_replying_in_time_stops_the_first_response_clock(db):
    answered, unanswered = chat_ticket(), chat_ticket()
    services.message_post(ticket=answered, author_kind="agent", author=agent(), body="Hi!")
    late = max(answered.first_response_due, unanswered.first_response_due)
    report = services.sla_sweep(now=late + timedelta(seconds=1))
    assert (unanswered.pk, "first_response") in report.breaches  # the same sweep sees breaches
    assert (answered.pk, "first_response") not in report.breaches


def test_pending_tickets_do_not_breach_while_waiting_on_the_customer(db):
    t = chat_ticket()
    services.message_post(
        ticket=t, author_kind="agent", author=agent(), body="Order number?", status=Status.PENDING
    )
    t.refresh_from_db()
    assert t.sla_check_at is None
    assert services.sla_sweep(now=timezone.now() + timedelta(days=30)).checked == 0


def test_policy_change_recomputes_open_tickets(db):
    t = ticket()
    policy = t.sla_policy
    policy.first_response = timedelta(minutes=10)
    policy.calendar = None
    policy.save()
    assert services.sla_recompute(policy_ids=[policy.pk]) >= 1
    t.refresh_from_db()
    assert t.first_response_due - t.created_at == timedelta(minutes=10)


def test_vip_ticket_with_tighter_deadline_is_served_before_older_standard_ticket(db):
    standard = ticket(CustomerFactory())
    vip = ticket(CustomerFactory(tier=tier("vip")))
    assert list(Ticket.objects.active().in_queue_order()) == [vip, standard]


def test_standard_tickets_are_not_starved_once_their_deadline_is_nearer(db):
    old_standard = ticket(
        CustomerFactory(), channel="chat", now=timezone.now() - timedelta(minutes=10)
    )
    vip = ticket(CustomerFactory(tier=tier("vip")))
    # a standard chat waiting 10 minutes is long past due: it comes before the new VIP ticket
    assert list(Ticket.objects.active().in_queue_order())[:2] == [old_standard, vip]


def test_old_idempotency_keys_are_forgotten(db):
    from tickets.models import IdempotencyKey
    from tickets.tasks import idempotency_keys_expire

    t = ticket()
    old = IdempotencyKey.objects.create(scope="user:1", key="a", request_hash="x", ticket=t)
    IdempotencyKey.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    IdempotencyKey.objects.create(scope="user:1", key="b", request_hash="y", ticket=t)
    assert idempotency_keys_expire() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["b"]
