"""How often an anonymous or signed-in client may do the things that cost us something: open a
ticket without signing in, start a chat, sign up. Per client address as core.client derives it
(never a header the client can set), shared by every worker through the cache."""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from core.client import address_key, client_address


class GuestCreateThrottle(SimpleRateThrottle):
    """Tickets created without signing in, per client address (REST_FRAMEWORK's
    ticket_guest_create rate), for the request form and the API alike: one budget per address.
    Signed-in callers and reads are not throttled here."""

    scope = "ticket_guest_create"

    def get_rate(self) -> str | None:
        # Read when the throttle is made, not at import, so a changed setting applies (tests).
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request) -> str:
        return address_key(client_address(request))

    def get_cache_key(self, request, view) -> str | None:
        if request.method != "POST" or request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
