"""The live-chat protocol end to end: WebsocketCommunicator against the real consumers, services
and database (docs/chat-protocol.md)."""

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.roles import AGENTS, ensure_roles
from core.socket_db import close_pool
from core.socket_db import database_sync_to_async as socket_database_sync_to_async
from helpcenter.asgi import application
from kb.search import CONFIDENT, WEAK, search
from kb.tests.factories import ArticleFactory, CategoryFactory
from tickets.defaults import ensure_defaults
from tickets.models import (
    AgentProfile,
    ChatPhase,
    Customer,
    Message,
    RoutingMode,
    Team,
    Ticket,
    Tier,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
ORIGIN = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]


@dataclass
class FakeDecision:
    kind: str
    hits: list = field(default_factory=list)
    score: float = 0.0


def fulltext_decide(text, *, language):
    result = search(text, language=language, limit=3)
    best = result.best_confidence
    kind = "answer" if best >= CONFIDENT else "clarify" if best >= WEAK else "handoff"
    return FakeDecision(kind, list(result.hits), best)


@pytest.fixture
def kb_and_desk(monkeypatch, settings):
    """Defaults (a flush by an earlier transactional test removes migration data), a small KB."""
    ensure_defaults(apps)
    ensure_roles(apps)
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "core.layers.InMemoryChannelLayer"}}
    monkeypatch.setattr("tickets.chat.bot._decide", fulltext_decide)
    # Chats go to this team's queue; agents accept them by hand unless a test says otherwise.
    Team.objects.get_or_create(
        slug="desk",
        defaults={"name": "Desk", "is_default": True, "routing_mode": RoutingMode.MANUAL},
    )
    category = CategoryFactory(slug="refunds")
    ArticleFactory(
        slug="refund-time", title="How long does a refund take?", category=category,
        summary="Refunds reach Alipay in 1-3 business days.", questions=["money back"],
    )  # fmt: skip
    ArticleFactory(
        slug="refund-time-zh", title="退款多久能到账？", language="zh-hans", category=category,
        summary="支付宝 1-3 个工作日到账。", questions=["钱什么时候退回来"],
    )  # fmt: skip


def make_agent(username="agent", *, is_staff=True):
    user = get_user_model().objects.create_user(
        username, password="pw", is_staff=is_staff, first_name=username.title()
    )
    user.groups.add(Group.objects.get(name=AGENTS))
    profile, _ = AgentProfile.objects.get_or_create(user=user)
    profile.teams.add(Team.objects.get(slug="desk"))
    return user


async def customer_socket(cookies: str | None = None):
    headers = list(ORIGIN)
    if cookies:
        headers.append((b"cookie", cookies.encode()))
    socket = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    connected, _ = await socket.connect()
    assert connected
    return socket


async def agent_socket(user, *, client=None):
    from django.test import Client

    client = client or Client()
    await database_sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    socket = WebsocketCommunicator(
        application, "/ws/agent/", headers=[*ORIGIN, (b"cookie", cookie.encode())]
    )
    connected, code = await socket.connect()
    return socket, connected, code


async def frames_until(socket, *kinds, limit=20, timeout=3):
    """Read frames until one of ``kinds`` arrives; return all read."""
    seen = []
    for _ in range(limit):
        try:
            frame = await socket.receive_json_from(timeout=timeout)
        except TimeoutError:
            raise AssertionError(f"no {kinds} frame; got {seen}") from None
        seen.append(frame)
        if frame["type"] in kinds:
            return seen
    raise AssertionError(f"no {kinds} frame in {seen}")


def by_type(frames, kind):
    return [f for f in frames if f["type"] == kind]


async def start_chat(socket, text="how long does a refund take", client_id="c1"):
    await socket.send_json_to({"type": "hello", "conversation": None, "after": None})
    welcome = await socket.receive_json_from()
    assert welcome["type"] == "welcome"
    await socket.send_json_to({"type": "message", "text": text, "client_id": client_id})
    return await frames_until(socket, "ack")


async def test_a_new_visitor_gets_a_welcome_and_the_bot_answers_with_an_article(kb_and_desk):
    socket = await customer_socket()
    await socket.send_json_to({"type": "hello", "conversation": None, "after": None})
    welcome = await socket.receive_json_from()
    assert welcome == {
        "type": "welcome",
        "conversation": None,
        "status": "new",
        "greeting": welcome["greeting"],
    }
    await socket.send_json_to(
        {"type": "message", "text": "how long does a refund take", "client_id": "c1"}
    )
    frames = await frames_until(socket, "ack")
    started = by_type(frames, "welcome")[0]
    assert started["conversation"]
    assert started["status"] == "bot"
    ack = by_type(frames, "ack")[0]
    frames += await frames_until(socket, "message")  # the bot's answer
    messages = by_type(frames, "message")
    assert [m["author"] for m in messages] == ["customer", "bot"]
    assert messages[0]["id"] == ack["id"]
    assert messages[1]["articles"][0]["slug"] == "refund-time"
    ticket = await database_sync_to_async(Ticket.objects.get)(access_key=started["conversation"])
    assert (ticket.channel, ticket.chat_phase, ticket.next_due_at) == ("chat", ChatPhase.BOT, None)
    await socket.disconnect()


async def test_a_resend_with_the_same_client_id_is_stored_once(kb_and_desk):
    socket = await customer_socket()
    frames = await start_chat(socket, text="hello there", client_id="same")
    first = by_type(frames, "ack")[0]
    await socket.send_json_to({"type": "message", "text": "hello there", "client_id": "same"})
    again = by_type(await frames_until(socket, "ack"), "ack")[0]
    assert again["id"] == first["id"]
    assert await database_sync_to_async(Message.objects.filter(client_id="same").count)() == 1
    await socket.disconnect()


