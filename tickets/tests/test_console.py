"""The live-chat agent console page (admin) and its canned-reply endpoint: who may open them,
what the page embeds for its script. The socket itself is tested in test_chat.py, the page in a
browser in test_browser_chat.py."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tickets.models import CannedReply, Channel, Team
from tickets.tests.factories import CustomerFactory, ticket

CONSOLE = "/admin/tickets/chat-console/"
CANNED = "/admin/tickets/chat-console/canned/"


def config_of(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="hc-console-config" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def test_the_console_has_a_stable_address():
    assert reverse("admin:tickets_chat_console") == CONSOLE
    assert reverse("admin:tickets_chat_console_canned") == CANNED


@pytest.mark.parametrize("who", ["agent", "manager"])
def test_agents_and_managers_open_the_console(client, db, request, who):
    client.force_login(request.getfixturevalue(who))
    response = client.get(CONSOLE)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-socket-path="/ws/agent/"' in html
    assert "chat/console.js" in html
    config = config_of(response)
    assert config["socketPath"] == "/ws/agent/"
    assert config["cannedUrl"] == CANNED
    assert config["searchUrl"] == "/api/kb/search/"
    assert config["me"]["name"] == request.getfixturevalue(who).username
    assert config["strings"]["taken"]


def test_customers_and_anonymous_visitors_are_sent_to_the_admin_sign_in(client, customer):
    response = client.get(CONSOLE)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    client.force_login(customer)
    response = client.get(CONSOLE)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert client.get(CANNED, {"ticket": 1, "reply": 1}).status_code == 302


def test_staff_who_may_not_work_tickets_are_refused(client, db):
    clerk = get_user_model().objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(clerk)
    assert client.get(CONSOLE).status_code == 403
    assert client.get(CANNED, {"ticket": 1, "reply": 1}).status_code == 403
    # And the admin index does not offer it.
    assert CONSOLE not in client.get("/admin/").content.decode()


def test_the_admin_index_links_to_the_console_for_agents(agent_client):
    index = agent_client.get("/admin/").content.decode()
    assert f'href="{CONSOLE}"' in index
    assert f'href="{CONSOLE}"' in agent_client.get("/admin/tickets/").content.decode()


def test_canned_replies_in_the_agents_language_come_first(agent_client):
    CannedReply.objects.create(title="Zz English only", body="Hello", language="en")
    CannedReply.objects.create(title="你好模板", body="您好", language="zh-hans")
    CannedReply.objects.create(title="Retired", body="Old", language="zh-hans", is_active=False)
    config = config_of(agent_client.get(CONSOLE, HTTP_ACCEPT_LANGUAGE="zh-hans"))
    assert config["language"] == "zh-hans"
    languages = [reply["language"] for reply in config["canned"]]
    assert languages == sorted(languages, key=lambda language: language != "zh-hans")
    titles = [reply["title"] for reply in config["canned"]]
    assert "你好模板" in titles
    assert "Zz English only" in titles
    assert "Retired" not in titles
    assert all(set(reply) == {"id", "title", "shortcut", "language"} for reply in config["canned"])

    config = config_of(agent_client.get(CONSOLE, HTTP_ACCEPT_LANGUAGE="en"))
    assert config["language"] == "en"
    assert config["canned"][0]["language"] == "en"


def test_the_page_is_in_the_agents_language(agent_client):
    html = agent_client.get(CONSOLE, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "在线客服工作台" in html  # "Live chat console"
    config = config_of(agent_client.get(CONSOLE, HTTP_ACCEPT_LANGUAGE="zh-hans"))
    assert config["strings"]["taken"] == "另一位客服已经接入了这个会话。"


def test_the_page_embeds_transfer_targets_but_not_the_agent_themself(agent_client, agent, manager):
    Team.objects.get_or_create(slug="desk", defaults={"name": "Desk"})
    config = config_of(agent_client.get(CONSOLE))
    people = {person["id"] for person in config["agents"]}
    assert manager.pk in people
    assert agent.pk not in people
    assert "desk" in {team["slug"] for team in config["teams"]}


def test_canned_endpoint_fills_placeholders_for_the_chat_and_agent(agent_client, agent):
    chat = ticket(CustomerFactory(name="Chen Wei"), channel=Channel.CHAT)
    canned = CannedReply.objects.create(
        title="Greet",
        shortcut="greet-chat",
        body="Hi {customer_name}, {ticket_reference}. {agent_name}",
    )
    data = agent_client.get(CANNED, {"ticket": chat.pk, "reply": canned.pk}).json()
    assert data == {
        "id": canned.pk,
        "title": "Greet",
        "text": f"Hi Chen Wei, {chat.reference}. agent1",
    }
    by_shortcut = agent_client.get(CANNED, {"ticket": chat.pk, "shortcut": "greet-chat"}).json()
    assert by_shortcut["id"] == canned.pk
    assert agent_client.get(CANNED, {"ticket": chat.pk, "reply": 999_999}).status_code == 404
    assert agent_client.get(CANNED, {"ticket": "x", "reply": canned.pk}).status_code == 400
    email = ticket(channel=Channel.EMAIL)
    assert agent_client.get(CANNED, {"ticket": email.pk, "reply": canned.pk}).status_code == 404


def test_server_text_is_escaped_in_the_page(agent_client):
    CannedReply.objects.create(title="</script><b>x</b>", body="x", language="en")
    html = agent_client.get(CONSOLE).content.decode()
    assert "</script><b>" not in html
    assert "<b>x</b>" not in html
