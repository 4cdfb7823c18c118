"""The chat's WebSocket routes (included by helpcenter/routing.py). The customer's socket may
be opened by the sites that embed the widget; the agent console's only by this site."""

from django.urls import path

from core.origins import embeddable, same_origin
from tickets.chat.consumers import AgentConsumer, ChatConsumer

websocket_urlpatterns = [
    path("ws/chat/", embeddable(ChatConsumer)),
    path("ws/agent/", same_origin(AgentConsumer)),
]
