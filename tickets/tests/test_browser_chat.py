"""End-to-end live chat in Debian's Chromium, on the real stack: daphne forked by
ChannelsLiveServerTestCase (HTTP and WebSocket, the in-memory channel layer inside that one
server process), a customer's widget on the help center and the agent console in two browser
contexts. Run by `make test` in a pytest process of its own (see bin/test).

The forked server cannot share an in-memory SQLite database: bin/test runs the browser tests
with TEST_DATABASE_NAME set to a file (PostgreSQL runs use their own test database), and this
test is skipped when the database is in memory."""

import os
import re
import sqlite3
import unittest
from unittest import mock

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, connections
from django.test.utils import override_settings

from core.roles import AGENTS, ensure_roles
from helpcenter.chromium import launch
from kb.search import CONFIDENT, WEAK, search
from kb.tests.factories import ArticleFactory
from tickets.chat import services as chat
from tickets.defaults import ensure_defaults
from tickets.models import (
    AgentProfile,
    AgentStatus,
    CannedReply,
    Channel,
    ChatPhase,
    Customer,
    RoutingMode,
    Team,
    Ticket,
    Tier,
)

pytestmark = pytest.mark.browser
# Playwright's sync API runs an event loop in this thread; the ORM calls in these tests are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

TIMEOUT_MS = 10_000


class _Decision:
    def __init__(self, kind, hits, score):
        self.kind, self.hits, self.score = kind, hits, score


def fulltext_decide(text, *, language):
    """The bot decides on full-text confidence (as in test_chat.py): no semantic model needed."""
    result = search(text, language=language, limit=3)
    best = result.best_confidence
    kind = "answer" if best >= CONFIDENT else "clarify" if best >= WEAK else "handoff"
    return _Decision(kind, list(result.hits), best)


