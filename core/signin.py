"""Sign-in attempts, limited per client address and per username, for the portal's sign-in
and the admin's alike (LOGIN_ATTEMPTS_PER_15_MINUTES failed attempts each)."""

from django.conf import settings

from core.client import address_key, client_address
from core.ratelimit import Limit

WINDOW = 15 * 60


def _limit() -> Limit:
    return Limit("signin", count=settings.LOGIN_ATTEMPTS_PER_15_MINUTES, window=WINDOW)


def _keys(request, username: str) -> list[str]:
    # Usernames counted case-insensitively: "Bob" and "bob" are the same target to a guesser.
    return [f"addr:{address_key(client_address(request))}", f"user:{username.strip().lower()}"]


def signin_blocked(request, username: str) -> bool:
    """Too many failed sign-ins from this address or for this username in the window."""
    limit = _limit()
    return any(limit.exceeded(key) for key in _keys(request, username))


def signin_failed(request, username: str) -> None:
    limit = _limit()
    for key in _keys(request, username):
        limit.hit(key)
