"""Whole-page cache for the public help center.

Anonymous visitors (no session cookie) get pages rendered once per language and URL, so a
page view costs a cache lookup instead of queries and template rendering. Keys carry a
generation number that every knowledge-base change bumps, which drops all cached pages at
once (in every process when the cache is Redis; in this process, plus expiry after
KB_PAGE_CACHE_SECONDS, with the local-memory cache). Pages for signed-in users are never cached.
"""

import functools
import hashlib
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.translation import get_language

GENERATION_KEY = "kb:page-generation"


def generation() -> int:
    value = cache.get(GENERATION_KEY)
    if value is None:
        value = 1
        cache.add(GENERATION_KEY, value, timeout=None)
    return value


def invalidate() -> None:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # not set yet (or evicted): any new value invalidates
        cache.set(GENERATION_KEY, 2, timeout=None)


# Query parameters that select a different page; any other parameter bypasses the cache, so
# arbitrary query strings cannot flood it with copies of the same page.
CACHED_PARAMETERS = {"page", "feedback"}


def _cacheable(request: HttpRequest) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and settings.KB_PAGE_CACHE_SECONDS > 0
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and "messages" not in request.COOKIES
        and set(request.GET) <= CACHED_PARAMETERS
        and all(len(values) == 1 for _, values in request.GET.lists())
    )


def _key(request: HttpRequest) -> str:
    path = hashlib.sha1(request.get_full_path().encode(), usedforsecurity=False).hexdigest()
    return f"kb:page:{generation()}:{get_language()}:{path}"


def cached_page(on_hit: Callable[[HttpRequest, dict], None] | None = None):
    """Cache a view's 200 responses for anonymous visitors.

    The view may attach ``response.cache_meta`` (a small dict, e.g. the article id); it is
    stored with the page and passed to ``on_hit`` on every hit (for view counting).
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if not _cacheable(request):
                return view(request, *args, **kwargs)
            key = _key(request)
            entry = cache.get(key)
            if entry is not None:
                content, headers, meta = entry
                response = HttpResponse(content)
                for name, value in headers.items():
                    response[name] = value
                if on_hit:
                    on_hit(request, meta)
                return response
            response = view(request, *args, **kwargs)
            if response.status_code == 200 and not response.streaming and not response.cookies:
                headers = {
                    name: response[name]
                    for name in ("Content-Type", "Content-Language", "Last-Modified", "ETag")
                    if response.has_header(name)
                }
                meta = getattr(response, "cache_meta", {})
                cache.set(key, (response.content, headers, meta), settings.KB_PAGE_CACHE_SECONDS)
            return response

        return wrapper

    return decorator
