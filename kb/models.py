import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import get_language, override
from django.utils.translation import gettext_lazy as _


class Language(models.TextChoices):
    EN = "en", "English"
    ZH_HANS = "zh-hans", "简体中文"


class CategoryQuerySet(models.QuerySet):
    def top_level(self):
        return self.filter(parent__isnull=True)


class Category(models.Model):
    name = models.CharField(_("name (English)"), max_length=120)
    name_zh_hans = models.CharField(_("name (Chinese)"), max_length=120, blank=True)
    slug = models.SlugField(_("slug"), max_length=120, unique=True)
    description = models.TextField(_("description (English)"), blank=True)
    description_zh_hans = models.TextField(_("description (Chinese)"), blank=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        help_text=_("Categories nest one level deep."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    objects = CategoryQuerySet.as_manager()

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self, language: str | None = None) -> str:
        with override(language):
            return reverse("kb:category", kwargs={"slug": self.slug})

    def clean(self) -> None:
        if self.parent_id:
            if self.parent_id == self.pk:
                raise ValidationError({"parent": _("A category cannot be its own parent.")})
            if self.parent.parent_id:
                raise ValidationError({"parent": _("Categories nest only one level deep.")})
            if self.pk and self.children.exists():
                raise ValidationError(
                    {"parent": _("This category has subcategories, so it cannot have a parent.")}
                )

    def localized_name(self, language: str) -> str:
        return (language == Language.ZH_HANS and self.name_zh_hans) or self.name

    def localized_description(self, language: str) -> str:
        return (language == Language.ZH_HANS and self.description_zh_hans) or self.description

    @property
    def display_name(self) -> str:
        """The name in the active language (templates cannot pass arguments)."""
        return self.localized_name(get_language())

    @property
    def display_description(self) -> str:
        return self.localized_description(get_language())


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=60, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name


class ArticleQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=Article.Status.PUBLISHED)

    def in_language(self, language: str):
        return self.filter(language=language)

    def popular(self):
        return self.order_by("-view_count", "-helpful_count", "title")

    def for_list(self):
        return self.select_related("category").only(
            "id",
            "slug",
            "title",
            "summary",
            "language",
            "updated_at",
            "view_count",
            "category__id",
            "category__slug",
            "category__name",
            "category__name_zh_hans",
        )


