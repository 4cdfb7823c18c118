"""What a chat message costs the server, and the shortcuts that keep it cheap without changing
what is stored (bench/chat.py measures the effect): deadlines recomputed only when their inputs
change, no email per live-chat message, the SLA pauses in one query, the sockets' database
connection kept between frames, the in-memory layer's sweep, warm-up and gc.freeze at start."""

import asyncio
import gc
import threading
import time

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.layers import get_channel_layer
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.layers import InMemoryChannelLayer
from core.socket_db import close_pool, database_sync_to_async, pending_group_sends
from helpcenter.asgi import application
from tickets import services
from tickets.chat import broadcast
from tickets.chat import services as chat
from tickets.models import AuthorKind, Notification, Status, Ticket
from tickets.services.clocks import SLA_FIELDS, ticket_apply_sla, ticket_pauses
from tickets.tests.factories import CustomerFactory, StaffFactory, ticket


def _deadlines(t: Ticket) -> dict:
    return {name: getattr(t, name) for name in SLA_FIELDS if name != "sla_check_at"}


def test_a_second_customer_message_in_a_row_keeps_the_deadlines_without_recomputing(db):
    t = ticket()
    agent = StaffFactory()
    services.message_post(ticket=t, author_kind=AuthorKind.AGENT, author=agent, body="Hello")
    services.message_post(ticket=t, author_kind=AuthorKind.CUSTOMER, body="Still waiting")
    t.refresh_from_db()
    assert t.awaiting_reply_since is not None
    assert t.next_response_due is not None
    with CaptureQueriesContext(connection) as second:
        services.message_post(ticket=t, author_kind=AuthorKind.CUSTOMER, body="Hello??")
    assert not [q for q in second.captured_queries if "tickets_slapolicy" in q["sql"]]
    stored = Ticket.objects.get(pk=t.pk)
    recomputed = Ticket.objects.select_related("customer").get(pk=t.pk)
    ticket_apply_sla(recomputed)
    assert _deadlines(stored) == _deadlines(recomputed)
    # An agent's answer changes the inputs (the next-response clock stops): recomputed.
    with CaptureQueriesContext(connection) as answer:
        services.message_post(ticket=stored, author_kind=AuthorKind.AGENT, author=agent, body="Hi")
    assert [q for q in answer.captured_queries if "tickets_slapolicy" in q["sql"]]
    assert Ticket.objects.get(pk=t.pk).next_response_due is None


def test_a_paused_ticket_is_always_recomputed(db):
    t = ticket()
    agent = StaffFactory()
    services.message_post(
        ticket=t, author_kind=AuthorKind.AGENT, author=agent, body="Which order?",
        status=Status.PENDING,
    )  # fmt: skip
    with CaptureQueriesContext(connection) as note:
        services.message_post(
            ticket=Ticket.objects.get(pk=t.pk), author_kind=AuthorKind.AGENT, author=agent,
            body="Waiting for the order number", internal=True,
        )  # fmt: skip
    assert [q for q in note.captured_queries if "tickets_slapolicy" in q["sql"]]


def test_sla_pauses_are_read_in_one_query_however_many_status_changes(db):
    t = ticket()
    agent = StaffFactory()
    for status in (Status.PENDING, Status.OPEN, Status.ON_HOLD, Status.OPEN, Status.PENDING):
        services.ticket_update(ticket=t, actor=agent, status=status)
    t = Ticket.objects.get(pk=t.pk)
    with CaptureQueriesContext(connection) as queries:
        pauses = ticket_pauses(t, now=t.updated_at)
    assert len(queries.captured_queries) == 1
    assert len(pauses) == 3


def _live_chat(agent_email: str) -> Ticket:
    agent = StaffFactory(email=agent_email)
    customer = CustomerFactory()
    posted = chat.customer_message(
        ticket=None, customer=customer, text="I need a person", client_id="c1"
    )
    chat.handoff(ticket=posted.ticket, reason="asked")
    assert chat.accept(ticket_id=posted.ticket.pk, agent=agent)
    return Ticket.objects.select_related("customer__tier").get(pk=posted.ticket.pk)


