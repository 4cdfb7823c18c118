"""Writes to the knowledge base. Each public function owns its transaction and its side effects
(search index, revision history, page-cache invalidation after commit)."""

import atexit
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from kb import calibration, page_cache, semantic
from kb.feedback import search_gap_allowed
from kb.models import (
    Article,
    ArticleFeedback,
    ArticleQuestion,
    Category,
    Language,
    Revision,
    SearchGap,
    Tag,
)
from kb.rendering import plain_text, render_markdown
from kb.search import text
from kb.search.index import index_article

User = AbstractBaseUser
logger = logging.getLogger(__name__)


# --- Articles ----------------------------------------------------------------------------------


def article_prepare(article: Article) -> None:
    """Derive the stored fields of an article about to be saved: rendered HTML (only when the
    Markdown changed), plain text, first-publication time."""
    previous_body = None
    if article.pk:
        previous_body = Article.objects.filter(pk=article.pk).values_list("body", flat=True).first()
    if previous_body != article.body or not article.body_html:
        article.body_html = render_markdown(article.body)
        article.body_text = plain_text(article.body_html)
    if article.status == Article.Status.PUBLISHED and article.published_at is None:
        article.published_at = timezone.now()


def article_record_change(
    *, article: Article, author: User | None, note: str = ""
) -> Revision | None:
    """After an article and its questions/tags are saved: keep a revision when the content or
    status changed, refresh its search document and its vector (when the title or questions
    changed: ~1 ms a text), invalidate public pages and schedule the chat bot's
    recalibration after commit."""
    revision = _revision_record(article=article, author=author, note=note)
    index_article(article)
    _embedding_refresh(article)
    transaction.on_commit(page_cache.invalidate)
    calibration.refresh_after_commit()
    return revision


def _embedding_refresh(article: Article) -> None:
    # Without the encoder the vector is left for `manage.py kb_embed` (or the recalibration
    # task) to fill in; saving an article never fails because of it.
    try:
        with transaction.atomic():
            semantic.embedding_refresh(article)
    except Exception:
        logger.exception("Could not refresh the vector of article %s.", article.pk)


def _revision_record(*, article: Article, author: User | None, note: str) -> Revision | None:
    questions = [q.text for q in article.questions.all()]
    latest = article.revisions.order_by("-number").first()
    snapshot = {
        "title": article.title,
        "summary": article.summary,
        "body": article.body,
        "status": article.status,
        "questions": questions,
    }
    if latest and all(getattr(latest, key) == value for key, value in snapshot.items()):
        return None  # a save that changed nothing is not history
    return Revision.objects.create(
        article=article,
        number=(latest.number + 1) if latest else 1,
        body_html=article.body_html,
        body_text=article.body_text,
        author=author if author and author.pk else None,
        note=note[:200],
        **snapshot,
    )


def _set_questions(article: Article, questions: Sequence[str]) -> None:
    article.questions.all().delete()
    ArticleQuestion.objects.bulk_create(
        ArticleQuestion(article=article, text=q.strip()[:300], position=i)
        for i, q in enumerate(questions)
        if q and q.strip()
    )


def article_tags_set(*, article: Article, tags: Iterable[str]) -> None:
    """Replace an article's tags by name, creating missing tags."""
    names = list(dict.fromkeys(t.strip()[:60] for t in tags if t and t.strip()))
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    missing = [Tag(name=name) for name in names if name not in existing]
    Tag.objects.bulk_create(missing, ignore_conflicts=True)
    article.tags.set(Tag.objects.filter(name__in=names))


@transaction.atomic
def article_save(
    *,
    article: Article,
    author: User | None = None,
    questions: Sequence[str] | None = None,
    tags: Iterable[str] | None = None,
    translation_of: Article | None = None,
    note: str = "",
) -> Article:
    """Create or update an article with its alternate questions and tags (None: unchanged)."""
    if translation_of is not None:
        article.translation_group = translation_of.translation_group
    if article.author_id is None and author is not None and author.pk:
        article.author = author
    article_prepare(article)
    article.full_clean()
    article.save()
    if questions is not None:
        _set_questions(article, questions)
    if tags is not None:
        article_tags_set(article=article, tags=tags)
    article_record_change(article=article, author=author, note=note)
    return article


@transaction.atomic
def articles_set_status(
    *, articles: Iterable[Article], status: str, author: User | None = None
) -> int:
    """Publish, unpublish (back to draft) or archive several articles, each as a normal save."""
    changed = 0
    # order_by("pk") keeps row locks in one order, so two bulk actions cannot deadlock.
    for article in Article.objects.filter(pk__in=[a.pk for a in articles]).order_by("pk"):
        if article.status == status:
            continue
        article.status = status
        article_prepare(article)
        article.save()
        article_record_change(
            article=article, author=author, note=str(Article.Status(status).label)
        )
        changed += 1
    return changed


@transaction.atomic
def revision_restore(*, revision: Revision, author: User | None = None) -> Article:
    """Bring an article's content back to an earlier revision; the restore is a new revision."""
    article = revision.article
    article.title = revision.title
    article.summary = revision.summary
    article.body = revision.body
    article_prepare(article)
    article.full_clean()
    article.save()
    _set_questions(article, revision.questions)
    article_record_change(
        article=article, author=author, note=f"Restored revision {revision.number}"
    )
    return article