class Article(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        ARCHIVED = "archived", _("Archived")

    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True, allow_unicode=False)
    language = models.CharField(
        _("language"), max_length=10, choices=Language.choices, default=Language.EN
    )
    translation_group = models.UUIDField(
        _("translation group"),
        default=uuid.uuid4,
        db_index=True,
        help_text=_("Articles sharing this value are the same article in different languages."),
    )
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="articles"
    )
    summary = models.TextField(
        _("summary"),
        max_length=500,
        blank=True,
        help_text=_("One or two sentences that answer the question on their own."),
    )
    body = models.TextField(_("body (Markdown)"))
    # Rendered and sanitized once per revision (kb.markdown); never edited by hand.
    body_html = models.TextField(editable=False, default="")
    body_text = models.TextField(editable=False, default="")
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="articles")
    related = models.ManyToManyField(
        "self", verbose_name=_("related articles"), blank=True, symmetrical=False
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    position = models.PositiveIntegerField(_("position in category"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    published_at = models.DateTimeField(_("published"), null=True, blank=True, editable=False)
    view_count = models.PositiveIntegerField(_("views"), default=0, editable=False)
    helpful_count = models.PositiveIntegerField(_("helpful"), default=0, editable=False)
    not_helpful_count = models.PositiveIntegerField(_("not helpful"), default=0, editable=False)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["position", "title"]
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        constraints = [
            models.UniqueConstraint(
                fields=["translation_group", "language"],
                name="kb_article_one_translation_per_language",
                violation_error_message=_(
                    "This article already has a translation in that language."
                ),
            ),
        ]
        indexes = [
            models.Index(fields=["status", "language", "category"]),
            # "Popular articles" on every home page, flat however large the knowledge base.
            models.Index(
                fields=["status", "language", "-view_count"], name="kb_article_popular_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        # The article's own language is its canonical URL prefix.
        with override(self.language):
            return reverse("kb:article", kwargs={"slug": self.slug})

    @property
    def is_public(self) -> bool:
        return self.status == self.Status.PUBLISHED


class ArticleQuestion(models.Model):
    """A phrasing customers use for the question the article answers; feeds search and the bot."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="questions")
    text = models.CharField(_("question"), max_length=300)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("alternate question")
        verbose_name_plural = _("alternate questions")

    def __str__(self) -> str:
        return self.text


class Revision(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField(_("number"))
    title = models.CharField(_("title"), max_length=200)
    summary = models.TextField(_("summary"), blank=True)
    body = models.TextField(_("body (Markdown)"))
    body_html = models.TextField(default="")
    body_text = models.TextField(default="")
    questions = models.JSONField(_("alternate questions"), default=list)
    status = models.CharField(_("status"), max_length=10, choices=Article.Status.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        verbose_name = _("revision")
        verbose_name_plural = _("revisions")
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="kb_revision_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.article_id} #{self.number}"


class ArticleFeedback(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="feedback")
    # "user:<id>" for a signed-in user, else "visitor:<uuid>" from a signed cookie.
    visitor_key = models.CharField(max_length=80)
    helpful = models.BooleanField(_("helpful"))
    reason = models.TextField(_("reason"), max_length=1000, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        constraints = [
            models.UniqueConstraint(
                fields=["article", "visitor_key"], name="kb_feedback_one_vote_per_visitor"
            )
        ]

    def __str__(self) -> str:
        return f"{self.article_id}: {'+' if self.helpful else '-'}"


class SearchGap(models.Model):
    """A search whose best result was weak or empty: content the knowledge base is missing."""

    query = models.CharField(_("query"), max_length=200)
    language = models.CharField(_("language"), max_length=10, choices=Language.choices)
    count = models.PositiveIntegerField(_("times searched"), default=1)
    result_count = models.PositiveIntegerField(_("results"), default=0)
    best_confidence = models.FloatField(_("best confidence"), default=0.0)
    first_seen = models.DateTimeField(_("first seen"), auto_now_add=True)
    last_seen = models.DateTimeField(_("last seen"))
    resolved = models.BooleanField(_("resolved"), default=False)

    class Meta:
        ordering = ["-count", "-last_seen"]
        verbose_name = _("content gap")
        verbose_name_plural = _("content gaps")
        constraints = [
            models.UniqueConstraint(fields=["query", "language"], name="kb_searchgap_unique")
        ]

    def __str__(self) -> str:
        return self.query


class SearchDocument(models.Model):
    """The article's text, normalized and segmented (jieba for Chinese) for the full-text index.

    SQLite: the FTS5 table ``kb_search_fts`` mirrors these rows through triggers.
    PostgreSQL: a generated, weighted ``tsvector`` column with a GIN index.
    Both are created by migration 0002; search filters on the article's status at query time,
    so every article has a document whatever its status.
    """

    article = models.OneToOneField(
        Article, on_delete=models.CASCADE, primary_key=True, related_name="search_document"
    )
    title = models.TextField(default="")
    questions = models.TextField(default="")
    extras = models.TextField(default="")  # summary, tags and category name
    body = models.TextField(default="")
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("search document")

    def __str__(self) -> str:
        return f"search document of {self.article_id}"


class ArticleEmbedding(models.Model):
    """The article's meaning as one unit vector: the normalized mean of the sentence embeddings
    of its title and alternate questions (kb.semantic). ``text_hash`` names the model and the
    text it was computed from, so a changed question or a new model makes it stale."""

    article = models.OneToOneField(
        Article, on_delete=models.CASCADE, primary_key=True, related_name="embedding"
    )
    vector = models.BinaryField()  # float32, little-endian
    text_hash = models.CharField(max_length=64)
    # Touched on every save of the article (status included), so each process's in-memory
    # matrix notices a change with one indexed MAX query.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("article embedding")

    def __str__(self) -> str:
        return f"embedding of {self.article_id}"


class AnswerCalibration(models.Model):
    """Thresholds for the chat bot's decision (kb.answers), per language and ranker, derived by
    leave-one-out over the knowledge base's own alternate questions (kb.calibration)."""

    class Ranker(models.TextChoices):
        SEMANTIC = "semantic", _("Meaning (sentence embeddings)")
        FULLTEXT = "fulltext", _("Full-text")

    language = models.CharField(_("language"), max_length=10, choices=Language.choices)
    ranker = models.CharField(_("ranker"), max_length=10, choices=Ranker.choices)
    answer_threshold = models.FloatField(_("answer threshold"))
    clarify_threshold = models.FloatField(_("clarify threshold"))
    method = models.CharField(_("how derived"), max_length=300)
    figures = models.JSONField(_("leave-one-out figures"), default=dict)
    # Which published articles (ids and update times) the figures were computed from.
    stamp = models.CharField(max_length=40)
    computed_at = models.DateTimeField(_("computed"))

    class Meta:
        ordering = ["language", "ranker"]
        verbose_name = _("answer calibration")
        verbose_name_plural = _("answer calibrations")
        constraints = [
            models.UniqueConstraint(
                fields=["language", "ranker"], name="kb_answercalibration_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.language} {self.ranker}"
