"""Reads shaped for the help-center pages and the API; each names its joins once."""

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from kb.models import Article, Category, Tag


def categories_with_counts(language: str) -> QuerySet[Category]:
    """Top-level categories that have published articles in ``language``, with the count."""
    published_here = Q(articles__status=Article.Status.PUBLISHED, articles__language=language)
    return (
        Category.objects.top_level()
        .annotate(article_count=Count("articles", filter=published_here))
        .filter(article_count__gt=0)
    )


def popular_articles(language: str, *, limit: int = 8) -> QuerySet[Article]:
    return Article.objects.published().in_language(language).popular().for_list()[:limit]


def category_articles(category: Category, language: str) -> QuerySet[Article]:
    return (
        Article.objects.published()
        .in_language(language)
        .filter(Q(category=category) | Q(category__parent=category))
        .for_list()
        .order_by("position", "title")
    )


def subcategories(category: Category, language: str) -> QuerySet[Category]:
    published_here = Q(articles__status=Article.Status.PUBLISHED, articles__language=language)
    return category.children.annotate(
        article_count=Count("articles", filter=published_here)
    ).filter(article_count__gt=0)


def article_for_page(slug: str) -> Article | None:
    return (
        Article.objects.select_related("category", "category__parent")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.only("id", "name")))
        .filter(slug=slug)
        .first()
    )


def article_translations(article: Article) -> QuerySet[Article]:
    """The same article in the other languages (published only)."""
    return (
        Article.objects.published()
        .filter(translation_group=article.translation_group)
        .exclude(pk=article.pk)
        .only("id", "slug", "title", "language")
    )


def related_articles(article: Article, *, limit: int = 5) -> list[Article]:
    """Chosen related articles first, then others from the same category; same language, one
    query."""
    chosen = Article.related.through.objects.filter(from_article_id=article.pk)
    return list(
        Article.objects.published()
        .in_language(article.language)
        .filter(Q(pk__in=chosen.values("to_article_id")) | Q(category_id=article.category_id))
        .exclude(pk=article.pk)
        .annotate(chosen=Exists(chosen.filter(to_article_id=OuterRef("pk"))))
        .for_list()
        .order_by("-chosen", "position", "title")[:limit]
    )
