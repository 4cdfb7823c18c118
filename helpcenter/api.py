"""API plumbing shared by every app: one error shape, pagination, JSON 400/403/404/500/503
under /api/."""

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, pagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.database import RETRY_AFTER_SECONDS, database_unavailable
from core.ratelimit import RateLimited
from core.request_limits import limit_hit

logger = logging.getLogger(__name__)
UNAVAILABLE = gettext_lazy("The service is busy. Please try again in a moment.")


class ServiceUnavailable(exceptions.APIException):
    """The database cannot serve now (core.database): 503 with Retry-After."""

    status_code = 503
    default_detail = UNAVAILABLE
    default_code = "unavailable"
    wait = RETRY_AFTER_SECONDS  # DRF's handler turns it into Retry-After


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, plus Django's ValidationError as a 400, so model rules are checked once,
    a database that cannot serve now (locked, unreachable) as a 503 with Retry-After, and a
    service's RateLimited as a 429.

    Every error body has a ``detail`` (human-readable) and, for validation errors, ``errors``
    (field -> messages). Django's SuspiciousOperations (request limits among them) are left to
    Django, which logs them as security events and answers through ``api_bad_request``.
    """
    if database_unavailable(exc):
        logger.warning("Database unavailable: %s", exc)
        exc = ServiceUnavailable()
    elif isinstance(exc, RateLimited):
        exc = exceptions.Throttled(detail=exc.messages[0])
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = (
            response.data
            if isinstance(response.data, dict)
            else {"non_field_errors": response.data}
        )
        response.data = {"detail": _("Invalid request."), "errors": errors}
    elif not isinstance(response.data, dict) or "detail" not in response.data:
        response.data = {"detail": response.data}
    return response


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100


def api_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """A request Django refused before or while parsing it. Over a size or count limit: 413
    (too large) or 400 (too many fields or files), saying which limit, with ``code`` and
    ``limit`` (bytes or a count) for programs."""
    hit = limit_hit(exception)
    if hit is None:
        return JsonResponse({"detail": _("Bad request.")}, status=400)
    return JsonResponse(
        {"detail": hit.message, "code": hit.code, "limit": hit.limit}, status=hit.status
    )


def api_permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        {"detail": _("You do not have permission to perform this action.")}, status=403
    )


def api_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"detail": _("Not found.")}, status=404)


def api_server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": _("Server error.")}, status=500)


def api_unavailable(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": str(UNAVAILABLE)}, status=503)
