"""WebSocket routes of every app, mounted under /ws/ by asgi.py."""

from django.urls import path, re_path

from helpcenter.consumers import NotFoundConsumer, PingConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
    re_path(r"^ws/", NotFoundConsumer.as_asgi()),  # last
]
