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
