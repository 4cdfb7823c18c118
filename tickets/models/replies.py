from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from kb.models import Language
from tickets.models.customers import Segment

ANY_LANGUAGE = "any"


class CannedReply(models.Model):
    """A prepared answer. Placeholders: {customer_name}, {ticket_reference}, {agent_name},
    {article:<slug>} (a link to a knowledge-base article)."""

    title = models.CharField(_("title"), max_length=120)
    shortcut = models.SlugField(
        _("shortcut"), max_length=40, blank=True, help_text=_("Type /shortcut in the reply box.")
    )
    body = models.TextField(_("body"))
    language = models.CharField(
        _("language"), max_length=10, choices=Language.choices, default=Language.EN
    )
    set_status = models.CharField(
        _("then set status to"), max_length=10, blank=True,
        choices=[("open", _("Open")), ("pending", _("Pending (waiting on customer)")), ("on_hold", _("On hold")),
                 ("solved", _("Solved"))],
    )  # fmt: skip
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["language", "title"]
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        constraints = [
            models.UniqueConstraint(
                fields=["shortcut", "language"], condition=~models.Q(shortcut=""),
                name="tickets_canned_shortcut_unique",
            )
        ]  # fmt: skip

    def __str__(self) -> str:
        return self.title


class LexiconEntry(models.Model):
    """A word or pattern that signals urgency or a negative mood, with a weight. Matches are
    summed per ticket; UrgencyRule turns the score into a priority."""

    class Kind(models.TextChoices):
        URGENCY = "urgency", _("Urgency")
        NEGATIVE = "negative", _("Negative sentiment")

    term = models.CharField(
        _("term or pattern"), max_length=200,
        help_text=_("A word or phrase (case-insensitive), or a regular expression."),
    )  # fmt: skip
    is_regex = models.BooleanField(_("regular expression"), default=False)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.URGENCY)
    language = models.CharField(
        _("language"), max_length=10, default=ANY_LANGUAGE,
        choices=[(ANY_LANGUAGE, _("Any")), *Language.choices],
    )  # fmt: skip
    weight = models.FloatField(_("weight"), default=1.0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["kind", "-weight", "term"]
        verbose_name = _("lexicon entry")
        verbose_name_plural = _("urgency and sentiment lexicon")

    def __str__(self) -> str:
        return self.term

    def clean(self) -> None:
        if self.is_regex:
            import re

            try:
                re.compile(self.term)
            except re.error as exc:
                raise ValidationError(
                    {"term": _("Invalid pattern: %(error)s") % {"error": exc}}
                ) from None


class UrgencyRule(models.Model):
    """A lexicon score at or above ``min_score`` raises the ticket's priority to ``priority``."""

    min_score = models.FloatField(_("score at least"))
    priority = models.PositiveSmallIntegerField(
        _("raise priority to"), choices=[(1, _("Urgent")), (2, _("High")), (3, _("Normal"))]
    )

    class Meta:
        ordering = ["-min_score"]
        verbose_name = _("urgency rule")
        verbose_name_plural = _("urgency rules")

    def __str__(self) -> str:
        return f"≥ {self.min_score:g} → {self.get_priority_display()}"


class EmpatheticOpening(models.Model):
    """The first line suggested to the agent when a ticket sounds urgent or upset."""

    language = models.CharField(_("language"), max_length=10, choices=Language.choices)
    segment = models.CharField(
        _("segment"), max_length=20, blank=True, choices=Segment.choices,
        help_text=_("Empty: any segment."),
    )  # fmt: skip
    text = models.TextField(_("text"))

    class Meta:
        ordering = ["language", "segment"]
        verbose_name = _("empathetic opening")
        verbose_name_plural = _("empathetic openings")

    def __str__(self) -> str:
        return self.text[:60]
