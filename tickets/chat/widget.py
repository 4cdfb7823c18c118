"""The chat widget's one HTTP endpoint (static/chat/widget.js; docs/chat-widget.md).

Before the widget opens its socket on the help center, it asks for the signed visitor cookie,
so all of a guest's chats (and their votes and requests) belong to one customer. Pages cannot
set it: anonymous pages are cached whole and carry nothing per visitor. Sites that embed the
widget skip this call (a third-party cookie would not reach the socket) and chat by token.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from kb.feedback import remember_visitor, visitor_key


@never_cache
@require_GET
def visitor(request: HttpRequest) -> HttpResponse:
    """204, setting the signed visitor cookie when an anonymous visitor has none."""
    _key, new_cookie = visitor_key(request)
    response = HttpResponse(status=204)
    remember_visitor(response, new_cookie)
    return response


# Mounted at /chat/visitor/ by helpcenter/urls.py (outside the language prefix).
urlpatterns = [path("", visitor, name="chat-visitor")]
