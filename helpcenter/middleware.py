"""A request that failed because the database cannot serve now (core.database: locked past the
lock timeout, timed out, unreachable) answers 503 with Retry-After instead of a 500: JSON
``{"detail": ...}`` under /api/, a short page elsewhere. Other errors are untouched."""

import logging

from django.http import HttpRequest, HttpResponse
from django.template import loader

from core.database import RETRY_AFTER_SECONDS, database_unavailable
from helpcenter.api import api_unavailable

logger = logging.getLogger(__name__)


def unavailable_response(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        response = api_unavailable(request)
    else:
        # Rendered without the request's context processors: they may read the database.
        page = loader.render_to_string("503.html", {"retry_after": RETRY_AFTER_SECONDS})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """For views; an error raised in another middleware (a session saved on the way out)
    reaches helpcenter.views.server_error, which answers the same."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not database_unavailable(exception):
            return None
        logger.warning("Database unavailable: %s %s: %s", request.method, request.path, exception)
        return unavailable_response(request)
