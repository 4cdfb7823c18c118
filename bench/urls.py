"""The project's URLs plus ``/bench/bare/``: a constant ~2 KB page through the full middleware
stack, the yardstick the pages are compared with."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from helpcenter.urls import handler404, handler500
from helpcenter.urls import urlpatterns as project_urlpatterns

BARE_BODY = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Bench</title></head><body>"
    + "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.</p>" * 24
    + "</body></html>"
).encode()


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse(BARE_BODY)


urlpatterns = [path("bench/bare/", bare, name="bench-bare"), *project_urlpatterns]

__all__ = ["handler404", "handler500", "urlpatterns"]