class LiveChatInTwoBrowsers(ChannelsLiveServerTestCase):
    host = "127.0.0.1"

    @classmethod
    def setUpClass(cls):
        if connection.vendor == "sqlite" and connection.is_in_memory_db():
            raise unittest.SkipTest(
                "the forked server needs a file database: run bin/test, or set "
                "TEST_DATABASE_NAME=/tmp/some.sqlite3"
            )
        # Everything below is set before the server process forks, so it sees it too.
        # The server opens the test database by its TEST NAME (PostgreSQL runs without
        # TEST_DATABASE_NAME would otherwise look for test_test_<name>).
        test = settings.DATABASES["default"].setdefault("TEST", {})
        cls._test_name = test.get("NAME")
        test["NAME"] = connection.settings_dict["NAME"]
        cls._settings = override_settings(
            STORAGES={
                **settings.STORAGES,
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
            },
            CHANNEL_LAYERS={"default": {"BACKEND": "core.layers.InMemoryChannelLayer"}},
            TASKS_EAGER=True,
            KB_VIEW_FLUSH_SECONDS=0,
        )
        cls._settings.enable()
        cls._decide = mock.patch("tickets.chat.bot._decide", fulltext_decide)
        cls._decide.start()
        # SQLite connections must not cross a fork: the server process would inherit this
        # process's view of the WAL and, once this process closed its last connection (which
        # deletes the WAL), read a stale snapshot. Both processes reconnect on their own.
        connections.close_all()
        try:
            super().setUpClass()
        except BaseException:
            cls._restore()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls._restore()

    @classmethod
    def _restore(cls):
        cls._decide.stop()
        cls._settings.disable()
        settings.DATABASES["default"]["TEST"]["NAME"] = cls._test_name

    def setUp(self):
        # A flush by an earlier transactional test removes the data migrations create.
        ensure_defaults(apps)
        ensure_roles(apps)
        self.desk, _ = Team.objects.get_or_create(
            slug="desk",
            defaults={"name": "Desk", "is_default": True, "routing_mode": RoutingMode.MANUAL},
        )
        self.agent = self.make_agent("alice")
        ArticleFactory(
            slug="refund-time",
            title="How long does a refund take?",
            summary="Refunds reach your card in 3-7 business days.",
            questions=["When will I get my money back?"],
        )

    def make_agent(self, username: str):
        user = get_user_model().objects.create_user(
            username, password=f"pw-{username}", is_staff=True, first_name=username.title()
        )
        user.groups.add(Group.objects.get(name=AGENTS))
        profile, _ = AgentProfile.objects.get_or_create(user=user)
        profile.status = AgentStatus.AVAILABLE
        profile.save()
        profile.teams.add(self.desk)
        return user

    def in_chromium(self, scenario):
        sync_api = pytest.importorskip("playwright.sync_api")
        sync_api.expect.set_options(timeout=TIMEOUT_MS)
        with sync_api.sync_playwright() as p:
            browser = launch(p)
            try:
                scenario(browser, sync_api.expect)
            finally:
                browser.close()

    def open_console(self, browser, username: str):
        """A browser context of its own, signed in as ``username``, on the console."""
        context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{self.live_server_url}/admin/login/?next=/admin/tickets/chat-console/")
        page.fill("#id_username", username)
        page.fill("#id_password", f"pw-{username}")
        page.locator("#login-form [type=submit]").click()
        page.wait_for_url(re.compile(r"/admin/tickets/chat-console/$"))
        return page

    def test_a_customer_and_an_agent_chat_from_queue_to_end(self):
        self.in_chromium(self._customer_and_agent)

        ticket = Ticket.objects.get(channel=Channel.CHAT)
        assert (ticket.chat_phase, ticket.status, ticket.assignee) == (
            ChatPhase.ENDED,
            "solved",
            self.agent,
        )
        authors = list(ticket.messages.order_by("pk").values_list("author_kind", flat=True))
        assert authors[:2] == ["customer", "bot"]
        assert authors[-2:] == ["agent", "customer"]
        assert ticket.messages.filter(body="Thank you, that helps.").count() == 1

    def _customer_and_agent(self, browser, expect):
        # The agent signs in and opens the console: connected, nobody waiting.
        console = self.open_console(browser, "alice")
        customer_context = browser.new_context(
            locale="en-US", viewport={"width": 1280, "height": 900}
        )
        shop = customer_context.new_page()
        shop.set_default_timeout(TIMEOUT_MS)
        expect(console.locator("#hc-console")).to_have_attribute("data-console-state", "connected")
        expect(console.locator("[data-waiting]")).to_contain_text("No chats are waiting.")
        expect(console.locator("[data-capacity]")).to_have_text("0 of 3 chats")

        # The customer opens the help center, then the widget, and asks the bot.
        shop.goto(f"{self.live_server_url}/")
        shop.locator("[data-chat-launcher]").click()
        question = shop.locator("[data-chat-input]")
        question.fill("How long does a refund take?")
        question.press("Enter")
        expect(shop.locator("[data-chat-message][data-author=bot]").first).to_be_visible()

        # "Talk to a person": the customer waits in the queue.
        shop.locator("[data-chat-handoff]").click()
        expect(shop.locator("[data-chat-queue]")).to_be_visible()
        expect(shop.locator("[data-chat-queue]")).to_contain_text("number 1")

        # The agent sees the waiting chat, its wait time, and accepts it.
        card = console.locator("[data-waiting] .hc-chat-card")
        expect(card).to_have_count(1)
        expect(card).to_contain_text("How long does a refund take?")
        expect(card.locator(".hc-chat-card-wait")).to_contain_text("Waiting 0:")
        card.locator("[data-accept-chat]").click()

        # The whole conversation, the bot's part included; the chat is the agent's now.
        transcript = console.locator("[data-transcript]")
        expect(transcript.locator(".hc-message--bot").first).to_contain_text("refund")
        expect(transcript.locator(".hc-message--customer").first).to_contain_text(
            "How long does a refund take?"
        )
        expect(console.locator("[data-mine] .hc-chat-card")).to_have_count(1)
        expect(console.locator("[data-waiting] .hc-chat-card")).to_have_count(0)
        expect(console.locator("[data-capacity]")).to_have_text("1 of 3 chats")
        expect(console.locator("[data-chat-phase]")).to_have_text("With an agent")

        # The customer sees who joined.
        expect(shop.locator("[data-chat-event=agent_joined]")).to_contain_text("Alice")
        expect(shop.locator("[data-chat-subtitle]")).to_contain_text("Alice")

        # One message each way (Enter sends in both).
        reply = console.locator("[data-text]")
        expect(reply).to_be_enabled()
        reply.fill("Hi, I'm Alice. Your refund was sent yesterday.")
        reply.press("Enter")
        expect(shop.locator("[data-chat-message][data-author=agent]")).to_contain_text(
            "Your refund was sent yesterday."
        )
        question.fill("Thank you, that helps.")
        question.press("Enter")
        expect(transcript.locator(".hc-message--customer").last).to_contain_text(
            "Thank you, that helps."
        )

        # The agent ends the chat; both sides see it ended.
        console.locator("[data-end]").click()
        console.locator("[data-end-yes]").click()
        expect(shop.locator("[data-chat-root]")).to_have_attribute("data-chat-status", "ended")
        expect(shop.locator("[data-chat-ended]")).to_be_visible()
        expect(console.locator("[data-chat-phase]")).to_have_text("Ended")
        expect(console.locator("[data-mine] .hc-chat-card")).to_have_count(0)
        expect(console.locator("[data-capacity]")).to_have_text("0 of 3 chats")
        console.context.close()
        customer_context.close()

    def test_a_message_left_unsent_by_a_closed_tab_is_sent_by_the_next_page(self):
        self.in_chromium(self._unsent_in_another_tab)

        ticket = Ticket.objects.get(channel=Channel.CHAT)
        stored = ticket.messages.filter(client_id="closed-tab-1")
        assert list(stored.values_list("body", flat=True)) == ["Sent from a tab that closed"]

    def _unsent_in_another_tab(self, browser, expect):
        context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        shop = context.new_page()
        shop.set_default_timeout(TIMEOUT_MS)
        shop.goto(f"{self.live_server_url}/")
        shop.locator("[data-chat-launcher]").click()
        question = shop.locator("[data-chat-input]")
        question.fill("How long does a refund take?")
        question.press("Enter")
        expect(shop.locator("[data-chat-message][data-author=bot]").first).to_be_visible()

        # Another tab of the same site (same localStorage) stored a message it could not send
        # (it was offline) and was closed. This page knows nothing of it in memory.
        shop.evaluate(
            """() => {
                const key = Object.keys(localStorage).find((k) => k.startsWith("hc-chat:"));
                const state = JSON.parse(localStorage.getItem(key));
                state.outbox.push({client_id: "closed-tab-1", text: "Sent from a tab that closed"});
                localStorage.setItem(key, JSON.stringify(state));
            }"""
        )
        # This page saves its own state (a new message): the other tab's message stays stored.
        question.fill("Thanks")
        question.press("Enter")
        expect(shop.locator("[data-chat-message][data-author=customer]")).to_have_count(2)
        outbox = shop.evaluate(
            """() => {
                const key = Object.keys(localStorage).find((k) => k.startsWith("hc-chat:"));
                return JSON.parse(localStorage.getItem(key)).outbox.map((m) => m.client_id);
            }"""
        )
        assert "closed-tab-1" in outbox

        # The next page load sends it; the transcript shows it once, as sent.
        shop.reload()
        sent = shop.locator("[data-chat-message][data-author=customer]", has_text="tab that closed")
        expect(sent).to_have_count(1)
        expect(sent).to_have_attribute("data-state", "sent")
        context.close()

    def test_a_message_sent_while_the_database_is_locked_is_kept_and_sent_once_it_is_free(self):
        if connection.vendor != "sqlite":
            raise unittest.SkipTest("holds SQLite's write lock (test_chat.py covers PostgreSQL)")
        self.in_chromium(self._sent_through_a_lock)

        ticket = Ticket.objects.get(channel=Channel.CHAT)
        assert ticket.messages.filter(body="Are you still there?").count() == 1

    def _sent_through_a_lock(self, browser, expect):
        context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        shop = context.new_page()
        shop.set_default_timeout(TIMEOUT_MS)
        shop.goto(f"{self.live_server_url}/")
        shop.locator("[data-chat-launcher]").click()
        question = shop.locator("[data-chat-input]")
        question.fill("How long does a refund take?")
        question.press("Enter")
        expect(shop.locator("[data-chat-message][data-author=bot]").first).to_be_visible()

        # Another process holds the write lock (a migration, a backup): the server gives up after
        # its lock timeout (5 s) and answers `unavailable`; the widget keeps the message.
        locker = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        mine = shop.locator("[data-chat-message][data-author=customer]", has_text="still there")
        try:
            question.fill("Are you still there?")
            question.press("Enter")
            expect(shop.locator("[data-chat-notice]")).to_contain_text(
                "Your messages are kept", timeout=15_000
            )
            expect(mine).to_have_attribute("data-state", "sending")
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        # It goes again after the server's retry_after (10 s, plus jitter), once.
        expect(mine).to_have_attribute("data-state", "sent", timeout=30_000)
        expect(mine).to_have_count(1)
        context.close()

    def test_two_agents_one_wins_the_accept_then_a_canned_reply_and_a_transfer(self):
        self.bob = self.make_agent("bob")
        vip = Customer.objects.create(name="Chen Wei", tier=Tier.objects.get(slug="vip"))
        posted = chat.customer_message(
            ticket=None, customer=vip, text="My parcel never arrived", client_id="c1"
        )
        chat.handoff(ticket=posted.ticket)
        self.chat = Ticket.objects.get(pk=posted.ticket.pk)
        assert self.chat.chat_phase == ChatPhase.QUEUED
        CannedReply.objects.create(
            title="Chat greeting",
            shortcut="hi-chat",
            body="Hello {customer_name}, this is {agent_name}.",
            language="en",
        )
        self.in_chromium(self._two_agents)

        self.chat.refresh_from_db()
        assert self.chat.assignee == self.bob
        assert self.chat.chat_phase == ChatPhase.AGENT
        assert self.chat.messages.filter(body="Hello Chen Wei, this is Alice.").count() == 1
        assert AgentProfile.objects.get(user=self.bob).status == AgentStatus.AWAY

    def _two_agents(self, browser, expect):
        alice = self.open_console(browser, "alice")
        bob = self.open_console(browser, "bob")
        for page in (alice, bob):
            card = page.locator("[data-waiting] .hc-chat-card")
            expect(card).to_have_count(1)
            expect(card.locator(".hc-tier--vip")).to_have_text("VIP")
            expect(card).to_contain_text("Chen Wei")

        # Bob looks at the chat before taking it: the transcript, the VIP customer.
        bob.locator("[data-waiting] [data-open-chat]").click()
        expect(bob.locator("[data-transcript] .hc-message--customer")).to_contain_text(
            "My parcel never arrived"
        )
        expect(bob.locator("[data-profile]")).to_contain_text("VIP")
        expect(bob.locator("[data-composer-note]")).to_have_text("Accept this chat to reply.")

        # Alice accepts first; Bob's view follows, and his late accept is refused politely.
        alice.locator("[data-waiting] [data-accept-chat]").click()
        expect(alice.locator("[data-mine] .hc-chat-card")).to_have_count(1)
        expect(bob.locator("[data-waiting] .hc-chat-card")).to_have_count(0)
        expect(bob.locator("[data-chat-phase]")).to_have_text("With an agent")
        expect(bob.locator("[data-accept]")).to_be_hidden()
        # As if Bob had clicked Accept on a list a moment out of date:
        bob.evaluate(
            """id => {
                const stale = document.createElement("button");
                stale.type = "button";
                stale.dataset.acceptChat = String(id);
                document.querySelector("[data-waiting]").appendChild(stale);
                stale.click();
            }""",
            self.chat.pk,
        )
        expect(bob.locator("[data-alert]")).to_have_text(
            "Another agent has already accepted this chat."
        )

        # Alice answers with a canned reply, its placeholders filled by the server.
        alice.locator("[data-canned]").select_option(label="Chat greeting [en] /hi-chat")
        alice.locator("[data-canned-insert]").click()
        box = alice.locator("[data-text]")
        expect(box).to_have_value("Hello Chen Wei, this is Alice.")
        box.press("Enter")
        expect(alice.locator("[data-transcript] .hc-message--agent")).to_contain_text(
            "Hello Chen Wei, this is Alice."
        )

        # ... and transfers the chat to Bob, who has it among his chats now.
        alice.locator("[data-transfer-to]").select_option(f"agent:{self.bob.pk}")
        alice.locator("[data-transfer-go]").click()
        expect(alice.locator("[data-mine] .hc-chat-card")).to_have_count(0)
        expect(bob.locator("[data-mine] .hc-chat-card")).to_have_count(1)
        expect(bob.locator("[data-composer-note]")).to_be_hidden()

        # Bob steps away; the console shows it again after a reload (from the server).
        bob.locator("[data-status]").select_option("away")
        bob.reload()
        expect(bob.locator("#hc-console")).to_have_attribute("data-console-state", "connected")
        expect(bob.locator("[data-status]")).to_have_value("away")
        alice.context.close()
        bob.context.close()
