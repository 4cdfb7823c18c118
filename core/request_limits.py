"""How big a request may be, and what a client is told when it is bigger.

Two layers cap the whole body at ``REQUEST_MAX_BYTES`` (every attachment of one message, plus
room for the text): Django's ASGI handler reads and spools the whole body before any middleware
runs, so under ASGI ``BodyLimit`` stops reading at the cap (a declared Content-Length above it is
not read at all); ``BodyLimitMiddleware`` then refuses the request, which is all WSGI needs,
since WSGI bodies are read lazily. Inside the cap, Django's own limits apply
(DATA_UPLOAD_MAX_MEMORY_SIZE for everything but files, DATA_UPLOAD_MAX_NUMBER_FIELDS,
DATA_UPLOAD_MAX_NUMBER_FILES), and each attachment is checked by tickets.attachments.

Every one of these ends in Django's 400 handler (they are SuspiciousOperations); ``limit_hit``
says which limit it was, for the JSON error under /api/ and the page elsewhere.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

# Set in the ASGI scope when the body was cut off at the cap (a chunked body has no declared
# length to check).
CUT_OFF = "helpcenter.body_cut_off"


class RequestBodyTooLarge(RequestDataTooBig):
    """The whole request is over REQUEST_MAX_BYTES."""


@dataclass(frozen=True)
class LimitHit:
    status: int
    code: str
    message: str
    limit: int


def limit_hit(exc: BaseException | None) -> LimitHit | None:
    """Which request limit ``exc`` reports, in words for the client; None for anything else."""
    if isinstance(exc, RequestBodyTooLarge):
        limit = settings.REQUEST_MAX_BYTES
        message = _("The request is larger than %(size)s, the most this site accepts.")
        return LimitHit(413, "request_too_large", message % {"size": filesizeformat(limit)}, limit)
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = _("The request's data is larger than %(size)s (attached files do not count).")
        return LimitHit(413, "data_too_large", message % {"size": filesizeformat(limit)}, limit)
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        message = _("The request has more than %(limit)d fields.") % {"limit": limit}
        return LimitHit(400, "too_many_fields", message, limit)
    if isinstance(exc, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        message = _("The request has more than %(limit)d files.") % {"limit": limit}
        return LimitHit(400, "too_many_files", message, limit)
    return None


def _declared_length(value: str | bytes | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


class BodyLimitMiddleware:
    """Refuses a request whose body is over REQUEST_MAX_BYTES before anything reads it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = _declared_length(request.META.get("CONTENT_LENGTH"))
        cut_off = getattr(request, "scope", {}).get(CUT_OFF, False)
        if cut_off or declared > settings.REQUEST_MAX_BYTES:
            raise RequestBodyTooLarge(f"Request body over {settings.REQUEST_MAX_BYTES} bytes.")
        return self.get_response(request)


Receive = Callable[[], Awaitable[dict]]


class BodyLimit:
    """ASGI middleware for HTTP: hands the application at most REQUEST_MAX_BYTES of body, and
    none of a body declared larger; a cut-off body is marked in the scope (``CUT_OFF``) for
    BodyLimitMiddleware to refuse."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope: dict, receive: Receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = settings.REQUEST_MAX_BYTES
        declared = _declared_length(dict(scope.get("headers") or []).get(b"content-length"))
        scope = {**scope, CUT_OFF: declared > limit}
        received, ended = 0, False

        async def capped_receive() -> dict:
            nonlocal received, ended
            if ended:
                # The application has its body (or all of it that it gets): the rest is dropped
                # as it arrives, and only a disconnect is passed on.
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return message
            if scope[CUT_OFF]:  # declared over the cap: not a byte of it is read
                ended = True
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    scope[CUT_OFF] = True
                    message = {"type": "http.request", "body": b"", "more_body": False}
                ended = not message.get("more_body", False)
            return message

        return await self.app(scope, capped_receive, send)
