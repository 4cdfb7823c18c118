"""The customer chat widget without a browser: its files are served, every help-center page loads
it with the same tag for every visitor, "Chat with us" opens it, and the visitor-cookie endpoint
gives guests the signed cookie the chat socket identifies them by (docs/chat-widget.md)."""

import re

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.staticfiles import finders
from django.core import signing
from django.test import Client

from helpcenter.asgi import application
from kb.feedback import VISITOR_COOKIE, VISITOR_COOKIE_SALT
from kb.tests.factories import ArticleFactory, CategoryFactory
from tickets.models import Customer

WIDGET = "chat/widget.js"
STYLES = "chat/widget.css"


def widget_source() -> str:
    with open(finders.find(WIDGET), encoding="utf-8") as file:
        return file.read()


def widget_tag(html: str) -> str:
    tags = re.findall(r"<script[^>]*chat/widget[^>]*></script>", html)
    assert len(tags) == 1, tags
    return tags[0]


def test_the_widget_script_and_stylesheet_are_served(settings):
    settings.WHITENOISE_USE_FINDERS = True  # serve from the source tree, as after collectstatic
    client = Client()
    script = client.get("/static/" + WIDGET)
    styles = client.get("/static/" + STYLES)
    assert script.status_code == 200
    assert "javascript" in script["Content-Type"]
    assert styles.status_code == 200
    assert styles["Content-Type"].startswith("text/css")


@pytest.mark.parametrize(("path", "language"), [("/en/", "en"), ("/zh-hans/", "zh-hans")])
def test_every_page_loads_the_widget_in_its_language(client, db, path, language):
    tag = widget_tag(client.get(path).content.decode())
    assert 'src="/static/chat/widget.js"' in tag
    assert f'data-language="{language}"' in tag
    assert 'data-socket="/ws/chat/"' in tag
    assert 'data-visitor="/chat/visitor/"' in tag
    assert 'data-css="/static/chat/widget.css"' in tag
    assert " defer" in tag


def test_the_widget_tag_is_the_same_for_every_visitor_so_cached_pages_stay_correct(db):
    first, second = Client(), Client()
    second.cookies[VISITOR_COOKIE] = signing.dumps("someone", salt=VISITOR_COOKIE_SALT)
    one = first.get("/en/contact/")
    other = second.get("/en/contact/")
    assert widget_tag(one.content.decode()) == widget_tag(other.content.decode())
    assert VISITOR_COOKIE not in one.cookies  # pages never set the visitor cookie


def test_chat_with_us_opens_the_widget_and_still_works_without_it(client, db):
    article = ArticleFactory(category=CategoryFactory())
    html = client.get(article.get_absolute_url()).content.decode()
    link = re.search(r"<a [^>]*data-chat-open[^>]*>", html).group(0)
    assert 'href="/en/contact/#chat"' in link  # without JavaScript: the contact page
    contact = client.get("/en/contact/").content.decode()
    assert re.search(r"<button [^>]*data-chat-open[^>]*hidden", contact)  # shown by the widget
    assert "coming soon" not in contact


def test_the_visitor_endpoint_gives_a_guest_a_signed_cookie_once(client, db):
    first = client.get("/chat/visitor/")
    assert first.status_code == 204
    assert "no-cache" in first["Cache-Control"] or "no-store" in first["Cache-Control"]
    cookie = first.cookies[VISITOR_COOKIE]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert signing.loads(cookie.value, salt=VISITOR_COOKIE_SALT)
    again = client.get("/chat/visitor/")
    assert again.status_code == 204
    assert VISITOR_COOKIE not in again.cookies
    assert client.post("/chat/visitor/").status_code == 405


def test_a_signed_in_customer_gets_no_visitor_cookie(client, customer):
    client.force_login(customer)
    response = client.get("/chat/visitor/")
    assert response.status_code == 204
    assert VISITOR_COOKIE not in response.cookies


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_chat_socket_knows_the_guest_by_the_cookie_from_the_visitor_endpoint(settings):
    from django.apps import apps

    from tickets.defaults import ensure_defaults

    await database_sync_to_async(ensure_defaults)(apps)  # flushed by earlier transactional tests
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "core.layers.InMemoryChannelLayer"}}
    response = await database_sync_to_async(Client().get)("/chat/visitor/")
    cookie = response.cookies[VISITOR_COOKIE].value
    for attempt in range(2):
        socket = WebsocketCommunicator(
            application,
            "/ws/chat/",
            headers=[
                (b"origin", b"http://127.0.0.1"),
                (b"host", b"127.0.0.1"),
                (b"cookie", f"{VISITOR_COOKIE}={cookie}".encode()),
            ],
        )
        connected, _ = await socket.connect()
        assert connected
        await socket.send_json_to({"type": "hello", "conversation": None, "after": None})
        assert (await socket.receive_json_from())["type"] == "welcome"
        # The customer row is made with the first message, not on opening the widget.
        await socket.send_json_to({"type": "message", "text": "hello", "client_id": f"w{attempt}"})
        while (await socket.receive_json_from(timeout=3))["type"] != "ack":
            pass
        await socket.disconnect()
    key = signing.loads(cookie, salt=VISITOR_COOKIE_SALT)
    assert await Customer.objects.filter(visitor_key=key).acount() == 1
    customer = await Customer.objects.aget(visitor_key=key)
    assert await customer.tickets.acount() == 2


def test_the_widget_is_bilingual_and_renders_server_text_as_text():
    source = widget_source()
    for english, chinese in [
        ("Talk to a person", "转人工客服"),
        ("End chat", "结束会话"),
        ("Start a new chat", "开始新的会话"),
        (
            "You are number {position} in the queue · about {minutes} min",
            "您当前排在第 {position} 位",
        ),
        ("Connection lost. Reconnecting…", "连接已断开，正在重新连接…"),
    ]:
        assert english in source
        assert chinese in source
    # Server text goes through textContent and text nodes only.
    assert "innerHTML" not in source
    assert "insertAdjacentHTML" not in source
    assert "document.write" not in source


def test_the_widget_keeps_its_styles_to_itself():
    with open(finders.find(STYLES), encoding="utf-8") as file:
        css = re.sub(r"/\*.*?\*/", "", file.read(), flags=re.S)
    rules = re.sub(r"@(media|keyframes)[^{]*\{", "", css)
    selectors = [s.strip() for block in re.findall(r"([^{}]+)\{", rules) for s in block.split(",")]
    keyframe_steps = {"from", "to"}
    stray = [s for s in selectors if s and s not in keyframe_steps and not s.startswith(".hc-chat")]
    assert stray == []
    assert "prefers-reduced-motion" in css
    assert "@import" not in css  # no external fonts or CDNs
    assert "url(" not in css
