"""Customer accounts: sign-up with email confirmation, profile, the account mails (confirm,
already registered, password reset). Mails are rendered inside their task from ids, so no link
or token is ever stored in a task's arguments."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _

from core.ratelimit import RateLimited
from core.tasks import enqueue
from tickets import limits
from tickets.models import Customer
from tickets.services.customers import customer_for_user, normalize_email

User = get_user_model()


class EmailConfirmationTokenGenerator(PasswordResetTokenGenerator):
    """One-use links: activating the account (or changing the password) invalidates them."""

    key_salt = "tickets.portal.EmailConfirmationTokenGenerator"  # its old home: links stay valid

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
def account_signup(
    *, email: str, password: str, name: str = "", language: str, client_key: str
) -> None:
    """Create an inactive account and mail a confirmation link. An address that already has an
    account gets a note with a password-reset link instead, so the page the visitor sees never
    tells whether an address is registered. Signing up again before confirming replaces the
    password and sends a fresh link (the old one stops working).

    ``client_key`` (core.client.client_key) is who signs up: beyond ACCOUNT_SIGNUPS_PER_HOUR
    sign-ups of theirs, RateLimited is raised and nothing is done. Every sign-up counts, new
    address or not, so the limit tells nobody which addresses are registered."""
    if not limits.signup_allowed(client_key):
        raise RateLimited(
            _("Too many accounts were created from your network. Please try again in an hour.")
        )
    email = normalize_email(email)
    existing = _user_with_email(email)
    mail = {"language": language, "client_key": client_key}
    if existing is None:
        user = User(username=email, email=email, first_name=name[:150], is_active=False)
        user.set_password(password)
        user.save()
        account_mail_queue(user=user, kind="confirm", **mail)
    elif not existing.is_active and existing.last_login is None:  # signed up, never confirmed
        existing.set_password(password)
        existing.first_name = name[:150] or existing.first_name
        existing.save(update_fields=["password", "first_name"])
        account_mail_queue(user=existing, kind="confirm", **mail)
    else:
        make_password(password)  # the same hashing work as a new account, for the same timing
        if existing.is_active:  # a disabled account gets nothing: a reset would not help
            account_mail_queue(user=existing, kind="already_registered", **mail)


@transaction.atomic
def account_confirm(*, user, language: str | None = None) -> Customer:
    """Activate the account and link it to its customer (a guest with the same email keeps
    their tickets)."""
    user.is_active = True
    user.save(update_fields=["is_active"])
    customer = customer_for_user(user=user)
    if language and language != customer.language:
        customer.language = language
        customer.save(update_fields=["language"])
    return customer


@transaction.atomic
def profile_update(*, user, name: str, language: str) -> Customer:
    customer = customer_for_user(user=user)
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


MAIL_KINDS = ("confirm", "already_registered", "password_reset")


def account_mail_queue(
    *, user, kind: str, language: str, client_key: str, known_device: bool = False
) -> None:
    """Mail ``user`` one account mail, rendered by a task from ids: the link (a password
    reset's or an email confirmation's token) is made when the mail is sent and exists only
    in the mail, never in the task's arguments, a log or the database.

    ``client_key`` is who asked for it: their address key, or the id of a browser the account
    signed in from before (``known_device``; core.signin.device_or_address). Mails beyond the
    limits (tickets.limits.account_mail_allowed) are silently dropped: the page shown does not
    change, so nobody learns anything, and a mailbox cannot be flooded."""
    if kind not in MAIL_KINDS:
        raise ValueError(f"Unknown account mail {kind!r}")
    if not user.email or not limits.account_mail_allowed(
        normalize_email(user.email), client_key=client_key, known_device=known_device
    ):
        return
    user_id = user.pk
    transaction.on_commit(
        lambda: enqueue("tickets.tasks.account_mail_send", kind, user_id, language), robust=True
    )


def account_mail_send(*, kind: str, user_id: int, language: str) -> bool:
    """Render and send one account mail (the task behind account_mail_queue). Returns whether
    it was sent: nothing goes out for an account that no longer needs it (confirmed since, or
    disabled)."""
    user = User._default_manager.filter(pk=user_id).first()
    if user is None or not user.email:
        return False
    if kind == "confirm":
        if user.is_active:
            return False
        context = {"link": _link("accounts:confirm", language, token=confirmation_token(user))}
    elif kind == "already_registered":
        if not user.is_active:
            return False
        context = {
            "login_link": _link("accounts:login", language),
            "reset_link": password_reset_link(user, language),
        }
    elif kind == "password_reset":
        if not user.is_active or not user.has_usable_password():
            return False
        context = {"link": password_reset_link(user, language)}
    else:
        raise ValueError(f"Unknown account mail {kind!r}")
    subject, body = _render_mail(kind, {"user": user, **context}, language)
    EmailMessage(subject=subject, body=body, to=[user.email]).send()
    return True


def _render_mail(template: str, context: dict, language: str) -> tuple[str, str]:
    with translation.override(language):
        context = {"site_name": settings.SITE_NAME, "site_url": settings.SITE_URL, **context}
        subject = render_to_string(f"accounts/email/{template}_subject.txt", context)
        body = render_to_string(f"accounts/email/{template}.txt", context)
    return " ".join(subject.split()), body


def _link(name: str, language: str, **kwargs) -> str:
    with translation.override(language):
        return settings.SITE_URL + reverse(name, kwargs=kwargs)


def password_reset_link(user, language: str) -> str:
    return _link(
        "accounts:password_reset_confirm", language,
        uidb64=urlsafe_base64_encode(force_bytes(user.pk)),
        token=default_token_generator.make_token(user),
    )  # fmt: skip


def normalize_login(username: str) -> str:
    """Customers sign in with their email (their username, lowercased); staff with a username."""
    username = (username or "").strip()
    return normalize_email(username) if "@" in username else username
