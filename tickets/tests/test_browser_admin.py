"""End-to-end in Debian's Chromium: an agent opens a ticket in admin, inserts a canned reply
(picker and /shortcut), sends it as a public reply and sees it in the thread. Run by
`make test` in a pytest process of its own (see bin/test)."""

import os

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.urls import reverse

from core.roles import AGENTS, ensure_roles
from tickets.models import AuthorKind, CannedReply, Customer, Tier
from tickets.tests.factories import ticket

pytestmark = pytest.mark.browser
# Playwright's sync API runs an event loop in this thread; the ORM calls in these tests are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def workspace(live_server, transactional_db, django_user_model, settings, tmp_path):
    # Another transactional test may have flushed the migrations' data: make what we need.
    settings.MEDIA_ROOT = tmp_path
    ensure_roles(apps)
    tier, _ = Tier.objects.get_or_create(slug="standard", defaults={"name": "Standard"})
    agent = django_user_model.objects.create_user(
        username="mei", password="pw-mei-secret", first_name="Mei", is_staff=True
    )
    agent.groups.add(Group.objects.get(name=AGENTS))
    customer = Customer.objects.create(name="Li Lei", email="lilei@example.com", tier=tier)
    canned = CannedReply.objects.create(
        title="Delivery update", shortcut="bt-delivery", language="en",
        body="Hi {customer_name}, your parcel for {ticket_reference} left our warehouse today.",
    )  # fmt: skip
    CannedReply.objects.create(
        title="Signature", shortcut="bt-sign", language="en", body="Best regards, {agent_name}"
    )
    return {
        "url": live_server.url,
        "ticket": ticket(customer, subject="Where is my parcel?", body="Ordered a week ago."),
        "canned": canned,
    }


def test_agent_inserts_a_canned_reply_sends_it_and_sees_it_in_the_thread(page, workspace):
    t = workspace["ticket"]
    page.goto(workspace["url"] + reverse("admin:tickets_ticket_change", args=[t.pk]))
    page.fill("#id_username", "mei")
    page.fill("#id_password", "pw-mei-secret")
    page.press("#id_password", "Enter")
    page.wait_for_url(f"**/admin/tickets/ticket/{t.pk}/change/")
    assert page.locator("h1").inner_text().startswith(t.reference)

    # select_option changes the value as the arrow keys do: nothing is inserted until Insert.
    page.get_by_label("Canned reply").select_option(label="Delivery update [en] /bt-delivery")
    assert page.locator("#id_body").input_value() == ""
    page.get_by_role("button", name="Insert", exact=True).click()
    body = page.locator("#id_body")
    expected = f"Hi Li Lei, your parcel for {t.reference} left our warehouse today."
    page.wait_for_function(
        "text => document.getElementById('id_body').value.includes(text)", arg=expected
    )
    body.press("End")
    body.press_sequentially("\n/bt-sign ")
    page.wait_for_function(
        "() => document.getElementById('id_body').value.includes('Best regards, Mei')"
    )
    assert "/bt-sign" not in body.input_value()

    page.get_by_role("button", name="Send").click()
    page.wait_for_url(f"**/admin/tickets/ticket/{t.pk}/change/#message-*")
    sent = page.locator(".hc-message--agent").last
    assert expected in sent.inner_text()
    assert "Public reply" in sent.inner_text()
    assert "Reply sent." in page.locator(".messagelist").inner_text()
    message = t.messages.get(author_kind=AuthorKind.AGENT)
    assert not message.is_internal
    assert message.body == f"{expected}\nBest regards, Mei"
