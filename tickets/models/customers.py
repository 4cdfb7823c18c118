from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from kb.models import Language


class Tier(models.Model):
    """Service tier of a customer; managers can add tiers. ``is_vip`` puts the customer's tickets
    in the VIP lane (tighter SLA policies, VIP team)."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    is_vip = models.BooleanField(_("VIP lane"), default=False)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")

    def __str__(self) -> str:
        return self.name


class Segment(models.TextChoices):
    """Who the customer is, for the tone of replies."""

    GENERAL = "general", _("General")
    SENIOR = "senior", _("Senior")
    BUSINESS = "business", _("Business")


class CustomerQuerySet(models.QuerySet):
    def active(self):
        return self.filter(merged_into__isnull=True)


class Customer(models.Model):
    """One person across channels, with or without a login. A guest who signs up later with the
    same email becomes the same customer (kept by the normalized, unique email).

    An *unverified contact* is a customer without a login whose ``unverified_email`` (not
    ``email``) is an address that belongs to a registered customer: a guest gave it without
    proving it is theirs (tickets.services.customers.customer_for_guest). Its tickets are
    answered by email to that address, and join the account only when its owner claims them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="customer",
    )
    name = models.CharField(_("name"), max_length=150, blank=True)
    email = models.EmailField(_("email"), max_length=254, null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    language = models.CharField(
        _("preferred language"), max_length=10, choices=Language.choices, default=Language.EN
    )
    tier = models.ForeignKey(
        Tier, verbose_name=_("tier"), on_delete=models.PROTECT, related_name="customers"
    )
    segment = models.CharField(
        _("segment"), max_length=20, choices=Segment.choices, default=Segment.GENERAL
    )
    organization = models.CharField(_("organization"), max_length=150, blank=True)
    # Not unique: an address a guest gave, which is a registered customer's ``email`` too.
    unverified_email = models.EmailField(
        _("unverified email"), max_length=254, null=True, blank=True, db_index=True,
        editable=False,
        help_text=_(
            "Given without signing in, and it belongs to a registered customer: replies go to "
            "this address, but the person writing may not be that customer."
        ),
    )  # fmt: skip
    # Anonymous chat visitors: the random id in their signed visitor cookie.
    visitor_key = models.CharField(
        max_length=64, null=True, blank=True, unique=True, editable=False
    )
    notes = models.TextField(_("notes"), blank=True)
    dedicated_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("dedicated agent"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="dedicated_customers",
        limit_choices_to={"is_staff": True},
    )
    dedicated_team = models.ForeignKey(
        "tickets.Team",
        verbose_name=_("dedicated team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="dedicated_customers",
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged_from",
        editable=False,
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["name", "email"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="tickets_customer_email_unique",
                condition=models.Q(email__isnull=False, merged_into__isnull=True),
                violation_error_message=_("A customer with this email already exists."),
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.contact_email or self.phone or f"#{self.pk}"

    @property
    def is_vip(self) -> bool:
        return self.tier.is_vip

    @property
    def is_unverified_contact(self) -> bool:
        return bool(self.unverified_email)

    @property
    def contact_email(self) -> str:
        """Where mail to this customer goes: their email, or an unverified contact's address."""
        return self.email or self.unverified_email or ""

    @property
    def display_name(self) -> str:
        return self.name or self.contact_email.split("@")[0] or str(_("Customer"))
