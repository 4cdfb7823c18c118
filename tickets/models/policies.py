import zoneinfo
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(_("Unknown time zone: %(tz)s"), params={"tz": value}) from None


class Calendar(models.Model):
    """Business hours in a time zone, with holidays; SLA clocks run only inside them."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[validate_time_zone]
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")

    def __str__(self) -> str:
        return self.name


class BusinessHours(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name = _("business hours")
        verbose_name_plural = _("business hours")

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"

    def clean(self) -> None:
        if self.opens is not None and self.closes is not None and self.closes <= self.opens:
            raise ValidationError({"closes": _("Closing time must be after opening time.")})


class Holiday(models.Model):
    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=80, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="tickets_holiday_unique")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class SLAPolicyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


class SLAPolicy(models.Model):
    """Targets for tickets matching its conditions; the first active match in ``position`` order
    applies. Empty conditions match everything."""

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    priorities = models.JSONField(
        _("priorities"), default=list, blank=True, help_text=_("Empty: any priority.")
    )
    channels = models.JSONField(
        _("channels"), default=list, blank=True, help_text=_("Empty: any channel.")
    )
    tiers = models.ManyToManyField(
        "tickets.Tier", verbose_name=_("tiers"), blank=True, help_text=_("Empty: any tier.")
    )
    first_response = models.DurationField(_("first response target"))
    next_response = models.DurationField(
        _("next response target"), null=True, blank=True,
        help_text=_("After each customer message; empty: no target."),
    )  # fmt: skip
    resolution = models.DurationField(_("resolution target"), null=True, blank=True)
    calendar = models.ForeignKey(
        Calendar,
        verbose_name=_("business calendar"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        help_text=_("Empty: the clock runs 24/7."),
    )
    warn_at_percent = models.PositiveSmallIntegerField(
        _("warn at (percent of target)"), default=75,
        help_text=_("Warn the assignee when this share of the target has elapsed."),
    )  # fmt: skip
    escalate_to_priority = models.PositiveSmallIntegerField(
        _("on breach, raise priority to"), null=True, blank=True,
        choices=[(1, _("Urgent")), (2, _("High")), (3, _("Normal"))],
    )  # fmt: skip

    objects = SLAPolicyQuerySet.as_manager()

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from tickets.models.tickets import Channel, Priority

        errors = {}
        if self.first_response is not None and self.first_response <= timedelta(0):
            errors["first_response"] = _("The target must be positive.")
        if not isinstance(self.priorities, list) or any(
            p not in Priority.values for p in self.priorities
        ):
            errors["priorities"] = _("Use a list of priorities: %(values)s") % {
                "values": ", ".join(str(v) for v in Priority.values)
            }
        if not isinstance(self.channels, list) or any(
            c not in Channel.values for c in self.channels
        ):
            errors["channels"] = _("Use a list of channels: %(values)s") % {
                "values": ", ".join(Channel.values)
            }
        if not 1 <= self.warn_at_percent <= 99:
            errors["warn_at_percent"] = _("Between 1 and 99.")
        if errors:
            raise ValidationError(errors)

    def matches(self, *, priority: int, channel: str, tier_id: int, tier_ids: set[int]) -> bool:
        """``tier_ids``: this policy's tiers (prefetched by the caller)."""
        return (
            (not self.priorities or priority in self.priorities)
            and (not self.channels or channel in self.channels)
            and (not tier_ids or tier_id in tier_ids)
        )
