from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from tickets import services
from tickets.models import AuthorKind, Event, EventKind, Lane, Priority, Status, Ticket
from tickets.tests.factories import CustomerFactory, agent, ticket, tier


def test_create_ticket_sets_lane_sla_event_and_first_message(db):
    t = ticket(subject="Where is my parcel?", body="Order 123 has not arrived.")
    assert t.reference == f"HC-{t.pk:06d}"
    assert t.status == Status.NEW
    assert t.lane == Lane.STANDARD
    assert t.sla_policy.name == "Standard"
    assert t.first_response_due is not None
    assert t.next_due_at == min(t.first_response_due, t.resolution_due)
    assert t.messages.get().author_kind == AuthorKind.CUSTOMER
    assert list(t.events.values_list("kind", flat=True)) == [EventKind.CREATED]


def test_vip_customers_get_the_vip_lane_and_tighter_policy(db):
    vip = CustomerFactory(tier=tier("vip"))
    t = ticket(vip)
    assert t.lane == Lane.VIP
    assert t.sla_policy.name == "VIP"
    assert t.first_response_due - t.created_at == timedelta(minutes=30)


def test_chat_tickets_get_a_30_second_first_reply_target(db):
    t = ticket(channel="chat")
    assert t.sla_policy.name == "Chat"
    assert t.first_response_due - t.created_at == timedelta(seconds=30)


@pytest.mark.parametrize(
    ("text", "priority", "terms"),
    [
        ("This is URGENT, I need it asap!!!", Priority.URGENT, {"urgent", "asap", r"!{3,}"}),
        ("I want to file a complaint", Priority.NORMAL, {"complaint"}),
        ("我很着急，要投诉", Priority.URGENT, {"着急", "投诉", "急"}),
        ("急！要差评了", Priority.HIGH, {"急", "差评"}),
        ("Where is my order?", Priority.NORMAL, set()),
    ],
)
def test_urgency_detection_raises_priority_and_explains_itself(db, text, priority, terms):
    t = ticket(subject="Help", body=text)
    assert t.priority == priority
    assert {m["term"] for m in t.detected_terms} == terms


def test_agent_reply_is_first_response_and_opens_the_ticket(db, django_capture_on_commit_callbacks):
    t = ticket()
    staff = agent()
    with django_capture_on_commit_callbacks(execute=True):
        services.message_post(
            ticket=t, author_kind=AuthorKind.AGENT, author=staff, body="On its way."
        )
    t.refresh_from_db()
    assert t.status == Status.OPEN
    assert t.first_responded_at is not None
    assert t.awaiting_reply_since is None
    assert [c["name"] for c in t.sla_clocks] == ["resolution"]
    assert mail.outbox[-1].to == [t.customer.email]


def test_internal_notes_do_not_count_as_a_response(db):
    t = ticket()
    services.message_post(
        ticket=t,
        author_kind=AuthorKind.AGENT,
        author=agent(),
        body="Check warehouse",
        internal=True,
    )
    t.refresh_from_db()
    assert t.first_responded_at is None
    assert t.status == Status.NEW


def test_customer_reply_reopens_pending_and_starts_next_response_clock(db):
    t = ticket()
    staff = agent()
    services.message_post(
        ticket=t,
        author_kind=AuthorKind.AGENT,
        author=staff,
        body="Order number?",
        status=Status.PENDING,
    )
    t.refresh_from_db()
    assert t.status == Status.PENDING
    assert t.sla_clocks == []  # paused
    services.message_post(ticket=t, author_kind=AuthorKind.CUSTOMER, body="It is 123")
    t.refresh_from_db()
    assert t.status == Status.OPEN
    assert "next_response" in [c["name"] for c in t.sla_clocks]


def test_customer_reply_reopens_a_recently_solved_ticket(db):
    t = ticket()
    services.ticket_update(ticket=t, actor=agent(), status=Status.SOLVED)
    message = services.message_post(ticket=t, author_kind=AuthorKind.CUSTOMER, body="Still broken")
    t.refresh_from_db()
    assert message.ticket_id == t.pk
    assert t.status == Status.OPEN
    assert t.solved_at is None


def test_customer_reply_to_an_old_solved_ticket_opens_a_linked_follow_up(db, settings):
    t = ticket()
    long_ago = timezone.now() - timedelta(days=settings.TICKETS_REOPEN_DAYS + 1)
    services.ticket_update(ticket=t, actor=agent(), status=Status.SOLVED, now=long_ago)
    message = services.message_post(ticket=t, author_kind=AuthorKind.CUSTOMER, body="Again broken")
    follow_up = message.ticket
    assert follow_up.pk != t.pk
    assert follow_up.follow_up_of_id == t.pk
    assert follow_up.subject.startswith(f"Follow-up to {t.reference}")
    assert Ticket.objects.get(pk=t.pk).status == Status.SOLVED


def test_solved_tickets_close_after_n_days(db, settings):
    t = ticket()
    services.ticket_update(
        ticket=t, actor=None, status=Status.SOLVED,
        now=timezone.now() - timedelta(days=settings.TICKETS_AUTO_CLOSE_DAYS + 1),
    )  # fmt: skip
    fresh = ticket()
    services.ticket_update(ticket=fresh, actor=None, status=Status.SOLVED)
    assert services.tickets_close_solved() == 1
    assert Ticket.objects.get(pk=t.pk).status == Status.CLOSED
    assert Ticket.objects.get(pk=fresh.pk).status == Status.SOLVED


