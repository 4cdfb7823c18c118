"""How often an anonymous or signed-in client may do the things that cost us something: open a
ticket without signing in, sign up, get account mails, open chat sockets, start chats. Per
client address as core.client derives it (never a header the client can set), or per user
when signed in; shared by every worker through the cache (sockets: per process)."""

from django.conf import settings
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from core.client import address_key, client_address, scope_address
from core.ratelimit import Limit, Slots

QUARTER_HOUR, HOUR = 15 * 60, 60 * 60


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


# Limits are made when used (not at import) so that changed settings apply (tests).


def signup_allowed(client_key: str) -> bool:
    """Count one sign-up; False beyond ACCOUNT_SIGNUPS_PER_HOUR for this client."""
    return Limit("signup", settings.ACCOUNT_SIGNUPS_PER_HOUR, HOUR).hit(client_key)


def account_mail_allowed(email: str, *, client_key: str, known_device: bool) -> bool:
    """Count one account mail to ``email`` asked by ``client_key``; False (nothing counted)
    when over a limit. Per (email, asker), so a stranger exhausts only their own budget; and
    per email in all, so nobody floods a mailbox from many addresses. The owner's known devices
    are spared the second, so a stranger cannot use it up for them."""
    counters = [(Limit("account_mail", settings.ACCOUNT_MAILS_PER_15_MINUTES, QUARTER_HOUR),
                 f"{email}|{client_key}")]  # fmt: skip
    if not known_device:
        limit = Limit("account_mail_email", settings.ACCOUNT_MAILS_PER_EMAIL_PER_HOUR, HOUR)
        counters.append((limit, email))
    if any(limit.exceeded(key) for limit, key in counters):
        return False
    for limit, key in counters:
        limit.hit(key)
    return True


# --- Live chat ---------------------------------------------------------------------------------

# Open customer chat sockets per address. Counted per process (core.ratelimit.Slots), so with N
# workers an address may hold up to N x CHAT_SOCKETS_PER_ADDRESS; each process, whose memory
# and file descriptors the sockets cost, is protected all the same.
CHAT_SOCKETS = Slots()


def chat_socket_open(scope: dict) -> str | None:
    """Take a socket slot for the connection's address: its key (give it back with
    chat_socket_closed), or None when the address holds CHAT_SOCKETS_PER_ADDRESS already."""
    key = address_key(scope_address(scope))
    return key if CHAT_SOCKETS.acquire(key, settings.CHAT_SOCKETS_PER_ADDRESS) else None


def chat_socket_closed(key: str) -> None:
    CHAT_SOCKETS.release(key)


def chat_start_allowed(client_key: str) -> bool:
    """Count one new chat conversation; False beyond CHAT_CONVERSATIONS_PER_HOUR for this
    client (its address, or its user when signed in)."""
    return Limit("chat_start", settings.CHAT_CONVERSATIONS_PER_HOUR, HOUR).hit(client_key)
