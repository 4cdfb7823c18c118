"""Who is calling the knowledge base, and how often: votes (shared by the feedback form and
the feedback API) and content-gap records. Clients are counted by core.client (the user, else
the address, never a header the client can set)."""

import uuid

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from core.client import client_key
from core.ratelimit import Limit

VISITOR_COOKIE = "hc_visitor"
VISITOR_COOKIE_SALT = "kb.visitor"
VISITOR_COOKIE_MAX_AGE = 60 * 60 * 24 * 365


def visitor_key(request: HttpRequest) -> tuple[str, str | None]:
    """(key identifying the voter, new cookie value to set or None).

    Signed-in users vote as themselves; anonymous visitors by a signed random cookie, which a
    client cannot forge to vote as somebody else.
    """
    if request.user.is_authenticated:
        return f"user:{request.user.pk}", None
    raw = request.COOKIES.get(VISITOR_COOKIE, "")
    try:
        token = signing.loads(raw, salt=VISITOR_COOKIE_SALT) if raw else None
    except signing.BadSignature:
        token = None
    if token:
        return f"visitor:{token}", None
    token = uuid.uuid4().hex
    return f"visitor:{token}", signing.dumps(token, salt=VISITOR_COOKIE_SALT)


def remember_visitor(response: HttpResponse, cookie_value: str | None) -> None:
    if cookie_value:
        response.set_cookie(
            VISITOR_COOKIE,
            cookie_value,
            max_age=VISITOR_COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )


class FeedbackThrottle(SimpleRateThrottle):
    """Votes per client (user or address) and period: REST_FRAMEWORK's kb_feedback rate."""

    scope = "kb_feedback"

    def get_rate(self) -> str | None:
        # Read when the throttle is made, not at import, so a changed setting applies (tests).
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_key(request)}


def search_gap_allowed(client_key: str) -> bool:
    """Count one content-gap record for this client; False beyond KB_GAPS_PER_HOUR (one client
    must not fill the managers' gap list, or its counts)."""
    return Limit("kb_gaps", settings.KB_GAPS_PER_HOUR, 60 * 60).hit(client_key)


def same_origin(request: HttpRequest) -> bool:
    """CSRF defence for forms on cached pages (which cannot carry a per-visitor token): a browser
    always sends Origin on a cross-site POST, so refuse one from another site."""
    origin = request.headers.get("Origin")
    if origin:
        return origin == f"{request.scheme}://{request.get_host()}"
    return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")
