"""Keeping the search documents in step with the articles."""

from collections.abc import Callable, Iterable

from django.db import connection, transaction

from kb.models import Article, SearchDocument
from kb.search import text
from kb.search.backends import ensure_index_structures

MAX_INDEXED_BODY = 100_000


def document_fields(article: Article, *, tokenizer: str | None = None) -> dict[str, str]:
    """The segmented text of an article, by index column. Needs questions, tags and category."""
    questions = [q.text for q in article.questions.all()]
    extras = [article.summary, " ".join(t.name for t in article.tags.all())]
    extras.append(article.category.localized_name(article.language))
    return {
        "title": text.index_text(article.title, tokenizer=tokenizer),
        # One question per line: confidence compares the query with each phrasing separately.
        "questions": "\n".join(text.index_text(q, tokenizer=tokenizer) for q in questions),
        "extras": text.index_text(" ".join(extras), tokenizer=tokenizer),
        # PostgreSQL refuses a tsvector over 1 MB; the first 100,000 characters say enough.
        "body": text.index_text(article.body_text[:MAX_INDEXED_BODY], tokenizer=tokenizer),
    }


def index_article(article: Article) -> None:
    SearchDocument.objects.update_or_create(article=article, defaults=document_fields(article))


def reindex(
    articles: Iterable[Article] | None = None,
    *,
    tokenizer: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Rebuild the search documents (all articles by default) in one transaction."""
    ensure_index_structures(connection)
    if articles is None:
        articles = Article.objects.select_related("category").prefetch_related("questions", "tags")
    count = 0
    with transaction.atomic():
        SearchDocument.objects.all().delete()
        batch = []
        for article in (
            articles.iterator(chunk_size=500) if hasattr(articles, "iterator") else articles
        ):
            batch.append(
                SearchDocument(article=article, **document_fields(article, tokenizer=tokenizer))
            )
            if len(batch) >= 500:
                SearchDocument.objects.bulk_create(batch)
                count += len(batch)
                batch = []
                if progress:
                    progress(count)
        SearchDocument.objects.bulk_create(batch)
        count += len(batch)
        if progress:
            progress(count)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:  # compact the FTS b-trees after a bulk load
            cursor.execute("INSERT INTO kb_search_fts(kb_search_fts) VALUES ('optimize')")
    return count
