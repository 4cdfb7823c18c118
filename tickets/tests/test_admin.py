"""The agent workspace in admin, through the real stack: list, filters, search, actions, the
ticket page (thread, reply, controls, canned replies), settings pages and who may do what."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kb.tests.factories import ArticleFactory
from tickets import detection, services
from tickets.admin import common as tickets_admin
from tickets.models import (
    AgentProfile,
    AgentStatus,
    AuthorKind,
    CannedReply,
    Customer,
    EventKind,
    LexiconEntry,
    Priority,
    SLAPolicy,
    Status,
    Ticket,
)
from tickets.tests.factories import CustomerFactory, TeamFactory, ticket, tier
from tickets.tests.factories import agent as make_agent

LIST = reverse("admin:tickets_ticket_changelist")


def change_url(t: Ticket) -> str:
    return reverse("admin:tickets_ticket_change", args=[t.pk])


def listed(response) -> list[int]:
    assert response.status_code == 200
    return [t.pk for t in response.context["cl"].result_list]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


# --- The list --------------------------------------------------------------------------------


def test_list_shows_reference_customer_with_tier_priority_status_sla_and_assignee(
    agent_client, agent
):
    vip = CustomerFactory(name="Ada Lovelace", tier=tier("vip"))
    t = ticket(vip, subject="Card charged twice")
    services.ticket_update(ticket=t, actor=agent, assignee=agent, priority=Priority.HIGH)
    html = agent_client.get(LIST).content.decode()
    assert t.reference in html
    assert "Card charged twice" in html
    assert 'Ada Lovelace <span class="hc-tier hc-tier--vip">VIP</span>' in html
    assert '<span class="hc-priority hc-priority--2">High</span>' in html
    assert "hc-sla--ok" in html
    assert "in 29m" in html or "in 30m" in html
    assert "agent1" in html


def test_sla_column_is_coloured_by_the_stored_deadlines(agent_client):
    now = timezone.now()
    vip = tier("vip")
    ok = ticket(CustomerFactory(tier=vip))  # 30 minutes to first response
    warning = ticket(CustomerFactory(tier=vip), now=now - timedelta(minutes=25))  # warns at 22.5
    breached = ticket(now=now - timedelta(days=8))
    html = agent_client.get(LIST).content.decode()
    for t, state in ((ok, "ok"), (warning, "warning"), (breached, "breached")):
        row = re.search(rf"<tr>.*?{t.reference}.*?</tr>", html, re.S).group(0)
        assert f"hc-sla--{state}" in row, (t.reference, state)
    assert "overdue" in re.search(rf"<tr>.*?{breached.reference}.*?</tr>", html, re.S).group(0)


def test_default_order_is_the_queue_order_vip_with_tighter_deadline_first(agent_client):
    standard = ticket(now=timezone.now() - timedelta(hours=1))
    vip = ticket(CustomerFactory(tier=tier("vip")))
    assert listed(agent_client.get(LIST)) == [vip.pk, standard.pk]


def test_list_shows_active_work_by_default_and_every_status_on_request(agent_client, agent):
    active = ticket()
    solved = ticket()
    services.ticket_update(ticket=solved, actor=agent, status=Status.SOLVED)
    assert listed(agent_client.get(LIST)) == [active.pk]
    assert set(listed(agent_client.get(LIST, {"status": "all"}))) == {active.pk, solved.pk}
    assert listed(agent_client.get(LIST, {"status": "solved"})) == [solved.pk]


def test_filters_mine_unassigned_breached_due_soon_lane_priority_team_channel(agent_client, agent):
    now = timezone.now()
    team = TeamFactory()
    mine = ticket(subject="mine")
    services.ticket_update(ticket=mine, actor=agent, assignee=agent, team=team)
    breached = ticket(subject="old", now=now - timedelta(days=8))
    vip = ticket(CustomerFactory(tier=tier("vip")), subject="vip")  # due in 30 minutes
    chat = ticket(subject="chat", channel="chat", priority=Priority.URGENT)
    cases = {
        "assigned=mine": {mine.pk},
        "assigned=unassigned": {breached.pk, vip.pk, chat.pk},
        "sla=breached": {breached.pk},
        "sla=due_soon": {vip.pk, chat.pk},  # chat: first reply due in 30 seconds
        "lane__exact=1": {vip.pk},
        "priority__exact=1": {chat.pk},
        f"team__id__exact={team.pk}": {mine.pk},
        "channel__exact=chat": {chat.pk},
    }
    for query, expected in cases.items():
        key, value = query.split("=")
        assert set(listed(agent_client.get(LIST, {key: value}))) == expected, query


def test_search_by_reference_email_and_subject(agent_client, agent):
    alice = CustomerFactory(email="alice@shop.example")
    a = ticket(alice, subject="Parcel lost")
    b = ticket(subject="Invoice missing")
    services.ticket_update(ticket=b, actor=agent, status=Status.SOLVED)
    assert listed(agent_client.get(LIST, {"q": a.reference})) == [a.pk]
    assert listed(agent_client.get(LIST, {"q": f"hc{b.pk}"})) == [b.pk]  # a search sees solved
    assert listed(agent_client.get(LIST, {"q": "alice@shop.example"})) == [a.pk]
    assert listed(agent_client.get(LIST, {"q": "invoice"})) == [b.pk]
    assert listed(agent_client.get(LIST, {"q": "HC-999999"})) == []


def _page_queries(client) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST, {"status": "all"}).status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def test_list_does_a_small_constant_number_of_queries(agent_client, agent):
    team = TeamFactory()

    def add(count):
        for i in range(count):
            t = ticket(CustomerFactory(tier=tier("vip" if i % 2 else "standard")))
            services.ticket_update(ticket=t, actor=agent, assignee=agent, team=team)

    add(5)
    one_page = _page_queries(agent_client)
    add(55)
    two_pages = _page_queries(agent_client)
    add(60)
    three_pages = _page_queries(agent_client)
    # A list longer than a page fetches the page's ids first, then those rows (one query more).
    assert len(one_page) <= len(two_pages) == len(three_pages) <= 10, three_pages


def test_list_never_counts_every_row(agent_client, monkeypatch):
    monkeypatch.setattr(tickets_admin.CappedPaginator, "CAP", 3)
    for _ in range(5):
        ticket()
    with CaptureQueriesContext(connection) as queries:
        response = agent_client.get(LIST, {"status": "all"})
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts, "the paginator counts (within its cap)"
    for sql in counts:
        assert re.search(r"COUNT\(\*\).*FROM \(SELECT .* LIMIT \d+\)", sql, re.S | re.I), sql
    assert "More than 3 tickets" in response.content.decode()


# --- Actions ---------------------------------------------------------------------------------


def act(client, action: str, tickets, **extra):
    data = {"action": action, "_selected_action": [t.pk for t in tickets], **extra}
    return client.post(LIST, data)


def test_assign_to_me_writes_one_event_per_ticket(agent_client, agent):
    a, b = ticket(), ticket()
    response = act(agent_client, "assign_to_me", [a, b])
    assert response.status_code == 302
    for t in (a, b):
        t.refresh_from_db()
        assert t.assignee == agent
        assert t.events.filter(kind=EventKind.ASSIGNEE, actor=agent).count() == 1


def test_solve_action_solves_through_the_service_and_mails_the_customer(
    agent_client, django_capture_on_commit_callbacks
):
    t = ticket()
    with django_capture_on_commit_callbacks(execute=True):
        act(agent_client, "solve", [t])
    t.refresh_from_db()
    assert t.status == Status.SOLVED
    assert t.solved_at is not None
    assert t.events.filter(kind=EventKind.STATUS).count() == 1
    assert [m.to for m in mail.outbox] == [[t.customer.email]]


def test_set_priority_asks_then_sets_it(agent_client):
    a, b = ticket(), ticket()
    page = act(agent_client, "set_priority", [a, b])
    assert page.status_code == 200
    assert 'name="priority"' in page.content.decode()
    bad = act(agent_client, "set_priority", [a, b], apply="1", priority="9")
    assert bad.status_code == 200
    assert "Select a valid choice" in bad.content.decode()
    act(agent_client, "set_priority", [a, b], apply="1", priority=str(Priority.URGENT))
    for t in (a, b):
        t.refresh_from_db()
        assert t.priority == Priority.URGENT
        assert t.events.filter(kind=EventKind.PRIORITY).count() == 1


def test_merge_asks_which_ticket_to_keep_then_merges_the_others(agent_client):
    customer = CustomerFactory()
    keep, other = ticket(customer, subject="First"), ticket(customer, subject="Again")
    page = act(agent_client, "merge", [keep, other])
    assert page.status_code == 200
    assert 'name="keep"' in page.content.decode()
    assert act(agent_client, "merge", [keep], apply="1").status_code == 302  # one: refused
    act(agent_client, "merge", [keep, other], apply="1", keep=str(keep.pk))
    other.refresh_from_db()
    assert other.merged_into == keep
    assert other.status == Status.CLOSED
    assert keep.messages.count() == 3  # both first messages and the merge note


def test_merging_tickets_of_different_customers_warns_and_needs_an_explicit_confirmation(
    agent_client, agent
):
    ann = CustomerFactory(name="Ann", email="ann@example.com")
    bob = CustomerFactory(name="Bob", email="bob@example.com")
    keep, other = ticket(ann, subject="First"), ticket(bob, subject="Second")
    page = act(agent_client, "merge", [keep, other]).content.decode()
    assert 'id="hc-action-warning"' in page
    assert "different customers" in page
    assert "ann@example.com" in page
    assert "bob@example.com" in page
    assert 'name="confirm_other_customers"' in page

    refused = act(agent_client, "merge", [keep, other], apply="1", keep=str(keep.pk))
    assert refused.status_code == 200  # the page again, with the box to tick
    assert "Tick this box to merge across customers." in refused.content.decode()
    other.refresh_from_db()
    assert other.merged_into is None

    act(
        agent_client, "merge", [keep, other], apply="1", keep=str(keep.pk),
        confirm_other_customers="on",
    )  # fmt: skip
    other.refresh_from_db()
    assert other.merged_into == keep
    event = keep.events.get(kind=EventKind.MERGED, data__other_customer=bob.pk)
    assert event.actor == agent
    activity = agent_client.get(change_url(keep)).content.decode()
    assert f"another customer&#x27;s ticket (customer #{bob.pk})" in activity


def test_merging_one_customers_tickets_asks_no_confirmation(agent_client):
    customer = CustomerFactory()
    a, b = ticket(customer), ticket(customer)
    page = act(agent_client, "merge", [a, b]).content.decode()
    assert "confirm_other_customers" not in page
    assert 'id="hc-action-warning"' not in page


def test_a_tampered_selection_is_ignored_not_a_500(agent_client):
    t = ticket()
    response = agent_client.post(
        LIST, {"action": "solve", "_selected_action": ["abc", "9" * 25, str(t.pk)]}
    )
    assert response.status_code == 302
    t.refresh_from_db()
    assert t.status == Status.SOLVED


def test_take_next_assigns_the_top_of_the_queue_and_opens_it(agent_client, agent):
    later = ticket(now=timezone.now() - timedelta(minutes=5))
    first = ticket(CustomerFactory(tier=tier("vip")))
    response = agent_client.post(reverse("admin:tickets_ticket_take_next"))
    assert response.status_code == 302
    assert response.url == change_url(first)
    first.refresh_from_db()
    later.refresh_from_db()
    assert first.assignee == agent
    assert later.assignee is None


def test_take_next_with_an_empty_queue_says_so(agent_client):
    response = agent_client.post(reverse("admin:tickets_ticket_take_next"), follow=True)
    assert "Your queue is empty" in response.content.decode()
    assert agent_client.get(reverse("admin:tickets_ticket_take_next")).status_code == 405


def test_agent_sets_their_own_status(agent_client, agent):
    url = reverse("admin:tickets_ticket_my_status")
    response = agent_client.post(url, {"status": AgentStatus.AWAY, "next": LIST + "?sla=breached"})
    assert response.status_code == 302
    assert response.url == LIST + "?sla=breached"
    assert AgentProfile.objects.get(user=agent).status == AgentStatus.AWAY
    page = agent_client.post(
        url, {"status": "sleeping", "next": "https://evil.example/"}, follow=True
    )
    assert page.status_code == 200
    assert "Unknown status" in page.content.decode()
    assert page.redirect_chain[-1][0] == LIST
    assert AgentProfile.objects.get(user=agent).status == AgentStatus.AWAY
    assert '<option value="away" selected>' in agent_client.get(LIST).content.decode()


# --- The ticket page -------------------------------------------------------------------------


def test_ticket_page_shows_thread_customer_previous_tickets_terms_and_articles(agent_client, agent):
    ArticleFactory(slug="refund-time", title="How long does a refund take?")
    customer = CustomerFactory(name="Bo", tier=tier("vip"), segment="senior", notes="Prefers email")
    older = ticket(customer, subject="Older question")
    t = ticket(customer, subject="Refund still not received", body="This is URGENT!!!")
    services.message_post(
        ticket=t, author_kind=AuthorKind.AGENT, author=agent, body="Check the bank", internal=True
    )
    html = agent_client.get(change_url(t)).content.decode()
    assert "hc-message--internal" in html
    assert "Check the bank" in html
    assert "hc-message--customer" in html
    assert "This is URGENT!!!" in html
    assert "Prefers email" in html
    assert "hc-tier--vip" in html
    assert older.reference in html
    assert change_url(older) in html
    assert 'hc-term--urgency">urgent' in html
    opening = detection.empathetic_opening(language="en", segment="senior")
    assert opening
    assert f">{opening}\n\n</textarea>" in html.replace("&#x27;", "'")
    assert "How long does a refund take?" in html
    assert "/en/articles/refund-time/" in html


def _page_query_count(client, t) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(change_url(t)).status_code == 200
    return len(queries)


def test_ticket_page_does_a_fixed_number_of_queries(agent_client, agent):
    customer = CustomerFactory()
    t = ticket(customer)
    before = _page_query_count(agent_client, t)
    helper = make_agent("helper")
    for i in range(8):
        ticket(customer, subject=f"Other {i}")
        services.message_post(
            ticket=t, author_kind=AuthorKind.AGENT, author=helper if i % 2 else agent, body=f"Reply {i}",
            attachments=_checked([SimpleUploadedFile(f"n{i}.txt", b"note")]),
        )  # fmt: skip
        services.ticket_update(ticket=t, actor=agent, priority=1 + i % 4)
    assert _page_query_count(agent_client, t) == before


def _checked(files):
    from tickets.attachments import check_uploads

    return check_uploads(files)


def reply(client, t, **data):
    payload = {"_form": "reply", "kind": "public", "body": "", "status": ""}
    payload.update(data)
    return client.post(change_url(t), payload)


def test_public_reply_with_attachment_and_status_mails_the_customer(
    agent_client, agent, django_capture_on_commit_callbacks
):
    t = ticket()
    upload = SimpleUploadedFile("steps.txt", b"1. open the app", content_type="text/plain")
    with django_capture_on_commit_callbacks(execute=True):
        response = reply(
            agent_client, t, body="Here is how.", attachments=[upload], status=Status.PENDING
        )
    assert response.status_code == 302
    message = t.messages.get(author_kind=AuthorKind.AGENT)
    assert response.url == f"{change_url(t)}#message-{message.pk}"
    assert not message.is_internal
    assert message.author == agent
    assert [a.original_name for a in message.attachments.all()] == ["steps.txt"]
    t.refresh_from_db()
    assert t.status == Status.PENDING
    assert t.first_responded_at is not None
    kinds = list(t.events.order_by("pk").values_list("kind", flat=True))
    assert kinds[-2:] == [EventKind.REPLIED, EventKind.STATUS]
    assert [m.to for m in mail.outbox] == [[t.customer.email]]
    html = agent_client.get(change_url(t)).content.decode()
    assert message.attachments.get().get_absolute_url() in html


def test_internal_note_is_not_mailed_and_is_not_a_first_response(
    agent_client, django_capture_on_commit_callbacks
):
    t = ticket()
    with django_capture_on_commit_callbacks(execute=True):
        assert reply(agent_client, t, kind="internal", body="Ask the warehouse").status_code == 302
    t.refresh_from_db()
    assert t.first_responded_at is None
    assert t.status == Status.NEW
    assert t.events.filter(kind=EventKind.NOTE).count() == 1
    assert t.messages.get(is_internal=True).body == "Ask the warehouse"
    assert mail.outbox == []


def test_bad_reply_input_is_a_form_error_not_a_500(agent_client):
    t = ticket()
    blank = reply(agent_client, t, body="   ")
    assert blank.status_code == 200
    assert "Write a message" in blank.content.decode()
    html_file = SimpleUploadedFile("x.html", b"<html><script>alert(1)</script>")
    bad_file = reply(agent_client, t, body="See file", attachments=[html_file])
    assert bad_file.status_code == 200
    assert "not an allowed file type" in bad_file.content.decode()
    assert "See file</textarea>" in bad_file.content.decode()  # the typed text is kept
    bad_status = reply(agent_client, t, body="Hi", status="exploded")
    assert bad_status.status_code == 200
    assert t.messages.count() == 1
    assert agent_client.post(change_url(t), {"_form": "nonsense"}).status_code == 403
    missing = agent_client.get(reverse("admin:tickets_ticket_change", args=["nope"]))
    assert missing.status_code == 302


def test_controls_change_only_what_the_agent_changed_one_event_each(agent_client, agent):
    t = ticket()
    colleague = make_agent("colleague")
    # A colleague raises the priority after our agent opened the page (which showed Normal).
    services.ticket_update(ticket=t, actor=None, priority=Priority.HIGH)
    data = {
        "_form": "ticket",
        "status": Status.OPEN, "initial-status": Status.NEW,
        "priority": Priority.NORMAL, "initial-priority": Priority.NORMAL,
        "assignee": colleague.pk, "initial-assignee": "",
        "team": "", "initial-team": "",
    }  # fmt: skip
    assert agent_client.post(change_url(t), data).status_code == 302
    t.refresh_from_db()
    assert (t.status, t.priority, t.assignee) == (Status.OPEN, Priority.HIGH, colleague)
    mine = t.events.filter(actor=agent).values_list("kind", flat=True)
    assert sorted(mine) == sorted([EventKind.STATUS, EventKind.ASSIGNEE])
    again = agent_client.post(change_url(t), {**data, "initial-status": Status.OPEN,
                                               "initial-assignee": colleague.pk}, follow=True)  # fmt: skip
    assert "Nothing changed" in again.content.decode()
    assert t.events.filter(actor=agent).count() == 2


def test_a_merged_ticket_cannot_be_reopened_from_its_page(agent_client):
    customer = CustomerFactory()
    source, target = ticket(customer), ticket(customer)
    services.tickets_merge(source=source, target=target, actor=None)
    data = {"_form": "ticket", "status": Status.OPEN, "initial-status": Status.CLOSED,
            "priority": source.priority, "initial-priority": source.priority}  # fmt: skip
    response = agent_client.post(change_url(source), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "merged into another" in html  # the service's rule, as a form error
    assert f'merged into <a href="{change_url(target)}">{target.reference}</a>' in html
    assert 'name="_form" value="reply"' not in html
    source.refresh_from_db()
    assert source.status == Status.CLOSED


# --- Canned replies --------------------------------------------------------------------------


def test_canned_reply_expands_by_shortcut_and_by_id_with_placeholders(agent_client, agent):
    t = ticket(CustomerFactory(name="Chen Wei"))
    url = reverse("admin:tickets_ticket_canned", args=[t.pk])
    by_shortcut = agent_client.get(url, {"shortcut": "order-number"}).json()
    assert "Hi Chen Wei" in by_shortcut["text"]
    assert t.reference in by_shortcut["text"]
    assert by_shortcut["text"].rstrip().endswith("agent1")
    assert by_shortcut["set_status"] == "pending"
    reply_id = CannedReply.objects.get(shortcut="solved", language="en").pk
    assert "glad this is sorted" in agent_client.get(url, {"reply": reply_id}).json()["text"]
    assert agent_client.get(url, {"shortcut": "nope"}).status_code == 404
    assert agent_client.get(url, {"reply": "x"}).status_code == 404


def test_canned_reply_with_markup_is_shown_escaped(agent_client):
    canned = CannedReply.objects.create(
        title="<b>Bold</b> title",
        shortcut="xss",
        body="<script>alert('x')</script> Hi {customer_name}",
    )
    t = ticket(CustomerFactory(name="<img src=x onerror=alert(1)>"))
    page = agent_client.get(change_url(t)).content.decode()
    assert "&lt;b&gt;Bold&lt;/b&gt; title" in page
    assert "<b>Bold</b>" not in page
    assert "<img src=x" not in page
    expanded = agent_client.get(
        reverse("admin:tickets_ticket_canned", args=[t.pk]), {"reply": canned.pk}
    )
    assert expanded["Content-Type"] == "application/json"
    reply(agent_client, t, body=expanded.json()["text"])
    page = agent_client.get(change_url(t)).content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<script>alert" not in page


def test_without_javascript_the_chosen_canned_reply_is_sent(agent_client):
    t = ticket(CustomerFactory(name="Dana"))
    canned = CannedReply.objects.get(shortcut="order-number", language="en")
    assert reply(agent_client, t, canned_reply=canned.pk).status_code == 302
    t.refresh_from_db()
    assert "Hi Dana" in t.messages.get(author_kind=AuthorKind.AGENT).body
    assert t.status == Status.PENDING  # the canned reply's "then set status"


# --- Settings and permissions ----------------------------------------------------------------


def policy_form(policy: SLAPolicy, **overrides) -> dict:
    data = {
        "name": policy.name,
        "position": policy.position,
        "is_active": "on",
        "priorities": [],
        "channels": [],
        "tiers": [t.pk for t in policy.tiers.all()],
        "first_response": "00:30:00",
        "next_response": "01:00:00",
        "resolution": "24:00:00",
        "calendar": "",
        "warn_at_percent": 75,
        "escalate_to_priority": "",
    }
    data.update(overrides)
    return data


def test_agent_cannot_change_sla_policies_canned_replies_or_the_lexicon(agent_client):
    policy = SLAPolicy.objects.get(name="VIP")
    url = reverse("admin:tickets_slapolicy_change", args=[policy.pk])
    assert agent_client.get(url).status_code == 200  # agents may read policies
    assert agent_client.post(url, policy_form(policy, first_response="00:05:00")).status_code == 403
    canned = CannedReply.objects.first()
    canned_url = reverse("admin:tickets_cannedreply_change", args=[canned.pk])
    assert agent_client.post(canned_url, {"title": "x", "body": "y"}).status_code == 403
    assert agent_client.get(reverse("admin:tickets_cannedreply_add")).status_code == 403
    entry = LexiconEntry.objects.first()
    for name in ("lexiconentry", "urgencyrule", "empatheticopening", "calendar", "team"):
        assert agent_client.get(reverse(f"admin:tickets_{name}_add")).status_code == 403, name
    assert (
        agent_client.get(reverse("admin:tickets_lexiconentry_change", args=[entry.pk])).status_code
        == 403
    )
    policy.refresh_from_db()
    assert policy.first_response == timedelta(minutes=30)


def test_manager_edits_a_policy_with_checkboxes_and_deadlines_are_recomputed(
    manager_client, django_capture_on_commit_callbacks
):
    policy = SLAPolicy.objects.get(name="VIP")
    t = ticket(CustomerFactory(tier=tier("vip")))
    url = reverse("admin:tickets_slapolicy_change", args=[policy.pk])
    page = manager_client.get(url).content.decode()
    assert 'type="checkbox" name="priorities" value="1"' in page
    assert 'type="checkbox" name="channels" value="chat"' in page
    bad = manager_client.post(url, policy_form(policy, warn_at_percent=150))
    assert bad.status_code == 200
    assert "Between 1 and 99" in bad.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            url, policy_form(policy, first_response="00:10:00", channels=["web", "email"])
        )
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.channels == ["web", "email"]
    assert policy.priorities == []
    t.refresh_from_db()
    assert t.first_response_due == t.created_at + timedelta(minutes=10)


def test_calendar_change_recomputes_its_policies(
    manager_client, monkeypatch, django_capture_on_commit_callbacks
):
    from tickets.models import Calendar

    calendar = Calendar.objects.get()
    calls = []
    monkeypatch.setattr("tickets.admin.setup.enqueue", lambda *a: calls.append(a))
    hours = list(calendar.hours.all())
    data = {
        "name": calendar.name, "time_zone": calendar.time_zone,
        "hours-TOTAL_FORMS": len(hours), "hours-INITIAL_FORMS": len(hours),
        "hours-MIN_NUM_FORMS": 0, "hours-MAX_NUM_FORMS": 1000,
        "holidays-TOTAL_FORMS": 1, "holidays-INITIAL_FORMS": 0,
        "holidays-MIN_NUM_FORMS": 0, "holidays-MAX_NUM_FORMS": 1000,
        "holidays-0-date": "2030-10-01", "holidays-0-name": "National Day",
    }  # fmt: skip
    for i, row in enumerate(hours):
        data.update({f"hours-{i}-id": row.pk, f"hours-{i}-calendar": calendar.pk,
                     f"hours-{i}-weekday": row.weekday, f"hours-{i}-opens": "09:00",
                     f"hours-{i}-closes": "18:00"})  # fmt: skip
    url = reverse("admin:tickets_calendar_change", args=[calendar.pk])
    bad = manager_client.post(url, {**data, "hours-0-closes": "08:00"})
    assert bad.status_code == 200
    assert "Closing time must be after opening time" in bad.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert manager_client.post(url, data).status_code == 302
    assert calendar.holidays.get().name == "National Day"
    policies = sorted(SLAPolicy.objects.filter(calendar=calendar).values_list("pk", flat=True))
    assert calls == [("tickets.tasks.sla_recompute", policies)]


def test_lexicon_change_takes_effect_at_once(manager_client, django_capture_on_commit_callbacks):
    assert detection.detect("I will call my solicitor").score == 0  # caches the lexicon
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            reverse("admin:tickets_lexiconentry_add"),
            {"term": "solicitor", "kind": "negative", "language": "any", "weight": "3",
             "is_active": "on"},
        )  # fmt: skip
    assert response.status_code == 302
    assert detection.detect("I will call my solicitor").score == 3
    bad = manager_client.post(
        reverse("admin:tickets_lexiconentry_add"),
        {"term": "([", "is_regex": "on", "kind": "urgency", "language": "any", "weight": "1"},
    )
    assert bad.status_code == 200
    assert "Invalid pattern" in bad.content.decode()


def test_customer_without_staff_status_has_no_admin_access(client, customer):
    client.force_login(customer)
    for url in (LIST, reverse("admin:tickets_customer_changelist"), reverse("admin:index")):
        response = client.get(url)
        assert response.status_code == 302
        assert "/admin/login/" in response.url


# --- Customers -------------------------------------------------------------------------------


def test_customer_search_tier_filter_and_their_tickets(agent_client):
    vip = CustomerFactory(name="Grace Hopper", email="grace@navy.example", phone="+86 139 0000")
    plain = CustomerFactory(name="Alan", tier=tier("standard"))
    vip.tier = tier("vip")
    vip.save()
    t = ticket(vip, subject="Compiler question")
    url = reverse("admin:tickets_customer_changelist")
    for term in ("Grace", "grace@navy", "139 0000"):
        assert listed(agent_client.get(url, {"q": term})) == [vip.pk], term
    assert listed(agent_client.get(url, {"tier__id__exact": tier("standard").pk})) == [plain.pk]
    page = agent_client.get(reverse("admin:tickets_customer_change", args=[vip.pk]))
    html = page.content.decode()
    assert t.reference in html
    assert change_url(t) in html
    their = listed(agent_client.get(LIST, {"customer__id__exact": vip.pk, "status": "all"}))
    assert their == [t.pk]


def test_manager_merges_two_customers_choosing_the_one_to_keep(manager_client):
    keep = CustomerFactory(name="", email="wang@example.com")
    other = CustomerFactory(name="Wang Fang", email="fang@example.com", phone="123")
    t = ticket(other)
    url = reverse("admin:tickets_customer_changelist")
    data = {"action": "merge_customers", "_selected_action": [keep.pk, other.pk]}
    page = manager_client.post(url, data)
    assert page.status_code == 200
    assert 'name="keep"' in page.content.decode()
    response = manager_client.post(url, {**data, "apply": "1", "keep": keep.pk})
    assert response.status_code == 302
    other.refresh_from_db()
    keep.refresh_from_db()
    t.refresh_from_db()
    assert other.merged_into == keep
    assert t.customer == keep
    assert keep.name == "Wang Fang"
    assert keep.phone == "123"


def test_agents_cannot_merge_customers(agent_client):
    a, b = CustomerFactory(), CustomerFactory()
    url = reverse("admin:tickets_customer_changelist")
    assert "merge_customers" not in agent_client.get(url).content.decode()
    data = {"action": "merge_customers", "_selected_action": [a.pk, b.pk], "apply": "1",
            "keep": a.pk}  # fmt: skip
    agent_client.post(url, data)
    b.refresh_from_db()
    assert b.merged_into is None
    assert Customer.objects.active().count() == 2


def test_manager_and_agent_see_the_workspace(manager, agent):
    t = ticket()
    for user in (manager, agent):
        client = Client()
        client.force_login(user)
        assert client.get(change_url(t)).status_code == 200
        assert client.get(LIST).status_code == 200


@pytest.mark.parametrize(
    "model",
    [
        "slapolicy", "calendar", "team", "skill", "tier", "agentprofile", "lexiconentry",
        "urgencyrule", "empatheticopening", "cannedreply",
    ],
)  # fmt: skip
def test_manager_opens_every_settings_page(manager_client, model):
    assert manager_client.get(reverse(f"admin:tickets_{model}_changelist")).status_code == 200
    assert manager_client.get(reverse(f"admin:tickets_{model}_add")).status_code == 200


def test_manager_edits_a_canned_reply(manager_client):
    canned = CannedReply.objects.get(shortcut="solved", language="en")
    data = {"title": "Solved", "shortcut": "solved", "body": "Done, {customer_name}.",
            "language": "en", "set_status": "solved", "is_active": "on"}  # fmt: skip
    url = reverse("admin:tickets_cannedreply_change", args=[canned.pk])
    assert manager_client.post(url, data).status_code == 302
    canned.refresh_from_db()
    assert canned.body == "Done, {customer_name}."


def test_staff_who_may_only_view_tickets_get_the_page_without_forms(client, django_user_model):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user(username="auditor", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_ticket"))
    client.force_login(viewer)
    t = ticket()
    html = client.get(change_url(t)).content.decode()
    assert t.subject in html
    assert 'name="_form"' not in html
    assert client.post(change_url(t), {"_form": "reply", "body": "hi"}).status_code == 403
    assert client.post(reverse("admin:tickets_ticket_take_next")).status_code == 403
    assert client.get(reverse("admin:tickets_ticket_canned", args=[t.pk])).status_code == 403
