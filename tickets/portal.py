"""The customer side of tickets, minus the HTTP: who may see a ticket or an attachment, submitting
a request, the customer's status changes, and customer accounts (sign-up, confirmation, profile,
account mails, sign-in rate limits). Views in tickets/views.py and tickets/accounts.py are thin
wrappers around these."""

import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from tickets import notifications, services
from tickets.attachments import CheckedUpload, safe_name
from tickets.models import Attachment, Channel, Customer, Status, Ticket
from tickets.models.tickets import ACTIVE_STATUSES

User = get_user_model()

# --- Who may see what ------------------------------------------------------------------------


def _same_key(expected: str, given: str) -> bool:
    # Bytes: compare_digest refuses non-ASCII str, and a key from a URL can be anything.
    return bool(given) and secrets.compare_digest(expected.encode(), given.encode())


def guest_ticket(reference: str, key: str) -> Ticket | None:
    """The ticket behind a guest link, or None (unknown reference and wrong key alike)."""
    ticket = Ticket.objects.by_reference(reference).select_related("customer").first()
    if ticket is None or not _same_key(ticket.access_key, key):
        return None
    return ticket


def merged_target(ticket: Ticket) -> Ticket | None:
    """Where a merged ticket's customer continues: the target, if it is theirs too."""
    target = ticket.merged_into
    if target is not None and target.customer_id == ticket.customer_id:
        return target
    return None


def customer_merged_ticket(customer: Customer, reference: str) -> Ticket | None:
    """The customer's ticket that was merged into another of theirs, for a redirect."""
    ticket = (
        Ticket.objects.by_reference(reference)
        .filter(customer=customer, merged_into__isnull=False)
        .select_related("merged_into")
        .first()
    )
    return merged_target(ticket) if ticket else None


def is_support_staff(user) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm("tickets.view_ticket"))


# Larger than any primary key a database can hold: such a URL names nothing.
MAX_PK = 2**63 - 1


def attachment_for_download(*, pk: int, user, key: str = "") -> Attachment | None:
    """The attachment if ``user`` (or the holder of the guest ``key``) may download it, else
    None. Staff with tickets.view_ticket see every file; a customer sees the files of public
    messages on their own tickets; a guest those of the ticket whose access key they hold."""
    if pk > MAX_PK:
        return None
    attachment = Attachment.objects.select_related("message", "ticket").filter(pk=pk).first()
    if attachment is None:
        return None
    if user.is_authenticated and is_support_staff(user):
        return attachment
    if attachment.message is None or attachment.message.is_internal:
        return None
    ticket = attachment.ticket
    if _same_key(ticket.access_key, key):
        return attachment
    if user.is_authenticated and Customer.objects.filter(user=user, pk=ticket.customer_id).exists():
        return attachment
    return None


def content_disposition(name: str) -> str:
    """A download header whose file name cannot break out of the header or name a directory."""
    name = safe_name(name)
    fallback = "".join(
        ch if ch.isascii() and ch.isprintable() and ch not in '"\\;%' else "_" for ch in name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


# --- Requests --------------------------------------------------------------------------------


class GuestCreateThrottle(SimpleRateThrottle):
    """Tickets created without signing in, per client address (REST_FRAMEWORK's
    ticket_guest_create rate), for the request form and the API alike: one budget per address.
    Signed-in callers and reads are not throttled here."""

    scope = "ticket_guest_create"

    def get_rate(self) -> str | None:
        # Read when the throttle is made, not at import, so a changed setting applies (tests).
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view) -> str | None:
        if request.method != "POST" or request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def client_address(request) -> str:
    """The client's address as the API throttles see it (honours NUM_PROXIES)."""
    return BaseThrottle().get_ident(request) or ""


@transaction.atomic
def request_submit(
    *,
    user,
    subject: str,
    body: str,
    attachments: Sequence[CheckedUpload] = (),
    email: str = "",
    name: str = "",
    language: str | None = None,
    visitor_key: str = "",
) -> Ticket:
    """A request from the site: the signed-in user's customer, or the guest with this email.
    Suggested articles the visitor opened before submitting were not deflections after all."""
    if user is not None and user.is_authenticated:
        customer = services.customer_for_user(user=user)
        actor = user
    else:
        customer = services.customer_for_email(email=email, name=name, language=language)
        actor = None
    ticket = services.ticket_create(
        customer=customer, subject=subject, body=body, channel=Channel.WEB,
        attachments=attachments, actor=actor,
    )  # fmt: skip
    if visitor_key:
        services.suggestions_convert(visitor_key=visitor_key, ticket=ticket)
    return ticket


