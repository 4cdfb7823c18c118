"""WebSocket routes of every app, mounted by asgi.py. Every route checks the Origin header
(core/origins.py)."""

from django.urls import path, re_path

from core.origins import same_origin
from helpcenter.consumers import NotFoundConsumer, PingConsumer
from tickets.chat.routing import websocket_urlpatterns as chat_urlpatterns

websocket_urlpatterns = [
    path("ws/ping/", same_origin(PingConsumer)),
    *chat_urlpatterns,
    re_path(r"^ws/", same_origin(NotFoundConsumer)),  # last
]