@transaction.atomic
def articles_delete(*, articles: Iterable[Article]) -> int:
    """Delete articles; their search documents (and FTS rows, by trigger) go with them."""
    deleted, _ = Article.objects.filter(pk__in=[a.pk for a in articles]).delete()
    transaction.on_commit(page_cache.invalidate)
    calibration.refresh_after_commit()
    return deleted


def articles_rerender() -> int:
    """Render every article's Markdown again (after a change to the renderer or sanitizer).
    Vectors are untouched: they come from titles and questions, not bodies."""
    count = 0
    for article in Article.objects.only("id", "body").iterator(chunk_size=500):
        body_html = render_markdown(article.body)
        Article.objects.filter(pk=article.pk).update(
            body_html=body_html, body_text=plain_text(body_html)
        )
        count += 1
    transaction.on_commit(page_cache.invalidate)
    return count


# --- Categories --------------------------------------------------------------------------------


def category_record_change() -> None:
    """Category names and order appear on every public page."""
    transaction.on_commit(page_cache.invalidate)


# --- Feedback ----------------------------------------------------------------------------------


@transaction.atomic
def feedback_record(
    *, article: Article, visitor_key: str, helpful: bool, reason: str = ""
) -> tuple[ArticleFeedback, bool]:
    """One vote per visitor per article: a second vote replaces the first. Returns
    (feedback, created). The reason is kept only for "not helpful"."""
    reason = "" if helpful else " ".join((reason or "").split())[:1000]
    feedback = (
        ArticleFeedback.objects.select_for_update()
        .filter(article=article, visitor_key=visitor_key)
        .first()
    )
    if feedback is None:
        try:
            with transaction.atomic():
                feedback = ArticleFeedback.objects.create(
                    article=article, visitor_key=visitor_key, helpful=helpful, reason=reason
                )
        except IntegrityError:  # the same visitor voting twice at once: the other call won
            feedback = ArticleFeedback.objects.get(article=article, visitor_key=visitor_key)
        else:
            _count_vote(article, helpful, +1)
            return feedback, True
    if feedback.helpful != helpful:
        _count_vote(article, feedback.helpful, -1)
        _count_vote(article, helpful, +1)
    feedback.helpful = helpful
    feedback.reason = reason
    feedback.save(update_fields=["helpful", "reason", "updated_at"])
    return feedback, False


def _count_vote(article: Article, helpful: bool, delta: int) -> None:
    column = "helpful_count" if helpful else "not_helpful_count"
    Article.objects.filter(pk=article.pk).update(**{column: Greatest(F(column) + delta, 0)})


# --- Content gaps ------------------------------------------------------------------------------


def search_gap_record(
    *,
    query: str,
    language: str | None,
    result_count: int,
    best_confidence: float,
    client_key: str,
) -> None:
    """Count a search that found nothing useful (by normalized query and language), unless
    ``client_key`` (core.client: who searched) has recorded KB_GAPS_PER_HOUR already."""
    normalized = " ".join(text.normalize(query).split())[:200]
    if not normalized or not search_gap_allowed(client_key):
        return
    if language not in Language.values:
        language = Language.ZH_HANS if text.contains_cjk(normalized) else Language.EN
    now = timezone.now()
    fields = {"result_count": result_count, "best_confidence": round(best_confidence, 4)}
    gaps = SearchGap.objects.filter(query=normalized, language=language)
    if gaps.update(count=F("count") + 1, last_seen=now, resolved=False, **fields):
        return
    try:
        with transaction.atomic():
            SearchGap.objects.create(query=normalized, language=language, last_seen=now, **fields)
    except IntegrityError:  # created by a concurrent request
        gaps.update(count=F("count") + 1, last_seen=now, **fields)


# --- View counts -------------------------------------------------------------------------------
# A page view must not be a database write (pages are served from cache at thousands per
# second), so views are counted in process memory and added to the rows at most every
# KB_VIEW_FLUSH_SECONDS; a crash loses at most that window of an approximate statistic.

_views = Counter()
_views_lock = threading.Lock()
_views_flushed_at = time.monotonic()


def article_view_record(*, article_id: int) -> None:
    global _views_flushed_at
    with _views_lock:
        _views[article_id] += 1
        due = time.monotonic() - _views_flushed_at >= settings.KB_VIEW_FLUSH_SECONDS
    if due:
        article_views_flush()


def article_views_flush() -> int:
    """Write the buffered view counts; returns the number of views written."""
    global _views_flushed_at
    with _views_lock:
        pending = dict(_views)
        _views.clear()
        _views_flushed_at = time.monotonic()
    for article_id, count in pending.items():
        Article.objects.filter(pk=article_id).update(view_count=F("view_count") + count)
    return sum(pending.values())


def _flush_at_exit() -> None:
    try:
        article_views_flush()
    except Exception:  # the database may already be gone at interpreter exit
        logger.warning("Could not write buffered article view counts at exit.", exc_info=True)


atexit.register(_flush_at_exit)


# --- Import ------------------------------------------------------------------------------------


def category_for_import(name_or_slug: str) -> Category:
    """The category with this slug or name, created when missing."""
    from django.utils.text import slugify

    value = name_or_slug.strip()
    category = (
        Category.objects.filter(slug=value).first()
        or Category.objects.filter(name__iexact=value).first()
        or Category.objects.filter(name_zh_hans=value).first()
    )
    if category:
        return category
    slug = slugify(value) or f"category-{Category.objects.count() + 1}"
    category = Category.objects.create(name=value[:120], slug=slug[:120])
    category_record_change()
    return category