def test_customer_messages_in_a_live_chat_send_no_email_but_other_tickets_do(
    db, django_capture_on_commit_callbacks
):
    live = _live_chat("live-agent@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        chat.customer_message(ticket=live, customer=live.customer, text="Order 42", client_id="c2")
    assert not Notification.objects.filter(kind="customer_replied").exists()

    web = ticket()
    web_agent = StaffFactory(email="web-agent@example.com")
    services.ticket_update(ticket=web, actor=web_agent, assignee=web_agent)
    with django_capture_on_commit_callbacks(execute=True):
        services.message_post(
            ticket=Ticket.objects.get(pk=web.pk), author_kind=AuthorKind.CUSTOMER, body="Any news?"
        )
    replied = Notification.objects.filter(kind="customer_replied")
    assert list(replied.values_list("recipient", flat=True)) == ["web-agent@example.com"]


def test_a_customer_chat_message_costs_a_fixed_number_of_queries(
    db, django_capture_on_commit_callbacks
):
    """The message path of bench/chat.py, pinned (docs/architecture.md "Live chat"): lock the
    row, store the message in a savepoint, the event, the ticket's changed columns. A change
    that adds a query here shows up as a failure, not as a slower benchmark months later."""
    live = _live_chat("agent@example.com")
    chat.customer_message(ticket=live, customer=None, text="First", client_id="q1")
    # As the consumer loads it: only what the phase check needs.
    current = Ticket.objects.only("id", "chat_phase", "customer_id", "merged_into_id").get(
        pk=live.pk
    )
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        posted = chat.customer_message(ticket=current, customer=None, text="Second", client_id="q2")
    assert posted.created
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    # (Inside the test's transaction: the outer BEGIN/COMMIT are a SAVEPOINT/RELEASE here.)
    assert statements == [
        "SAVEPOINT", "SELECT", "SAVEPOINT", "INSERT", "RELEASE", "INSERT", "UPDATE", "RELEASE"
    ], statements  # fmt: skip
    assert len(callbacks) == 2  # the doorbells: the customer's group and the agents watching


def test_a_resent_chat_message_is_reported_as_not_created(db):
    live = _live_chat("agent@example.com")
    first = chat.customer_message(ticket=live, customer=live.customer, text="Hi", client_id="r1")
    again = chat.customer_message(ticket=live, customer=live.customer, text="Hi", client_id="r1")
    assert first.created
    assert not again.created
    assert again.message.pk == first.message.pk


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_sockets_thread_keeps_its_connection_for_socket_conn_max_age(settings):
    @database_sync_to_async
    def state():
        connection.ensure_connection()
        return connection.settings_dict["CONN_MAX_AGE"], connection.close_at

    settings.SOCKET_CONN_MAX_AGE = 60
    try:
        max_age, close_at = await state()
        assert max_age == 60
        assert close_at - time.monotonic() > 50
    finally:
        settings.SOCKET_CONN_MAX_AGE = 0  # closes it (on a database that can close)
        max_age, close_at = await state()
        # With a pool, that call may have run on another thread: close them all.
        await asyncio.get_running_loop().run_in_executor(None, close_pool)
    assert max_age == 0
    assert close_at <= time.monotonic()


@pytest.mark.asyncio
async def test_the_in_memory_layer_sweeps_for_expired_messages_at_most_once_a_second(
    monkeypatch,
):
    sweeps = []
    monkeypatch.setattr(
        "channels.layers.InMemoryChannelLayer._clean_expired", lambda self: sweeps.append(1)
    )
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("room", channel)
    for n in range(50):
        await layer.group_send("room", {"type": "chat.frame", "n": n})
    assert len(sweeps) == 1
    assert (await layer.receive(channel))["n"] == 0
    layer._swept_at -= 1.5
    await layer.group_send("room", {"type": "chat.frame", "n": 50})
    assert len(sweeps) == 2


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_lifespan_startup_warms_up_and_freezes_the_heap():
    from kb import semantic
    from kb.search import text

    gc.unfreeze()
    lifespan = ApplicationCommunicator(application, {"type": "lifespan"})
    try:
        await lifespan.send_input({"type": "lifespan.startup"})
        assert await lifespan.receive_output(timeout=60) == {"type": "lifespan.startup.complete"}
        assert gc.get_freeze_count() > 10_000
        assert semantic._encoder_state["loaded"]
        assert text._jieba is not None
        await lifespan.send_input({"type": "lifespan.shutdown"})
        assert await lifespan.receive_output(timeout=5) == {"type": "lifespan.shutdown.complete"}
    finally:
        gc.unfreeze()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_group_sends_in_a_socket_database_call_go_out_after_it_in_order(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "core.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("room", channel)

    @database_sync_to_async
    def announce():
        broadcast._send("room", {"type": "chat.frame", "n": 1})
        broadcast._send("room", {"type": "chat.frame", "n": 2})
        return list(pending_group_sends.get()._items)  # queued in the database thread, not sent

    queued = await announce()
    assert [event["n"] for _group, event in queued] == [1, 2]
    assert pending_group_sends.get() is None
    assert (await layer.receive(channel))["n"] == 1
    assert (await layer.receive(channel))["n"] == 2


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_group_send_after_the_caller_was_cancelled_still_goes_out(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "core.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("room", channel)
    started, release = threading.Event(), threading.Event()

    @database_sync_to_async
    def slow_save():
        broadcast._send("room", {"type": "chat.frame", "n": 1})
        started.set()
        release.wait(5)  # the caller is cancelled meanwhile (server shutting down, say)
        broadcast._send("room", {"type": "chat.frame", "n": 2})

    task = asyncio.ensure_future(slow_save())
    await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 1
    assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 2


@pytest.mark.asyncio
async def test_the_in_memory_layer_gives_each_group_member_its_own_copy():
    layer = InMemoryChannelLayer(capacity=2)
    first, second = await layer.new_channel(), await layer.new_channel()
    for channel in (first, second):
        await layer.group_add("room", channel)
    await layer.group_send("room", {"type": "chat.frame", "n": 1})
    got = await layer.receive(first)
    got["type"] = "changed by one consumer"
    assert await layer.receive(second) == {"type": "chat.frame", "n": 1}
    # A full channel misses group messages; the others still get them.
    for n in (2, 3, 4):
        await layer.group_send("room", {"type": "chat.frame", "n": n})
    assert [(await layer.receive(first))["n"] for _ in range(2)] == [2, 3]
    assert layer.channels.get(first) is None
    with pytest.raises(TypeError):
        await layer.group_send("room", "not a dict")
