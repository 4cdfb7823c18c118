import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group
from django.core.management import call_command

from helpcenter.asgi import application
from kb.models import Article


def test_load_demo_is_idempotent(db, django_user_model):
    from tickets.models import AgentProfile, Event, Team, Ticket

    call_command("load_demo", verbosity=0)
    snapshot = list(Article.objects.order_by("pk").values_list("pk", "updated_at", "view_count"))
    users = list(django_user_model.objects.order_by("pk").values_list("pk", "password"))
    helpdesk = [
        Ticket.objects.count(),
        Event.objects.count(),
        Team.objects.count(),
        AgentProfile.objects.count(),
    ]
    assert len(snapshot) >= 60
    assert helpdesk[0] >= 5
    assert Ticket.objects.filter(customer__user__username="carol", lane=1).exists()  # VIP lane
    call_command("load_demo", verbosity=0)
    assert [
        Ticket.objects.count(),
        Event.objects.count(),
        Team.objects.count(),
        AgentProfile.objects.count(),
    ] == helpdesk
    assert (
        list(Article.objects.order_by("pk").values_list("pk", "updated_at", "view_count"))
        == snapshot
    )
    assert list(django_user_model.objects.order_by("pk").values_list("pk", "password")) == users


def test_demo_articles_are_bilingual_pairs(db):
    call_command("load_demo", verbosity=0)
    for article in Article.objects.filter(language="zh-hans"):
        assert Article.objects.filter(
            translation_group=article.translation_group, language="en"
        ).exists(), article.slug


def test_roles_exist_with_the_right_permissions(db):
    managers = Group.objects.get(name="Managers")
    agents = Group.objects.get(name="Agents")
    manager_perms = set(managers.permissions.values_list("codename", flat=True))
    agent_perms = set(agents.permissions.values_list("codename", flat=True))
    assert {"change_article", "add_article", "delete_article", "view_searchgap"} <= manager_perms
    assert "view_article" in agent_perms
    kb_agent_perms = set(
        agents.permissions.filter(content_type__app_label="kb").values_list("codename", flat=True)
    )
    assert not any(p.startswith(("change_", "add_", "delete_")) for p in kb_agent_perms)
    assert "change_ticket" in agent_perms
    assert "change_slapolicy" not in agent_perms
    assert "change_slapolicy" in manager_perms


def test_health_check(client, db):
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_websocket_stack_answers_and_checks_the_origin():
    good = WebsocketCommunicator(application, "/ws/ping/", headers=SAME_ORIGIN)
    connected, _ = await good.connect()
    assert connected
    await good.send_json_to({"type": "ping"})
    assert await good.receive_json_from() == {"type": "pong"}
    await good.send_to(text_data="not json")
    assert (await good.receive_json_from())["code"] == "invalid_json"
    await good.disconnect()

    unknown = WebsocketCommunicator(application, "/ws/nope/", headers=SAME_ORIGIN)
    connected, _ = await unknown.connect()
    assert connected
    assert (await unknown.receive_json_from())["code"] == "not_found"
    assert (await unknown.receive_output())["code"] == 4404
    await unknown.wait()

    evil = WebsocketCommunicator(
        application, "/ws/ping/", headers=[(b"origin", b"http://evil.example"), HOST]
    )
    connected, _ = await evil.connect()
    assert not connected


SAME_ORIGIN = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
HOST = (b"host", b"127.0.0.1")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("http://localhost:8000", "localhost:8000", True),
        ("http://127.0.0.1:9999", "127.0.0.1:8000", False),  # another port
        ("https://127.0.0.1:8000", "127.0.0.1:8000", False),  # another scheme
        ("https://localhost", "localhost", False),  # https page, plain ws handshake
        ("http://localhost:1", "localhost", False),
        ("http://evil.example", "evil.example", False),  # a host we do not serve
        ("null", "127.0.0.1:8000", False),
        ("", "127.0.0.1:8000", False),
        ("http://127.0.0.1:8000/path", "127.0.0.1:8000", False),
    ],
)
async def test_websocket_origin_must_match_scheme_host_and_port(origin, host, allowed):
    headers = [(b"host", host.encode())]
    if origin:
        headers.append((b"origin", origin.encode()))
    for path in ("/ws/ping/", "/ws/agent/"):
        socket = WebsocketCommunicator(application, path, headers=headers)
        connected, code = await socket.connect()
        if path == "/ws/agent/" and allowed:
            assert code == 4403  # past the origin check; refused for being anonymous
        else:
            assert connected is allowed
        await socket.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_chat_accepts_the_embedding_sites_exact_origin_only(settings):
    settings.CHAT_ALLOWED_ORIGINS = ["https://shop.example.com"]
    for origin, allowed in [
        ("https://shop.example.com", True),
        ("https://shop.example.com:444", False),
        ("http://shop.example.com", False),
        ("https://evil-shop.example.com", False),
    ]:
        socket = WebsocketCommunicator(
            application, "/ws/chat/", headers=[(b"origin", origin.encode()), HOST]
        )
        connected, _ = await socket.connect()
        assert connected is allowed, origin
        await socket.disconnect()
    agent = WebsocketCommunicator(
        application, "/ws/agent/", headers=[(b"origin", b"https://shop.example.com"), HOST]
    )
    connected, _ = await agent.connect()
    assert not connected  # the console is never embeddable


def test_settings_read_database_and_redis_urls_from_the_environment(monkeypatch):
    """The distributed topology is chosen only by environment variables."""
    import importlib

    import helpcenter.settings as settings_module

    def topology(module) -> tuple:
        return (
            module.DATABASES["default"]["ENGINE"],
            module.DATABASES["default"].get("HOST", ""),
            module.CHANNEL_LAYERS["default"]["BACKEND"],
            "redis" in module.Q_CLUSTER,
        )

    ours = topology(settings_module)  # embedded, or this run's PostgreSQL + Redis (.ci/run)
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example:5433/hc")
    monkeypatch.setenv("REDIS_URL", "redis://cache.example:6379/1")
    monkeypatch.setenv("EMAIL_URL", "smtp://mailer:secret@smtp.example:2525?tls=1")
    try:
        fresh = importlib.reload(settings_module)
        assert fresh.DATABASES["default"]["HOST"] == "db.example"
        assert fresh.CACHES["default"]["BACKEND"].endswith("RedisCache")
        assert fresh.CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis")
        assert fresh.Q_CLUSTER["redis"] == "redis://cache.example:6379/1"
        assert (fresh.EMAIL_HOST, fresh.EMAIL_PORT, fresh.EMAIL_USE_TLS) == (
            "smtp.example",
            2525,
            True,
        )
    finally:
        monkeypatch.undo()
        importlib.reload(settings_module)
    # Without those variables, the reloaded settings are this run's topology again.
    assert topology(settings_module) == ours
