from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Skill(models.Model):
    class Kind(models.TextChoices):
        TOPIC = "topic", _("Topic")
        LANGUAGE = "language", _("Language")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    # Topics are knowledge-base category slugs (orders, invoices...); languages are language
    # codes (en, zh-hans). Tickets are tagged with both when they are created.
    code = models.SlugField(_("code"), max_length=60)
    name = models.CharField(_("name"), max_length=80)

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("skill")
        verbose_name_plural = _("skills")
        constraints = [
            models.UniqueConstraint(fields=["kind", "code"], name="tickets_skill_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"


class RoutingMode(models.TextChoices):
    LEAST_LOADED = "least_loaded", _("Least loaded available agent")
    ROUND_ROBIN = "round_robin", _("Round robin")
    MANUAL = "manual", _("Manual (team queue)")


class Team(models.Model):
    name = models.CharField(_("name"), max_length=80, unique=True)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    skills = models.ManyToManyField(
        Skill, verbose_name=_("skills"), blank=True, related_name="teams"
    )
    routing_mode = models.CharField(
        _("routing"), max_length=20, choices=RoutingMode.choices, default=RoutingMode.LEAST_LOADED
    )
    is_vip_team = models.BooleanField(
        _("VIP team"), default=False, help_text=_("Receives VIP-lane tickets.")
    )
    is_default = models.BooleanField(
        _("default team"), default=False, help_text=_("Receives tickets no other team matches.")
    )
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("team lead"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="led_teams",
        limit_choices_to={"is_staff": True},
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class AgentStatus(models.TextChoices):
    AVAILABLE = "available", _("Available")
    AWAY = "away", _("Away")
    OFFLINE = "offline", _("Offline")


class AgentProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile"
    )
    teams = models.ManyToManyField(Team, verbose_name=_("teams"), blank=True, related_name="agents")
    skills = models.ManyToManyField(
        Skill, verbose_name=_("skills"), blank=True, related_name="agents"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=AgentStatus.choices, default=AgentStatus.AVAILABLE
    )
    capacity = models.PositiveIntegerField(
        _("capacity"), default=20, help_text=_("Most open tickets assigned at once.")
    )
    chat_capacity = models.PositiveIntegerField(
        _("chat capacity"), default=3, help_text=_("Most live chats at once.")
    )
    last_assigned_at = models.DateTimeField(_("last assigned"), null=True, blank=True)

    class Meta:
        verbose_name = _("agent profile")
        verbose_name_plural = _("agent profiles")

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()

    @property
    def is_available(self) -> bool:
        return self.status == AgentStatus.AVAILABLE and self.user.is_active