def test_every_change_is_an_event(db):
    t = ticket()
    staff = agent()
    services.ticket_update(
        ticket=t,
        actor=staff,
        status=Status.OPEN,
        priority=Priority.HIGH,
        assignee=staff,
        tags=["vip", "late"],
    )
    kinds = list(t.events.values_list("kind", flat=True))
    assert kinds == [
        EventKind.CREATED,
        EventKind.STATUS,
        EventKind.PRIORITY,
        EventKind.ASSIGNEE,
        EventKind.TAGS,
    ]
    priority = t.events.get(kind=EventKind.PRIORITY)
    assert priority.data == {"from": Priority.NORMAL, "to": Priority.HIGH}
    assert priority.actor == staff


def test_client_id_makes_a_resend_a_no_op(db):
    t = ticket()
    first = services.message_post(
        ticket=t, author_kind=AuthorKind.CUSTOMER, body="hi", client_id="abc"
    )
    again = services.message_post(
        ticket=t, author_kind=AuthorKind.CUSTOMER, body="hi", client_id="abc"
    )
    assert first.pk == again.pk
    assert t.messages.count() == 2  # the opening message and this one


def test_blank_and_oversized_bodies_are_rejected(db):
    t = ticket()
    with pytest.raises(ValidationError):
        services.message_post(ticket=t, author_kind=AuthorKind.CUSTOMER, body="   ")
    with pytest.raises(ValidationError):
        services.message_post(ticket=t, author_kind=AuthorKind.CUSTOMER, body="x" * 20_001)


def test_merge_moves_messages_and_closes_the_source(db):
    customer = CustomerFactory()
    a, b = ticket(customer, subject="First"), ticket(customer, subject="Second")
    services.tickets_merge(source=b, target=a, actor=agent())
    b.refresh_from_db()
    assert b.status == Status.CLOSED
    assert b.merged_into_id == a.pk
    assert a.messages.filter(author_kind=AuthorKind.CUSTOMER).count() == 2
    # the customer replying to the merged ticket reaches the target
    message = services.message_post(ticket=b, author_kind=AuthorKind.CUSTOMER, body="hello?")
    assert message.ticket_id == a.pk
    with pytest.raises(ValidationError):
        services.tickets_merge(source=a, target=a, actor=None)


def test_tickets_of_different_customers_merge_only_when_confirmed(db):
    a, b = ticket(CustomerFactory(), subject="First"), ticket(CustomerFactory(), subject="Second")
    with pytest.raises(ValidationError, match="different customers"):
        services.tickets_merge(source=b, target=a, actor=None)
    b.refresh_from_db()
    assert b.merged_into_id is None
    assert a.messages.count() == 1
    services.tickets_merge(source=b, target=a, actor=None, across_customers=True)
    assert a.events.filter(kind=EventKind.MERGED, data__other_customer=b.customer_id).exists()


def test_a_reply_to_a_ticket_merged_into_another_customers_opens_a_follow_up_of_their_own(db):
    mine, theirs = ticket(CustomerFactory(), subject="Mine"), ticket(CustomerFactory())
    services.tickets_merge(source=mine, target=theirs, actor=None, across_customers=True)
    message = services.message_post(ticket=mine, author_kind=AuthorKind.CUSTOMER, body="hello?")
    assert message.ticket_id not in (mine.pk, theirs.pk)
    assert (message.ticket.customer_id, message.ticket.follow_up_of_id) == (
        mine.customer_id,
        mine.pk,
    )
    assert not theirs.messages.filter(body="hello?").exists()


def test_chats_whose_messages_share_client_ids_merge_without_an_error(db):
    customer = CustomerFactory()
    a, b = (
        ticket(customer, subject=s, channel="chat", live_chat=True, client_id="c1")
        for s in ("First", "Second")
    )
    services.tickets_merge(source=b, target=a, actor=None)
    assert sorted(
        a.messages.filter(author_kind=AuthorKind.CUSTOMER).values_list("client_id", flat=True)
    ) == ["", "c1"]


def test_notifications_are_sent_once_after_commit(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        t = ticket()
    assert mail.outbox == []  # nothing before commit
    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()
    received = [m for m in mail.outbox if "We received your request" in m.subject]
    assert len(received) == 1
    assert received[0].to == [t.customer.email]
    assert received[0].alternatives  # HTML and text
    from tickets import notifications

    with django_capture_on_commit_callbacks(execute=True):
        notifications.ticket_received(ticket_id=t.pk)  # reported again: not sent again
    assert len([m for m in mail.outbox if "We received" in m.subject]) == 1


def test_a_failing_mail_server_never_fails_the_request(
    db, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tickets.tests.test_services.BrokenBackend"
    with django_capture_on_commit_callbacks(execute=True):
        t = ticket()
    notification = t.notifications.get()
    assert notification.state == "failed"
    assert notification.attempts == 1
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from tickets import notifications

    assert notifications.notifications_retry(now=timezone.now() + timedelta(minutes=5)) == 1
    notification.refresh_from_db()
    assert notification.state == "sent"


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP down")


def test_events_are_ordered_and_pauses_come_from_them(db):
    t = ticket()
    base = timezone.now()
    services.ticket_update(
        ticket=t, actor=None, status=Status.PENDING, now=base + timedelta(minutes=10)
    )
    services.ticket_update(
        ticket=t, actor=None, status=Status.OPEN, now=base + timedelta(minutes=70)
    )
    t.refresh_from_db()
    # 2 h target + 1 h paused: the first response is due 3 h after creation (24/7 would be),
    # in business hours it is later still; never earlier.
    assert t.first_response_due - t.created_at >= timedelta(hours=3) - timedelta(seconds=1)
    assert Event.objects.filter(ticket=t, kind=EventKind.STATUS).count() == 2