async def test_reconnecting_with_after_replays_only_what_was_missed(kb_and_desk):
    socket = await customer_socket()
    frames = await start_chat(socket, text="money back")
    token = by_type(frames, "welcome")[0]["conversation"]
    first_id = by_type(frames, "ack")[0]["id"]
    await frames_until(socket, "message")
    await socket.disconnect()

    again = await customer_socket()
    await again.send_json_to({"type": "hello", "conversation": token, "after": first_id})
    frames = await frames_until(again, "message")
    assert frames[0]["type"] == "welcome"
    assert frames[0]["conversation"] == token
    replayed = by_type(frames, "message")
    assert all(m["id"] > first_id for m in replayed)
    assert replayed[0]["author"] == "bot"
    await again.disconnect()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_frame"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "message", "client_id": "x"}', "invalid"),
        (json.dumps({"type": "message", "text": "x" * 3000}), "invalid"),
        (json.dumps({"type": "message", "text": "x" * 9000}), "too_large"),
        ('{"type": "hello", "conversation": 42}', "invalid"),
        ('{"type": "hello", "conversation": "no-such-token"}', "invalid"),
        ('{"type": "choose", "slug": "x"}', "invalid"),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_stays_usable(kb_and_desk, raw, code):
    socket = await customer_socket()
    await socket.send_to(text_data=raw)
    error = await socket.receive_json_from()
    assert error["type"] == "error"
    assert error["code"] == code
    await socket.send_json_to({"type": "hello", "conversation": None})
    assert (await socket.receive_json_from())["type"] == "welcome"
    await socket.disconnect()


async def test_flooding_gets_an_error_then_a_4429_close(kb_and_desk):
    socket = await customer_socket()
    codes = []
    for _ in range(45):
        await socket.send_json_to({"type": "typing"})
    while True:
        output = await socket.receive_output(timeout=3)
        if output["type"] == "websocket.close":
            assert output["code"] == 4429
            break
        codes.append(json.loads(output["text"])["code"])
    assert "rate_limited" in codes
    assert codes[-1] == "flood"


async def test_asking_for_a_person_hands_over_with_a_queue_position(kb_and_desk):
    await database_sync_to_async(make_agent)("on-duty")  # the desk routes by hand: it waits
    socket = await customer_socket()
    frames = await start_chat(socket, text="转人工")
    frames += await frames_until(socket, "queue")
    system = [m for m in by_type(frames, "message") if m["author"] == "system"]
    assert system
    queue = by_type(frames, "queue")[0]
    assert queue["position"] == 1
    assert queue["eta_seconds"] > 0
    ticket = await database_sync_to_async(Ticket.objects.get)(
        access_key=by_type(frames, "welcome")[0]["conversation"]
    )
    assert ticket.chat_phase == ChatPhase.QUEUED
    assert ticket.next_due_at is not None  # the chat first-reply clock runs from the hand-off
    await socket.disconnect()


async def test_vip_customers_wait_ahead_of_earlier_standard_ones(kb_and_desk):
    await database_sync_to_async(make_agent)("on-duty")
    standard = await customer_socket()
    await start_chat(standard, text="I want a human", client_id="s")
    await frames_until(standard, "queue")

    vip_customer = await database_sync_to_async(Customer.objects.create)(
        name="Vera",
        visitor_key="vip-visitor",
        tier=await database_sync_to_async(Tier.objects.get)(slug="vip"),
    )
    from django.core import signing

    from kb.feedback import VISITOR_COOKIE, VISITOR_COOKIE_SALT

    cookie = f"{VISITOR_COOKIE}={signing.dumps(vip_customer.visitor_key, salt=VISITOR_COOKIE_SALT)}"
    vip = await customer_socket(cookie)
    frames = await start_chat(vip, text="agent please", client_id="v")
    frames += await frames_until(vip, "queue")
    assert by_type(frames, "queue")[-1]["position"] == 1
    moved = by_type(await frames_until(standard, "queue"), "queue")[-1]
    assert moved["position"] == 2
    await standard.disconnect()
    await vip.disconnect()


async def test_an_agent_accepts_replies_and_notes_stay_internal(kb_and_desk):
    agent = await database_sync_to_async(make_agent)("alice")
    console, connected, _ = await agent_socket(agent)
    assert connected
    await console.send_json_to({"type": "hello"})
    assert (await console.receive_json_from())["type"] == "console"

    customer = await customer_socket()
    frames = await start_chat(customer, text="human please")
    await frames_until(customer, "queue")
    ticket = await database_sync_to_async(Ticket.objects.get)(
        access_key=by_type(frames, "welcome")[0]["conversation"]
    )
    snapshot = (await frames_until(console, "console"))[-1]
    assert [w["conversation"] for w in snapshot["waiting"]] == [ticket.pk]

    await console.send_json_to({"type": "accept", "conversation": ticket.pk})
    assert "accepted" in [f["type"] for f in await frames_until(console, "accepted")]
    joined = await frames_until(customer, "agent_joined")
    assert joined[-1]["name"] == "Alice"

    await console.send_json_to(
        {
            "type": "message",
            "conversation": ticket.pk,
            "text": "Note to self",
            "client_id": "n1",
            "internal": True,
        }
    )
    await frames_until(console, "ack")
    await console.send_json_to(
        {"type": "message", "conversation": ticket.pk, "text": "Hi, I'm Alice", "client_id": "a1"}
    )
    await frames_until(console, "ack")
    received = by_type(await frames_until(customer, "message"), "message")
    assert received[-1]["text"] == "Hi, I'm Alice"
    assert all(m["text"] != "Note to self" for m in received)
    assert await customer.receive_nothing(timeout=0.3)

    await customer.send_json_to({"type": "end"})
    ended = await frames_until(customer, "ended")
    assert ended[-1] == {"type": "ended", "survey_url": None}
    ticket = await database_sync_to_async(Ticket.objects.get)(pk=ticket.pk)
    assert (ticket.chat_phase, ticket.status, ticket.assignee_id) == (
        ChatPhase.ENDED,
        "solved",
        agent.pk,
    )
    assert ticket.first_responded_at is not None
    await customer.disconnect()
    await console.disconnect()


