"""Sign-in attempts, limited the same way for the portal's sign-in and the admin's.

A guesser works from one address or spreads over many; neither may lock the owner of an
account out. Failed attempts are counted:

* per address, whatever the username (LOGIN_ATTEMPTS_PER_ADDRESS_PER_15_MINUTES): spraying
  many usernames from one place;
* per (username, address) (LOGIN_ATTEMPTS_PER_15_MINUTES): one account from one place;
* per username from everywhere (LOGIN_ATTEMPTS_PER_USERNAME_PER_HOUR): one account from many
  places, slower, so that a stranger needs many addresses and attempts to lock it;
* from a browser that signed in as that username before (a *known device*: a signed cookie
  set by every successful sign-in, OWASP's device-cookie defence), per (device, username)
  only (LOGIN_ATTEMPTS_PER_15_MINUTES): what strangers do elsewhere, or at the owner's shared
  address, does not lock the owner's own browser.

A password reset by email clears the username's counters and makes that browser a known device,
so a reset always lets the owner back in. Reset requests are never refused by these limits.
"""

import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from core.client import address_key, client_address
from core.ratelimit import Limit

QUARTER_HOUR, HOUR, DAY = 15 * 60, 60 * 60, 24 * 60 * 60
DEVICE_COOKIE = "hc_device"
DEVICE_COOKIE_SALT = "core.signin.device"
DEVICE_COOKIE_MAX_AGE = 365 * DAY
DEVICE_USERNAMES = 10  # usernames one browser is known for (a shared family computer)

THROTTLED = _(
    "Too many failed sign-in attempts. Please try again later, or reset your password by email."
)


def _username(username: str) -> str:
    # Case-insensitive: "Bob" and "bob" are the same target to a guesser.
    return (username or "").strip().lower()


def _digest(username: str) -> str:
    # The device cookie names its usernames by digest: readable by nobody, enough to match.
    return hashlib.sha256(f"signin:{username}".encode()).hexdigest()[:20]


def _device(request: HttpRequest) -> dict | None:
    raw = request.COOKIES.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        value = signing.loads(raw, salt=DEVICE_COOKIE_SALT, max_age=DEVICE_COOKIE_MAX_AGE)
    except signing.BadSignature:  # forged, altered or expired
        return None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("d"), str)
        or not isinstance(value.get("u"), list)
    ):
        return None
    return value


def known_device(request: HttpRequest, username: str) -> str | None:
    """The id of this browser if it signed in as ``username`` before, else None."""
    device = _device(request)
    if device is not None and _digest(_username(username)) in device["u"]:
        return device["d"]
    return None


def remember_device(request: HttpRequest, response: HttpResponse, username: str) -> None:
    """Make (or keep) this browser a known device for ``username``."""
    device = _device(request) or {"d": secrets.token_urlsafe(16), "u": []}
    digest = _digest(_username(username))
    usernames = [d for d in device["u"] if d != digest][-(DEVICE_USERNAMES - 1) :] + [digest]
    response.set_cookie(
        DEVICE_COOKIE,
        signing.dumps({"d": device["d"], "u": usernames}, salt=DEVICE_COOKIE_SALT),
        max_age=DEVICE_COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


def device_or_address(request: HttpRequest, username: str) -> tuple[str, bool]:
    """Who asks for something on behalf of ``username`` (a reset mail): (key, is a known
    device). Limits that a stranger could exhaust for the owner spare the owner's devices."""
    device = known_device(request, username)
    if device is not None:
        return f"device:{device}", True
    return f"addr:{address_key(client_address(request))}", False


# --- Counters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Counter:
    limit: Limit
    key: str
    cleared_by_success: bool  # only the owner can sign in, so only the owner's own counters


def _epoch_key(username: str) -> str:
    return f"signin:epoch:{_digest(username)}"


def _counters(request: HttpRequest, username: str) -> list[_Counter]:
    username = _username(username)
    # Part of every username counter's key: a new epoch (a password reset) starts them all
    # afresh, at every address, without knowing which addresses tried.
    epoch = cache.get(_epoch_key(username)) or ""
    per_user = settings.LOGIN_ATTEMPTS_PER_15_MINUTES
    device = known_device(request, username)
    if device is not None:
        limit = Limit("signin_device", count=per_user, window=QUARTER_HOUR)
        return [_Counter(limit, f"{device}|{epoch}|{username}", cleared_by_success=True)]
    address = address_key(client_address(request))
    per_address = settings.LOGIN_ATTEMPTS_PER_ADDRESS_PER_15_MINUTES
    per_username = settings.LOGIN_ATTEMPTS_PER_USERNAME_PER_HOUR
    return [
        # Never cleared by a success: a guesser with an account of their own would sign in to
        # it between guesses.
        _Counter(Limit("signin_address", per_address, QUARTER_HOUR), address, False),
        _Counter(
            Limit("signin_user_address", per_user, QUARTER_HOUR),
            f"{epoch}|{username}|{address}",
            True,
        ),
        _Counter(Limit("signin_user", per_username, HOUR), f"{epoch}|{username}", False),
    ]


def signin_blocked(request: HttpRequest, username: str) -> bool:
    """Too many failed sign-ins for ``username`` by this client (see the module docstring)."""
    return any(c.limit.exceeded(c.key) for c in _counters(request, username))


def signin_failed(request: HttpRequest, username: str) -> None:
    for counter in _counters(request, username):
        counter.limit.hit(counter.key)


def signin_succeeded(request: HttpRequest, response: HttpResponse, username: str) -> None:
    """Forget this client's failures for ``username`` and remember the browser as its device."""
    for counter in _counters(request, username):
        if counter.cleared_by_success:
            counter.limit.reset(counter.key)
    remember_device(request, response, username)


def signin_counters_clear(username: str) -> None:
    """Start every counter of ``username`` afresh (after a password reset by email)."""
    # Outlives the longest window, after which the counters of the old epoch are gone anyway.
    cache.set(_epoch_key(_username(username)), secrets.token_hex(8), timeout=DAY)


# --- Forms -------------------------------------------------------------------------------------


class SigninLimitMixin:
    """For AuthenticationForm subclasses (which carry the request): while the client is blocked,
    refuse without checking the password (so no guess is tried); count every failure."""

    def clean(self):
        username = self.cleaned_data.get("username")
        if not username or not self.cleaned_data.get("password"):
            return super().clean()  # a required field is missing: nothing was tried
        if signin_blocked(self.request, username):
            raise ValidationError(THROTTLED, code="throttled")
        try:
            return super().clean()
        except ValidationError:
            signin_failed(self.request, username)
            raise


def throttled(form: Form) -> bool:
    """Whether a sign-in form was refused by the limits (answer 429)."""
    return form.is_bound and form.has_error(NON_FIELD_ERRORS, "throttled")