def suggestion_open(*, visitor_key: str, article_id: int, query: str = "") -> None:
    # Control characters (a NUL from a crafted URL) are not part of a search someone typed.
    query = "".join(ch for ch in query if ch.isprintable())
    services.suggestion_view_record(visitor_key=visitor_key, article_id=article_id, query=query)


def can_solve(ticket: Ticket) -> bool:
    return ticket.status in ACTIVE_STATUSES and not ticket.merged_into_id


def can_reopen(ticket: Ticket, *, now=None) -> bool:
    """Solved recently enough to reopen; later (or once closed) a reply opens a follow-up."""
    if ticket.status != Status.SOLVED or ticket.merged_into_id or ticket.solved_at is None:
        return False
    now = now or timezone.now()
    return now - ticket.solved_at <= timedelta(days=settings.TICKETS_REOPEN_DAYS)


def request_mark_solved(*, ticket: Ticket, actor=None) -> Ticket:
    if not can_solve(ticket):
        raise ValidationError(_("This request is already solved or closed."))
    return services.ticket_update(ticket=ticket, actor=_actor(actor), status=Status.SOLVED)


def request_reopen(*, ticket: Ticket, actor=None) -> Ticket:
    if not can_reopen(ticket):
        raise ValidationError(
            _("This request can no longer be reopened. Reply to open a follow-up.")
        )
    return services.ticket_update(ticket=ticket, actor=_actor(actor), status=Status.OPEN)


def _actor(user):
    return user if user is not None and user.is_authenticated else None


# --- Accounts --------------------------------------------------------------------------------


class EmailConfirmationTokenGenerator(PasswordResetTokenGenerator):
    """One-use links: activating the account (or changing the password) invalidates them."""

    key_salt = "tickets.portal.EmailConfirmationTokenGenerator"

    def _make_hash_value(self, user, timestamp) -> str:
        return f"{super()._make_hash_value(user, timestamp)}{user.is_active}"


confirmation_tokens = EmailConfirmationTokenGenerator()


def confirmation_token(user) -> str:
    # "." is neither in base64url nor in the generator's tokens: one URL segment, split once.
    return f"{urlsafe_base64_encode(force_bytes(user.pk))}.{confirmation_tokens.make_token(user)}"


def user_for_confirmation(token: str):
    """The inactive user a confirmation token was made for, or None if it is invalid or used."""
    uidb64, _sep, user_token = (token or "").partition(".")
    try:
        pk = force_str(urlsafe_base64_decode(uidb64))
        user = User._default_manager.filter(pk=pk, is_active=False).first()
    except (TypeError, ValueError, OverflowError, ValidationError):
        return None
    if user is None or not confirmation_tokens.check_token(user, user_token):
        return None
    return user


def _user_with_email(email: str):
    return (
        User._default_manager.filter(username__iexact=email).first()
        or User._default_manager.filter(email__iexact=email).order_by("pk").first()
    )


@transaction.atomic
def account_signup(*, email: str, password: str, name: str = "", language: str) -> None:
    """Create an inactive account and mail a confirmation link. An address that already has an
    account gets a note with a password-reset link instead, so the page the visitor sees never
    tells whether an address is registered. Signing up again before confirming replaces the
    password and sends a fresh link (the old one stops working)."""
    email = services.normalize_email(email)
    existing = _user_with_email(email)
    if existing is None:
        user = User(username=email, email=email, first_name=name[:150], is_active=False)
        user.set_password(password)
        user.save()
        _mail_confirmation(user, language)
    elif not existing.is_active and existing.last_login is None:  # signed up, never confirmed
        existing.set_password(password)
        existing.first_name = name[:150] or existing.first_name
        existing.save(update_fields=["password", "first_name"])
        _mail_confirmation(existing, language)
    else:
        make_password(password)  # the same hashing work as a new account, for the same timing
        if existing.is_active:  # a disabled account gets nothing: a reset would not help
            _mail_already_registered(existing, language)