async def test_two_agents_accepting_at_once_exactly_one_wins(kb_and_desk):
    first = await database_sync_to_async(make_agent)("first")
    second = await database_sync_to_async(make_agent)("second")
    customer = await customer_socket()
    frames = await start_chat(customer, text="human")
    ticket = await database_sync_to_async(Ticket.objects.get)(
        access_key=by_type(frames, "welcome")[0]["conversation"]
    )
    a, _, _ = await agent_socket(first)
    b, _, _ = await agent_socket(second)
    await asyncio.gather(
        a.send_json_to({"type": "accept", "conversation": ticket.pk}),
        b.send_json_to({"type": "accept", "conversation": ticket.pk}),
    )
    outcomes = []
    for socket in (a, b):
        last = (await frames_until(socket, "accepted", "error"))[-1]
        outcomes.append(last["type"] if last["type"] == "accepted" else last["code"])
    await a.disconnect()
    await b.disconnect()
    await customer.disconnect()
    assert sorted(outcomes) == ["accepted", "taken"]
    ticket = await database_sync_to_async(Ticket.objects.get)(pk=ticket.pk)
    assert ticket.assignee_id in (first.pk, second.pk)


async def test_the_agent_socket_is_for_active_staff_only(kb_and_desk):
    socket = WebsocketCommunicator(application, "/ws/agent/", headers=ORIGIN)
    connected, code = await socket.connect()
    assert not connected or code == 4403
    customer_user = await database_sync_to_async(make_agent)("notstaff", is_staff=False)
    _, connected, code = await agent_socket(customer_user)
    assert not connected or code == 4403


async def test_a_deactivated_agent_loses_the_console(kb_and_desk):
    agent = await database_sync_to_async(make_agent)("leaver")
    console, connected, _ = await agent_socket(agent)
    assert connected
    agent.is_active = False
    await database_sync_to_async(agent.save)()
    frames = []
    while True:
        output = await console.receive_output(timeout=3)
        if output["type"] == "websocket.close":
            assert output["code"] == 4403
            break
        frames.append(json.loads(output["text"]))
    assert frames[-1]["code"] == "signed_out"


async def test_sockets_from_other_origins_are_refused(kb_and_desk):
    for path in ("/ws/chat/", "/ws/agent/"):
        socket = WebsocketCommunicator(
            application, path, headers=[(b"origin", b"https://evil.example")]
        )
        connected, _ = await socket.connect()
        assert not connected


async def test_a_team_that_routes_automatically_gives_the_chat_to_an_agent_with_room(kb_and_desk):
    await database_sync_to_async(Team.objects.filter(slug="desk").update)(
        routing_mode=RoutingMode.LEAST_LOADED
    )
    agent = await database_sync_to_async(make_agent)("auto")
    console, _, _ = await agent_socket(agent)
    customer = await customer_socket()
    await start_chat(customer, text="talk to a human")
    joined = await frames_until(customer, "agent_joined")
    assert joined[-1]["name"] == "Auto"
    assert by_type(await frames_until(console, "console"), "console")
    await customer.disconnect()
    await console.disconnect()


async def test_with_nobody_available_the_customer_is_told_and_the_ticket_kept(kb_and_desk):
    customer = await customer_socket()
    frames = await start_chat(customer, text="人工客服")
    frames += await frames_until(customer, "message")
    assert await customer.receive_nothing(timeout=0.3)  # no queue position: nobody on duty
    system = [m for m in by_type(frames, "message") if m["author"] == "system"][-1]
    assert "HC-" in system["text"]
    ticket = await database_sync_to_async(Ticket.objects.get)(
        access_key=by_type(frames, "welcome")[0]["conversation"]
    )
    assert ticket.chat_phase == ChatPhase.QUEUED
    assert ticket.status in ("new", "open")
    await customer.disconnect()


async def test_an_agent_at_their_chat_limit_cannot_accept_more(kb_and_desk):
    agent = await database_sync_to_async(make_agent)("busy")
    await database_sync_to_async(AgentProfile.objects.filter(user=agent).update)(chat_capacity=1)
    console, _, _ = await agent_socket(agent)
    tickets = []
    for n in range(2):
        customer = await customer_socket()
        frames = await start_chat(customer, text="human", client_id=f"cap{n}")
        tickets.append(by_type(frames, "welcome")[0]["conversation"])
        await customer.disconnect()
    ids = [
        await database_sync_to_async(lambda t=t: Ticket.objects.get(access_key=t).pk)()
        for t in tickets
    ]
    await console.send_json_to({"type": "accept", "conversation": ids[0]})
    await frames_until(console, "accepted")
    await console.send_json_to({"type": "accept", "conversation": ids[1]})
    error = (await frames_until(console, "error"))[-1]
    assert error["code"] == "at_capacity"
    await console.disconnect()


