"""WebSocket routes of every app, mounted under /ws/ by asgi.py."""

from django.urls import path

from helpcenter.consumers import PingConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
]