@transaction.atomic
def account_confirm(*, user, language: str | None = None) -> Customer:
    """Activate the account and link it to its customer (a guest with the same email keeps
    their tickets)."""
    user.is_active = True
    user.save(update_fields=["is_active"])
    customer = services.customer_for_user(user=user)
    if language and language != customer.language:
        customer.language = language
        customer.save(update_fields=["language"])
    return customer


@transaction.atomic
def profile_update(*, user, name: str, language: str) -> Customer:
    customer = services.customer_for_user(user=user)
    customer.name = name[:150]
    customer.language = language
    customer.full_clean(
        exclude=["tier", "user", "dedicated_agent", "dedicated_team", "merged_into"],
        validate_unique=False, validate_constraints=False,
    )  # fmt: skip
    customer.save(update_fields=["name", "language"])
    user.first_name, user.last_name = name[:150], ""
    user.save(update_fields=["first_name", "last_name"])
    return customer


# Account mails to one address per 15 minutes, beyond which they are silently dropped (the page
# shown does not change, so nobody learns anything; a mailbox cannot be flooded).
ACCOUNT_MAILS_PER_15_MINUTES = 5
WINDOW = 15 * 60


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _count(key: str) -> int:
    cache.add(key, 0, timeout=WINDOW)  # the window starts with the first hit
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=WINDOW)
        return 1


def account_mail(*, to: str, subject: str, body: str) -> None:
    """Send one rendered account mail off the request (a task; at once when TASKS_EAGER)."""
    if _count(f"accounts:mail:{_digest(services.normalize_email(to))}") > (
        ACCOUNT_MAILS_PER_15_MINUTES
    ):
        return
    notifications.enqueue("tickets.portal.mail_send", to, subject, body)


def mail_send(to: str, subject: str, body: str) -> None:
    """The task behind account_mail."""
    EmailMessage(subject=subject, body=body, to=[to]).send()


def _render_mail(template: str, context: dict, language: str) -> tuple[str, str]:
    with translation.override(language):
        context = {"site_name": settings.SITE_NAME, "site_url": settings.SITE_URL, **context}
        subject = render_to_string(f"accounts/email/{template}_subject.txt", context)
        body = render_to_string(f"accounts/email/{template}.txt", context)
    return " ".join(subject.split()), body


def _link(name: str, language: str, **kwargs) -> str:
    with translation.override(language):
        return settings.SITE_URL + reverse(name, kwargs=kwargs)


def _mail_confirmation(user, language: str) -> None:
    link = _link("accounts:confirm", language, token=confirmation_token(user))
    subject, body = _render_mail("confirm", {"user": user, "link": link}, language)
    account_mail(to=user.email, subject=subject, body=body)


def password_reset_link(user, language: str) -> str:
    return _link(
        "accounts:password_reset_confirm", language,
        uidb64=urlsafe_base64_encode(force_bytes(user.pk)),
        token=default_token_generator.make_token(user),
    )  # fmt: skip


def _mail_already_registered(user, language: str) -> None:
    context = {
        "user": user,
        "login_link": _link("accounts:login", language),
        "reset_link": password_reset_link(user, language),
    }
    subject, body = _render_mail("already_registered", context, language)
    account_mail(to=user.email, subject=subject, body=body)


def password_reset_mail(user, language: str) -> None:
    context = {"user": user, "link": password_reset_link(user, language)}
    subject, body = _render_mail("password_reset", context, language)
    account_mail(to=user.email, subject=subject, body=body)


def normalize_login(username: str) -> str:
    """Customers sign in with their email (their username, lowercased); staff with a username."""
    username = (username or "").strip()
    return services.normalize_email(username) if "@" in username else username


def _login_keys(address: str, username: str) -> list[str]:
    # Usernames counted case-insensitively: "Bob" and "bob" are the same target to a guesser.
    return [
        f"accounts:login:addr:{_digest(address)}",
        f"accounts:login:user:{_digest(normalize_login(username).lower())}",
    ]


def login_blocked(*, address: str, username: str) -> bool:
    """Too many failed sign-ins from this address or for this username in the window."""
    limit = settings.LOGIN_ATTEMPTS_PER_15_MINUTES
    return any((cache.get(key) or 0) >= limit for key in _login_keys(address, username))


def login_failed(*, address: str, username: str) -> None:
    for key in _login_keys(address, username):
        _count(key)
