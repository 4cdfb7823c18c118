"""WebSocket routes of every app, mounted by asgi.py. Every route checks the Origin header:
the help center's own hosts (ALLOWED_HOSTS), plus, for the customer chat only, the sites
listed in CHAT_ALLOWED_ORIGINS that embed the chat widget."""

from channels.security.websocket import AllowedHostsOriginValidator, OriginValidator
from django.conf import settings
from django.urls import path, re_path

from helpcenter.consumers import NotFoundConsumer, PingConsumer
from tickets.consumers import AgentConsumer, ChatConsumer


def own_origin(consumer):
    return AllowedHostsOriginValidator(consumer.as_asgi())


def embeddable(consumer):
    if not settings.CHAT_ALLOWED_ORIGINS:
        return own_origin(consumer)
    return OriginValidator(
        consumer.as_asgi(), [*settings.ALLOWED_HOSTS, *settings.CHAT_ALLOWED_ORIGINS]
    )


websocket_urlpatterns = [
    path("ws/ping/", own_origin(PingConsumer)),
    path("ws/chat/", embeddable(ChatConsumer)),
    path("ws/agent/", own_origin(AgentConsumer)),
    re_path(r"^ws/", own_origin(NotFoundConsumer)),  # last
]