async def test_idle_bot_chats_end_as_solved_but_waiting_ones_stay(kb_and_desk):
    from datetime import timedelta

    from django.utils import timezone

    from tickets.chat.services import close_idle_bot_chats

    socket = await customer_socket()
    bot_frames = await start_chat(socket, text="how long does a refund take", client_id="idle1")
    await socket.disconnect()
    waiting = await customer_socket()
    queued_frames = await start_chat(waiting, text="人工", client_id="idle2")
    await waiting.disconnect()
    later = timezone.now() + timedelta(hours=2)
    assert await database_sync_to_async(close_idle_bot_chats)(now=later) == 1
    bot_ticket = await database_sync_to_async(Ticket.objects.get)(
        access_key=by_type(bot_frames, "welcome")[0]["conversation"]
    )
    queued = await database_sync_to_async(Ticket.objects.get)(
        access_key=by_type(queued_frames, "welcome")[0]["conversation"]
    )
    assert (bot_ticket.chat_phase, bot_ticket.status) == (ChatPhase.ENDED, "solved")
    assert queued.chat_phase == ChatPhase.QUEUED


async def test_signing_out_closes_the_agent_console(kb_and_desk):
    from django.test import Client

    agent = await database_sync_to_async(make_agent)("signer")
    browser = Client()
    console, connected, _ = await agent_socket(agent, client=browser)
    assert connected
    await database_sync_to_async(browser.logout)()
    output = None
    while output is None or output["type"] != "websocket.close":
        output = await console.receive_output(timeout=3)
    assert output["code"] == 4403


async def test_an_agent_replies_publicly_only_in_their_own_chat(kb_and_desk):
    owner = await database_sync_to_async(make_agent)("owner")
    other = await database_sync_to_async(make_agent)("other")
    customer = await customer_socket()
    frames = await start_chat(customer, text="human please")
    ticket = await database_sync_to_async(Ticket.objects.get)(
        access_key=by_type(frames, "welcome")[0]["conversation"]
    )
    mine, _, _ = await agent_socket(owner)
    theirs, _, _ = await agent_socket(other)
    await mine.send_json_to({"type": "accept", "conversation": ticket.pk})
    await frames_until(mine, "accepted")
    await theirs.send_json_to(
        {"type": "message", "conversation": ticket.pk, "text": "hi", "client_id": "x"}
    )
    assert (await frames_until(theirs, "error"))[-1]["code"] == "not_yours"
    await theirs.send_json_to(
        {
            "type": "message",
            "conversation": ticket.pk,
            "text": "fyi",
            "client_id": "y",
            "internal": True,
        }
    )
    assert (await frames_until(theirs, "ack"))[-1]["type"] == "ack"
    await mine.send_json_to(
        {"type": "message", "conversation": ticket.pk, "text": "Hello!", "client_id": "z"}
    )
    frames = await frames_until(mine, "message")
    assert frames[-1]["conversation"] == ticket.pk  # agents' frames name their chat
    for socket in (mine, theirs, customer):
        await socket.disconnect()


# --- One write, one broadcast: every entry point reaches the customer's open widget -----------


async def accepted_chat(agent):
    """A customer socket whose chat ``agent`` has accepted, the ticket, and the console."""
    customer = await customer_socket()
    frames = await start_chat(customer, text="human please")
    ticket = await database_sync_to_async(Ticket.objects.get)(
        access_key=by_type(frames, "welcome")[0]["conversation"]
    )
    console, connected, _ = await agent_socket(agent)
    assert connected
    await console.send_json_to({"type": "accept", "conversation": ticket.pk})
    await frames_until(console, "accepted")
    await frames_until(customer, "agent_joined")
    return customer, ticket, console


