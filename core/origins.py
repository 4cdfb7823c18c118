"""The Origin check of every WebSocket handshake (cross-site WebSocket hijacking: a socket
carries the site's cookies, so any page could open one in its visitor's name).

An origin is a scheme, a host and a port, and all three must match: the page's own origin
(the handshake's Host, checked against ALLOWED_HOSTS, with the scheme the browser used, as
Django's CSRF check derives it), SITE_URL's, one listed in CSRF_TRUSTED_ORIGINS or, for the
customer chat only, in CHAT_ALLOWED_ORIGINS (sites that embed the widget). A missing or
``null`` Origin is refused. Settings are read at each handshake, not when routes are built.
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origin(value: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin like ``https://example.com:8443``; None if not one."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _scheme(scope: dict) -> str:
    """http or https, as the browser sees the page (behind a TLS proxy: its header)."""
    if scope.get("scheme") in ("wss", "https"):
        return "https"
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        header, secure_value = proxy
        name = header.removeprefix("HTTP_").lower().replace("_", "-").encode()
        value = _header(scope, name)
        if value is not None and value.split(",")[0].strip() == secure_value:
            return "https"
    return "http"


def _own_origin(scope: dict) -> tuple[str, str, int] | None:
    host = _header(scope, b"host")
    if not host:
        return None
    domain, port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    scheme = _scheme(scope)
    try:
        return scheme, domain.strip("[]").lower(), int(port) if port else DEFAULT_PORTS[scheme]
    except ValueError:
        return None


def _listed(origin: tuple[str, str, int], entries: list[str]) -> bool:
    scheme, host, port = origin
    for entry in entries:
        if "://" not in entry:  # a bare host: that host on the default port of either scheme
            if entry.lower() == host and port == DEFAULT_PORTS[scheme]:
                return True
            continue
        wildcard = "://*." in entry
        allowed = parse_origin(entry.replace("://*.", "://", 1))
        if allowed is None:
            continue
        a_scheme, a_host, a_port = allowed
        host_ok = host == a_host or (wildcard and host.endswith("." + a_host))
        if scheme == a_scheme and port == a_port and host_ok:
            return True
    return False


def origin_allowed(scope: dict, *, embeddable: bool = False) -> bool:
    value = _header(scope, b"origin")
    origin = parse_origin(value) if value and value != "null" else None
    if origin is None:
        return False
    if origin == _own_origin(scope):
        return True
    trusted = [settings.SITE_URL, *settings.CSRF_TRUSTED_ORIGINS]
    if embeddable:
        trusted += settings.CHAT_ALLOWED_ORIGINS
    return _listed(origin, trusted)


class OriginCheck:
    """ASGI middleware: refuse the WebSocket handshake of a foreign origin (HTTP 403)."""

    def __init__(self, application, *, embeddable: bool = False):
        self.application = application
        self.embeddable = embeddable

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope, embeddable=self.embeddable):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


def same_origin(consumer) -> OriginCheck:
    """A route for pages of this site only."""
    return OriginCheck(consumer.as_asgi())


def embeddable(consumer) -> OriginCheck:
    """A route that the sites in CHAT_ALLOWED_ORIGINS may open too (the chat widget)."""
    return OriginCheck(consumer.as_asgi(), embeddable=True)
