"""ASGI entry point: HTTP goes to Django, its body capped at REQUEST_MAX_BYTES while it is
read (core/request_limits.py); WebSocket through the session/auth middleware to the
routes of helpcenter/routing.py, each of which checks the Origin header; lifespan (uvicorn's
``--lifespan on``) warms up and freezes the heap (helpcenter/lifespan.py)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpcenter.settings")
# Django must be set up before anything imports models (consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from core.request_limits import BodyLimit  # noqa: E402
from helpcenter.lifespan import lifespan  # noqa: E402
from helpcenter.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodyLimit(django_asgi_app),
        # Each route checks the Origin header itself (helpcenter/routing.py).
        "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
        "lifespan": lifespan,
    }
)