def signed_in(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


async def http(method, *args, **kwargs):
    """A request through the whole Django stack in a thread of its own, as a web worker would
    serve it (not the sockets' database thread)."""
    from asgiref.sync import sync_to_async

    return await sync_to_async(method, thread_sensitive=False)(*args, **kwargs)


async def test_a_reply_from_the_admin_ticket_page_reaches_the_customers_widget_once(kb_and_desk):
    agent = await database_sync_to_async(make_agent)("alice")
    customer, ticket, console = await accepted_chat(agent)
    client = await database_sync_to_async(signed_in)(agent)
    response = await http(
        client.post,
        f"/admin/tickets/ticket/{ticket.pk}/change/",
        {"_form": "reply", "kind": "public", "body": "Sent from the ticket page"},
    )
    assert response.status_code == 302
    received = by_type(await frames_until(customer, "message"), "message")
    assert received[-1]["text"] == "Sent from the ticket page"
    assert received[-1]["author"] == "agent"
    assert await customer.receive_nothing(timeout=0.3)  # exactly once
    watching = by_type(await frames_until(console, "message"), "message")
    assert watching[-1]["text"] == "Sent from the ticket page"  # the console sees it too

    await http(
        client.post,
        f"/admin/tickets/ticket/{ticket.pk}/change/",
        {"_form": "reply", "kind": "internal", "body": "Only for us"},
    )
    notes = by_type(await frames_until(console, "message"), "message")
    assert notes[-1] == {**notes[-1], "text": "Only for us", "internal": True}
    assert await customer.receive_nothing(timeout=0.3)  # a note never reaches the customer
    for socket in (customer, console):
        await socket.disconnect()


async def test_a_staff_reply_through_the_api_reaches_the_customers_widget(kb_and_desk):
    agent = await database_sync_to_async(make_agent)("alice")
    customer, ticket, console = await accepted_chat(agent)
    client = await database_sync_to_async(signed_in)(agent)
    response = await http(
        client.post,
        f"/api/tickets/{ticket.reference}/messages/",
        {"body": "Sent through the API"},
        content_type="application/json",
    )
    assert response.status_code == 201
    received = by_type(await frames_until(customer, "message"), "message")
    assert received[-1]["text"] == "Sent through the API"
    assert await customer.receive_nothing(timeout=0.3)
    for socket in (customer, console):
        await socket.disconnect()


async def test_only_the_agent_who_accepted_replies_publicly_whatever_the_entry_point(
    kb_and_desk,
):
    owner = await database_sync_to_async(make_agent)("owner")
    other = await database_sync_to_async(make_agent)("other")
    customer, ticket, console = await accepted_chat(owner)
    client = await database_sync_to_async(signed_in)(other)
    page = await http(
        client.post,
        f"/admin/tickets/ticket/{ticket.pk}/change/",
        {"_form": "reply", "kind": "public", "body": "Not my chat"},
    )
    assert page.status_code == 200
    assert "Accept the chat before replying" in page.content.decode()
    api = await http(
        client.post,
        f"/api/tickets/{ticket.reference}/messages/",
        {"body": "Not my chat either"},
        content_type="application/json",
    )
    assert api.status_code == 400
    assert "Accept the chat" in json.dumps(api.json())
    texts = await database_sync_to_async(
        lambda: list(Message.objects.filter(ticket=ticket).values_list("body", flat=True))
    )()
    assert "Not my chat" not in texts
    assert "Not my chat either" not in texts
    assert await customer.receive_nothing(timeout=0.3)
    for socket in (customer, console):
        await socket.disconnect()


async def test_an_agent_status_set_from_the_ticket_list_refreshes_every_console(kb_and_desk):
    watcher = await database_sync_to_async(make_agent)("watcher")
    away = await database_sync_to_async(make_agent)("away")
    console, connected, _ = await agent_socket(watcher)
    assert connected
    await console.send_json_to({"type": "hello"})
    await frames_until(console, "console")
    client = await database_sync_to_async(signed_in)(away)
    response = await http(client.post, "/admin/tickets/ticket/my-status/", {"status": "away"})
    assert response.status_code == 302
    assert (await frames_until(console, "console"))[-1]["type"] == "console"
    profile = await database_sync_to_async(AgentProfile.objects.get)(user=away)
    assert profile.status == "away"
    # The same status again changes nothing, and announces nothing.
    await http(client.post, "/admin/tickets/ticket/my-status/", {"status": "away"})
    assert await console.receive_nothing(timeout=0.3)
    await console.disconnect()


# --- Ids out of range (issue 11) ---------------------------------------------------------------

BAD_IDS = [10**100, 2**63, 0, -1, True, "1", 1.5]


@pytest.mark.parametrize("kind", ["typing", "open", "accept", "message", "transfer", "end"])
async def test_agent_frames_with_an_impossible_conversation_id_get_an_error_not_a_dead_socket(
    kb_and_desk, kind
):
    agent = await database_sync_to_async(make_agent)("ids")
    console, connected, _ = await agent_socket(agent)
    assert connected
    frame = {"type": kind, "text": "hi", "client_id": "c", "team": "desk"}
    for value in BAD_IDS:
        await console.send_json_to({**frame, "conversation": value})
        error = await console.receive_json_from(timeout=3)
        assert (error["type"], error["code"]) == ("error", "invalid"), (value, error)
        assert "'conversation'" in error["message"]
    await console.send_json_to({"type": "hello"})
    assert (await console.receive_json_from(timeout=3))["type"] == "console"
    await console.disconnect()


async def test_impossible_after_ids_and_agent_ids_get_an_error_not_a_dead_socket(kb_and_desk):
    agent = await database_sync_to_async(make_agent)("ids")
    customer = await customer_socket()
    frames = await start_chat(customer, text="human please")
    token = by_type(frames, "welcome")[0]["conversation"]
    ticket = await database_sync_to_async(Ticket.objects.get)(access_key=token)
    for after in (10**100, 2**63, -1):
        await customer.send_json_to({"type": "hello", "conversation": token, "after": after})
        error = (await frames_until(customer, "error"))[-1]
        assert error["code"] == "invalid"
        assert "'after'" in error["message"]
    await customer.send_json_to({"type": "hello", "conversation": token, "after": 2**63 - 1})
    assert (await frames_until(customer, "welcome"))[-1]["conversation"] == token

    console, _, _ = await agent_socket(agent)
    await console.send_json_to({"type": "open", "conversation": ticket.pk, "after": 10**100})
    assert (await frames_until(console, "error"))[-1]["code"] == "invalid"
    await console.send_json_to({"type": "transfer", "conversation": ticket.pk, "agent": 10**100})
    error = (await frames_until(console, "error"))[-1]
    assert error["message"] == "No such agent."
    await console.send_json_to({"type": "hello"})
    assert by_type(await frames_until(console, "console"), "console")
    for socket in (customer, console):
        await socket.disconnect()


async def test_agent_typing_reaches_only_a_chat_the_agent_has_open(kb_and_desk):
    agent = await database_sync_to_async(make_agent)("typist")
    customer = await customer_socket()
    frames = await start_chat(customer, text="human please")
    await frames_until(customer, "queue")
    ticket = await database_sync_to_async(Ticket.objects.get)(
        access_key=by_type(frames, "welcome")[0]["conversation"]
    )
    console, _, _ = await agent_socket(agent)
    await console.send_json_to({"type": "hello"})
    await frames_until(console, "console")

    for conversation in (ticket.pk, ticket.pk + 1000):  # not opened yet; no such chat
        await console.send_json_to({"type": "typing", "conversation": conversation})
        assert (await frames_until(console, "error"))[-1]["code"] == "invalid"
    assert await customer.receive_nothing(timeout=0.3)

    await console.send_json_to({"type": "open", "conversation": ticket.pk})
    await frames_until(console, "conversation")
    await console.send_json_to({"type": "typing", "conversation": ticket.pk})
    assert (await frames_until(customer, "typing"))[-1] == {"type": "typing", "author": "agent"}
    for socket in (customer, console):
        await socket.disconnect()


# --- Merges across customers -------------------------------------------------------------------


def _someone_elses_ticket() -> Ticket:
    from tickets import services
    from tickets.tests.factories import CustomerFactory

    dave = CustomerFactory(name="Dave", email="dave@example.com")
    return services.ticket_create(
        customer=dave, subject="My parcel", body="Dave's address is 1 Secret Road."
    )


def _merge(source_pk: int, target_pk: int, **kwargs) -> None:
    from tickets import services

    services.tickets_merge(
        source=Ticket.objects.get(pk=source_pk), target=Ticket.objects.get(pk=target_pk),
        actor=None, **kwargs,
    )  # fmt: skip


async def test_after_a_merge_into_another_customers_ticket_the_token_opens_nothing_of_theirs(
    kb_and_desk,
):
    socket = await customer_socket()
    frames = await start_chat(socket, text="hello there")
    token = by_type(frames, "welcome")[0]["conversation"]
    await socket.disconnect()
    chat = await database_sync_to_async(Ticket.objects.get)(access_key=token)
    theirs = await database_sync_to_async(_someone_elses_ticket)()
    await database_sync_to_async(_merge)(chat.pk, theirs.pk, across_customers=True)

    again = await customer_socket()
    await again.send_json_to({"type": "hello", "conversation": token, "after": None})
    error = await again.receive_json_from()
    assert (error["type"], error["code"]) == ("error", "invalid")  # as for an unknown token
    assert await again.receive_nothing(timeout=0.3)
    # The widget then starts afresh: a conversation of the visitor's own.
    await again.send_json_to({"type": "hello", "conversation": None, "after": None})
    assert (await again.receive_json_from())["type"] == "welcome"
    await again.send_json_to({"type": "message", "text": "anyone?", "client_id": "c2"})
    frames = await frames_until(again, "ack")
    new_token = by_type(frames, "welcome")[0]["conversation"]
    assert new_token not in (token, theirs.access_key)
    assert all("Secret Road" not in f.get("text", "") for f in frames)
    assert not await database_sync_to_async(theirs.messages.filter(body="anyone?").exists)()
    await again.disconnect()


async def test_an_open_socket_is_told_the_chat_ended_and_posts_into_a_conversation_of_its_own(
    kb_and_desk,
):
    socket = await customer_socket()
    frames = await start_chat(socket, text="hello there")
    await frames_until(socket, "message")  # the bot's answer
    token = by_type(frames, "welcome")[0]["conversation"]
    chat = await database_sync_to_async(Ticket.objects.get)(access_key=token)
    theirs = await database_sync_to_async(_someone_elses_ticket)()
    await database_sync_to_async(_merge)(chat.pk, theirs.pk, across_customers=True)
    ended = await frames_until(socket, "ended")
    assert ended[-1] == {"type": "ended", "survey_url": None}

    await socket.send_json_to({"type": "message", "text": "still there?", "client_id": "c2"})
    frames = await frames_until(socket, "ack")
    new_token = by_type(frames, "welcome")[0]["conversation"]
    assert new_token not in (token, theirs.access_key)
    assert all("Secret Road" not in f.get("text", "") for f in frames)
    new = await database_sync_to_async(Ticket.objects.get)(access_key=new_token)
    assert (new.customer_id, new.follow_up_of_id) == (chat.customer_id, chat.pk)
    assert not await database_sync_to_async(theirs.messages.filter(body="still there?").exists)()
    await socket.disconnect()


def _merge_without_ending(source_pk: int, target_pk: int) -> None:
    """A cross-customer merge made before they ended the chat: its phase is still live."""
    Ticket.objects.filter(pk=source_pk).update(
        merged_into_id=target_pk, status="closed", chat_phase=ChatPhase.BOT
    )


async def test_a_chat_merged_away_before_this_rule_still_never_posts_into_the_other_ticket(
    kb_and_desk,
):
    socket = await customer_socket()
    frames = await start_chat(socket, text="hello there")
    await frames_until(socket, "message")
    chat = await database_sync_to_async(Ticket.objects.get)(
        access_key=by_type(frames, "welcome")[0]["conversation"]
    )
    theirs = await database_sync_to_async(_someone_elses_ticket)()
    await database_sync_to_async(_merge_without_ending)(chat.pk, theirs.pk)
    await socket.send_json_to({"type": "message", "text": "still there?", "client_id": "c2"})
    frames = await frames_until(socket, "ack")
    assert by_type(frames, "welcome")[0]["conversation"] != theirs.access_key
    assert all("Secret Road" not in f.get("text", "") for f in frames)
    assert not await database_sync_to_async(theirs.messages.filter(body="still there?").exists)()
    await socket.disconnect()


async def test_a_chat_merged_into_another_of_the_same_customer_resumes_there(kb_and_desk):
    socket = await customer_socket()
    first = await start_chat(socket, text="first question", client_id="a")
    await socket.disconnect()
    other = await customer_socket()
    second = await start_chat(other, text="second question", client_id="b")
    await other.disconnect()
    source = await database_sync_to_async(Ticket.objects.get)(
        access_key=by_type(first, "welcome")[0]["conversation"]
    )
    target = await database_sync_to_async(Ticket.objects.get)(
        access_key=by_type(second, "welcome")[0]["conversation"]
    )
    # The same visitor (no cookie here): make both chats theirs.
    await database_sync_to_async(Ticket.objects.filter(pk=target.pk).update)(
        customer_id=source.customer_id
    )
    await database_sync_to_async(_merge)(source.pk, target.pk)

    again = await customer_socket()
    await again.send_json_to({"type": "hello", "conversation": source.access_key, "after": None})
    frames = await frames_until(again, "welcome")
    assert frames[-1]["conversation"] == target.access_key
    texts = [m["text"] for m in by_type(await frames_until(again, "message"), "message")]
    assert "first question" in texts
    await again.disconnect()


async def test_the_console_warns_about_an_unverified_contact(kb_and_desk):
    from tickets import services

    def unverified_chat():
        contact = Customer.objects.create(
            name="Mallory", unverified_email="carol@example.com",
            tier=Tier.objects.get(slug="standard"),
        )  # fmt: skip
        return services.ticket_create(
            customer=contact, subject="Hi", body="Hi", channel="chat", live_chat=True
        )

    ticket = await database_sync_to_async(unverified_chat)()
    agent = await database_sync_to_async(make_agent)("alice")
    console, connected, _ = await agent_socket(agent)
    assert connected
    await console.send_json_to({"type": "open", "conversation": ticket.pk, "after": None})
    detail = (await frames_until(console, "conversation"))[-1]
    assert detail["customer"]["unverified"] is True
    assert detail["customer"]["email"] == "carol@example.com"
    await console.disconnect()


# --- Limits per client (tickets/limits.py) -----------------------------------------------------


def socket_from(address: str, *, forwarded: str | None = None, cookies: str | None = None):
    """A customer socket whose peer address is ``address`` (what the server sees)."""
    headers = list(ORIGIN)
    if forwarded:
        headers.append((b"x-forwarded-for", forwarded.encode()))
    if cookies:
        headers.append((b"cookie", cookies.encode()))
    socket = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    socket.scope["client"] = (address, 40000)
    return socket


async def assert_refused_for_too_many_sockets(socket) -> None:
    connected, _ = await socket.connect()
    assert connected  # accepted only to say why
    error = await socket.receive_json_from()
    assert (error["type"], error["code"]) == ("error", "too_many_sockets")
    assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": 4429}
    await socket.disconnect()


async def bot_reply(socket) -> dict:
    for _ in range(10):
        frame = (await frames_until(socket, "message"))[-1]
        if frame["author"] == "bot":
            return frame
    raise AssertionError("the bot did not answer")


async def test_open_sockets_are_capped_per_address_and_a_closed_one_frees_its_slot(
    kb_and_desk, settings
):
    settings.CHAT_SOCKETS_PER_ADDRESS = 2
    first = socket_from("10.6.0.1")
    second = socket_from("10.6.0.1", forwarded="203.0.113.1")  # a forged header changes nothing
    for socket in (first, second):
        assert (await socket.connect())[0]
    await assert_refused_for_too_many_sockets(socket_from("10.6.0.1", forwarded="203.0.113.2"))

    elsewhere = socket_from("10.6.0.2")
    assert (await elsewhere.connect())[0]
    await first.disconnect()
    again = socket_from("10.6.0.1")
    assert (await again.connect())[0]
    await again.send_json_to({"type": "hello", "conversation": None})
    assert (await again.receive_json_from())["type"] == "welcome"
    for socket in (second, elsewhere, again):
        await socket.disconnect()


async def test_behind_one_trusted_proxy_sockets_count_the_right_most_forwarded_address(
    kb_and_desk, settings
):
    settings.TRUSTED_PROXIES = 1
    settings.CHAT_SOCKETS_PER_ADDRESS = 1
    proxy = "10.0.0.1"
    first = socket_from(proxy, forwarded="192.0.2.1, 203.0.113.5")
    assert (await first.connect())[0]
    await assert_refused_for_too_many_sockets(
        socket_from(proxy, forwarded="192.0.2.2, 203.0.113.5")  # the left hop is the client's
    )
    other = socket_from(proxy, forwarded="203.0.113.6")
    assert (await other.connect())[0]
    for socket in (first, other):
        await socket.disconnect()


async def test_new_conversations_per_address_are_limited_and_the_socket_stays_open(
    kb_and_desk, settings
):
    settings.CHAT_CONVERSATIONS_PER_HOUR = 2
    for i in range(2):
        socket = socket_from("10.7.0.1", forwarded=f"203.0.113.{i}")
        await socket.connect()
        await start_chat(socket, text="hello there", client_id=f"c{i}")
        await socket.disconnect()

    socket = socket_from("10.7.0.1", forwarded="203.0.113.9")
    await socket.connect()
    await socket.send_json_to({"type": "hello", "conversation": None})
    assert (await socket.receive_json_from())["type"] == "welcome"
    await socket.send_json_to({"type": "message", "text": "hello again", "client_id": "c9"})
    error = (await frames_until(socket, "error", "ack"))[-1]
    assert (error["type"], error["code"]) == ("error", "rate_limited")
    assert "many conversations" in error["message"]
    count = database_sync_to_async(lambda model: model.objects.count())
    assert (await count(Ticket), await count(Customer)) == (2, 2)  # nothing for the refused one
    await socket.send_json_to({"type": "hello", "conversation": None})  # still open and usable
    assert (await socket.receive_json_from())["type"] == "welcome"
    await socket.disconnect()

    other = socket_from("10.7.0.2")
    await other.connect()
    assert by_type(await start_chat(other, text="hello there", client_id="o"), "ack")
    await other.disconnect()


async def test_signed_in_customers_start_conversations_within_their_own_limit(
    kb_and_desk, settings
):
    from django.test import Client

    settings.CHAT_CONVERSATIONS_PER_HOUR = 1
    user = await database_sync_to_async(get_user_model().objects.create_user)(
        "ann@example.com", "ann@example.com", "pw"
    )
    client = Client()
    await database_sync_to_async(client.force_login)(user)
    session = f"sessionid={client.cookies['sessionid'].value}"
    first = socket_from("10.8.0.1", cookies=session)
    await first.connect()
    assert by_type(await start_chat(first, text="hello there"), "ack")
    second = socket_from("10.8.0.2", cookies=session)  # another address: the same user
    await second.connect()
    await second.send_json_to({"type": "hello", "conversation": None})
    await second.receive_json_from()
    await second.send_json_to({"type": "message", "text": "me again", "client_id": "c2"})
    assert (await frames_until(second, "error", "ack"))[-1]["code"] == "rate_limited"
    guest = socket_from("10.8.0.2")  # a guest at that address has a budget of their own
    await guest.connect()
    assert by_type(await start_chat(guest, text="hello there", client_id="g"), "ack")
    for socket in (first, second, guest):
        await socket.disconnect()


async def test_the_bots_unanswered_questions_are_content_gaps_within_the_clients_limit(
    kb_and_desk, settings
):
    from kb.models import SearchGap

    settings.KB_GAPS_PER_HOUR = 1
    socket = socket_from("10.9.0.1")
    await socket.connect()
    await start_chat(socket, text="garden furniture", client_id="q1")
    await bot_reply(socket)  # it declines
    await socket.send_json_to({"type": "message", "text": "lawn mower", "client_id": "q2"})
    await bot_reply(socket)
    gaps = database_sync_to_async(lambda: sorted(SearchGap.objects.values_list("query", flat=True)))
    assert await gaps() == ["garden furniture"]
    await socket.disconnect()

    other = socket_from("10.9.0.2")
    await other.connect()
    await start_chat(other, text="pool heater", client_id="q3")
    await bot_reply(other)
    assert await gaps() == ["garden furniture", "pool heater"]
    await other.disconnect()


# --- A database that cannot serve now -------------------------------------------------------


async def until_bot_replied(socket):
    for _ in range(20):
        frame = await socket.receive_json_from(timeout=3)
        if frame["type"] == "message" and frame["author"] == "bot":
            return
    raise AssertionError("the bot did not reply")


async def test_a_message_the_database_cannot_take_now_is_answered_unavailable_and_kept(
    kb_and_desk, write_lock
):
    customer = await customer_socket()
    await start_chat(customer, text="how long does a refund take", client_id="c1")
    await until_bot_replied(customer)
    with write_lock():  # a migration, a backup: another thread holds the write lock
        await customer.send_json_to({"type": "message", "text": "hello?", "client_id": "c2"})
        # At once on the in-memory SQLite; after the 5 s lock_timeout on PostgreSQL.
        error = (await frames_until(customer, "error", timeout=10))[-1]
        assert error["code"] == "unavailable"
        assert error["client_id"] == "c2"  # the client keeps that message and sends it again
        assert error["retry_after"] == 10
        await customer.send_to(text_data="not json")  # the socket is still open
        assert (await frames_until(customer, "error"))[-1]["code"] == "invalid_json"
    await customer.send_json_to({"type": "message", "text": "hello?", "client_id": "c2"})
    assert (await frames_until(customer, "ack"))[-1]["client_id"] == "c2"
    await customer.disconnect()
    assert await database_sync_to_async(Message.objects.filter(client_id="c2").count)() == 1


async def test_a_database_call_that_is_stuck_does_not_hold_up_other_sockets(kb_and_desk, settings):
    settings.SOCKET_DB_THREADS = 2  # the pool (the in-memory test database needs 0 elsewhere)
    stuck, release = threading.Event(), threading.Event()

    @socket_database_sync_to_async
    def stuck_call():  # as a chat message waiting out a lock held for a long time
        stuck.set()
        release.wait(15)

    loop = asyncio.get_running_loop()
    waiting = asyncio.ensure_future(stuck_call())
    try:
        assert await loop.run_in_executor(None, stuck.wait, 5)
        started = time.monotonic()
        customer = await customer_socket()  # the handshake looks up the session and the user
        await start_chat(customer)  # hello, a message saved, its ack
        await until_bot_replied(customer)
        assert time.monotonic() - started < 5
        assert not waiting.done()
        await customer.disconnect()
    finally:
        release.set()
        await waiting
        await loop.run_in_executor(None, close_pool)
