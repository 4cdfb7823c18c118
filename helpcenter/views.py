import sys

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views import defaults
from django.views.decorators.cache import cache_control, never_cache

from core.database import database_status, database_unavailable
from core.request_limits import limit_hit
from helpcenter.api import (
    api_bad_request,
    api_not_found,
    api_permission_denied,
    api_server_error,
)
from helpcenter.middleware import unavailable_response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_bad_request(request, exception)
    hit = limit_hit(exception)
    if hit is None:
        # Other refusals (a bad Host header among them) get Django's plain page, which needs
        # nothing of the request.
        return defaults.bad_request(request, exception)
    # Over a size limit: the host was checked and the language chosen before the body was read
    # (core.request_limits), so the site's own page can say which limit.
    return render(request, "400.html", {"message": hit.message}, status=hit.status)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_permission_denied(request, exception)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # Errors raised outside a view (a middleware saving the session, say) come only here; the
    # handler runs while the exception is being handled.
    exc = sys.exc_info()[1]
    if exc is not None and database_unavailable(exc):
        return unavailable_response(request)
    if request.path.startswith("/api/"):
        return api_server_error(request)
    return defaults.server_error(request)


@cache_control(max_age=3600, public=True)
def robots_txt(request: HttpRequest) -> HttpResponse:
    lines = ["User-agent: *", "Disallow: /admin/", "Disallow: /api/", "Disallow: /*/search/"]
    lines.append(f"Sitemap: {settings.SITE_URL}{reverse('sitemap')}")
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain")


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness, and whether the database can take a write now (core.database.database_status):
    503 while it cannot, so load balancers and `make run` probes see a locked or lost database."""
    database = database_status()
    healthy = database == "ok"
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "database": database},
        status=200 if healthy else 503,
    )
