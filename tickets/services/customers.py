"""Customers: one person across channels."""

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from tickets.models import Customer, Event, EventKind, Ticket, Tier

logger = logging.getLogger(__name__)


def normalize_email(email: str) -> str:
    """Lowercase the whole address: mailboxes are case-insensitive in practice, and one
    person must map to one customer."""
    return (email or "").strip().lower()


def default_tier() -> Tier:
    tier = Tier.objects.filter(is_vip=False).order_by("position", "pk").first()
    return tier or Tier.objects.create(name="Standard", slug="standard", position=0)


def customer_for_email(*, email: str, name: str = "", language: str | None = None) -> Customer:
    """The customer with this email, created as a guest when new."""
    email = normalize_email(email)
    customer = Customer.objects.active().filter(email__iexact=email).select_related("tier").first()
    if customer:
        if name and not customer.name:
            customer.name = name[:150]
            customer.save(update_fields=["name"])
        return customer
    try:
        with transaction.atomic():
            return Customer.objects.create(
                email=email, name=name[:150], tier=default_tier(),
                **({"language": language} if language else {}),
            )  # fmt: skip
    except IntegrityError:  # created by a concurrent request
        return Customer.objects.active().get(email__iexact=email)


def customer_for_guest(*, email: str, name: str = "", language: str | None = None) -> Customer:
    """The customer a request from somebody who did not sign in belongs to (web form, API).

    Knowing an address proves nothing, so a guest joins the customer with that email only when
    it is itself nothing more than a guest (see _open_to_guests). Otherwise the request goes to
    the address's unverified contact: standard tier, answered only by email to that address,
    and added to the account only when its owner claims it (portal.request_claim)."""
    email = normalize_email(email)
    existing = Customer.objects.active().filter(email__iexact=email).select_related("tier").first()
    if existing is None or _open_to_guests(existing):
        return customer_for_email(email=email, name=name, language=language)
    return _unverified_contact(email=email, name=name, language=language)


def _open_to_guests(customer: Customer) -> bool:
    """A customer whose every ticket came from whoever knew the address: no login, and nothing
    staff grant a known person (a VIP lane, a dedicated agent or team)."""
    return (
        customer.user_id is None
        and not customer.tier.is_vip
        and customer.dedicated_agent_id is None
        and customer.dedicated_team_id is None
    )


def _unverified_contact(*, email: str, name: str, language: str | None) -> Customer:
    """One contact per address (a duplicate from two requests at the same moment is harmless:
    both are unverified and claimed ticket by ticket)."""
    contact = (
        Customer.objects.active()
        .filter(
            unverified_email=email, user__isnull=True, tier__is_vip=False,
            dedicated_agent__isnull=True, dedicated_team__isnull=True,
        )
        .select_related("tier")
        .order_by("pk")
        .first()
    )  # fmt: skip
    if contact:
        return contact
    return Customer.objects.create(
        unverified_email=email, name=name[:150], tier=default_tier(),
        **({"language": language} if language else {}),
    )  # fmt: skip


@transaction.atomic
def customer_for_user(*, user: AbstractBaseUser) -> Customer:
    """The signed-in user's customer. A guest with the same email becomes theirs, so tickets
    opened before signing up stay with them."""
    customer = Customer.objects.select_related("tier").filter(user=user).first()
    if customer:
        return customer
    name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    email = normalize_email(getattr(user, "email", ""))
    guest = None
    if email:
        guest = (
            Customer.objects.active()
            .select_for_update()
            .filter(email__iexact=email, user__isnull=True)
            .first()
        )
    if guest:
        guest.user = user
        guest.name = guest.name or name
        guest.save(update_fields=["user", "name"])
        return guest
    if email and Customer.objects.active().filter(email__iexact=email).exists():
        # The address belongs to another login's customer (an email changed later): a customer
        # without an email is better than two customers sharing one.
        logger.warning(
            "Customer for user %s created without email %s: already taken", user.pk, email
        )
        email = ""
    return Customer.objects.create(user=user, email=email or None, name=name, tier=default_tier())


@transaction.atomic
def customers_merge(*, source: Customer, target: Customer, actor=None) -> Customer:
    """Move everything of ``source`` to ``target`` (tickets, login, missing details); the source
    stays as a record pointing at the target."""
    if source.pk == target.pk:
        raise ValueError("A customer cannot be merged into itself.")
    source, target = (
        Customer.objects.select_for_update().get(pk=source.pk),
        Customer.objects.select_for_update().get(pk=target.pk),
    )
    moved = list(Ticket.objects.filter(customer=source).values_list("pk", flat=True))
    Ticket.objects.filter(customer=source).update(customer=target, updated_at=timezone.now())
    for field in ("name", "phone", "organization"):
        if not getattr(target, field) and getattr(source, field):
            setattr(target, field, getattr(source, field))
    if source.notes:
        target.notes = "\n\n".join(filter(None, [target.notes, source.notes]))
    if target.user_id is None and source.user_id is not None:
        target.user_id, source.user_id = source.user_id, None
    source.merged_into = target
    source.save(update_fields=["merged_into", "user"])
    target.save()
    Event.objects.bulk_create(
        Event(
            ticket_id=pk,
            kind=EventKind.MERGED,
            actor=actor,
            data={"customer_from": source.pk, "customer_to": target.pk},
        )
        for pk in moved
    )
    return target
