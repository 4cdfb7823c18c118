"""Import and export of articles as JSON Lines (one article per line); see docs/kb-import.md.

Import is all or nothing: every line is checked, every bad line is reported with its number,
and the articles are written in one transaction only when no line is bad.
"""

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from kb import services
from kb.models import Article, Language

SLUG_RE = re.compile(r"^[-a-z0-9_]{1,200}$")
LANGUAGE_ALIASES = {
    "en": Language.EN, "en-us": Language.EN, "en-gb": Language.EN, "english": Language.EN,
    "zh": Language.ZH_HANS, "zh-hans": Language.ZH_HANS, "zh-cn": Language.ZH_HANS,
    "zh_hans": Language.ZH_HANS, "zh-sg": Language.ZH_HANS, "chinese": Language.ZH_HANS,
}  # fmt: skip
STATUS_VALUES = {s.value for s in Article.Status}


@dataclass
class ArticleRecord:
    line: int
    slug: str
    title: str
    language: str
    category: str
    body: str
    summary: str = ""
    questions: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    status: str = Article.Status.PUBLISHED
    translation_of: str | None = None


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class ImportFailed(Exception):
    def __init__(self, report: ImportReport):
        super().__init__(f"{len(report.errors)} bad line(s)")
        self.report = report


def _text(data: dict, key: str, *, required: bool, max_length: int | None = None) -> str:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise ValueError(f"'{key}' is required")
        return ""
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be a string")
    value = value.strip()
    if required and not value:
        raise ValueError(f"'{key}' must not be blank")
    if max_length and len(value) > max_length:
        raise ValueError(f"'{key}' is longer than {max_length} characters")
    return value


def _string_list(data: dict, key: str, *, max_length: int) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"'{key}' must be a list of strings")
    items = [v.strip() for v in value if v.strip()]
    if too_long := [v for v in items if len(v) > max_length]:
        raise ValueError(
            f"an item of '{key}' is longer than {max_length} characters: {too_long[0][:40]!r}"
        )
    return items


def parse_line(number: int, raw: str) -> ArticleRecord:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object")
    slug = _text(data, "slug", required=True)
    if not SLUG_RE.match(slug):
        raise ValueError(f"'slug' must be lowercase letters, digits and hyphens: {slug[:60]!r}")
    language_raw = _text(data, "language", required=True).lower()
    if language_raw not in LANGUAGE_ALIASES:
        raise ValueError(f"unknown 'language' {language_raw!r} (use {', '.join(Language.values)})")
    status = _text(data, "status", required=False) or Article.Status.PUBLISHED
    if status not in STATUS_VALUES:
        raise ValueError(f"unknown 'status' {status!r} (use {', '.join(sorted(STATUS_VALUES))})")
    translation_of = _text(data, "translation_of", required=False) or None
    if translation_of and not SLUG_RE.match(translation_of):
        raise ValueError("'translation_of' must be an article slug")
    if translation_of == slug:
        raise ValueError("an article cannot be a translation of itself")
    return ArticleRecord(
        line=number,
        slug=slug,
        title=_text(data, "title", required=True, max_length=200),
        language=LANGUAGE_ALIASES[language_raw],
        category=_text(data, "category", required=True, max_length=120),
        body=_text(data, "body", required=True, max_length=200_000),
        summary=_text(data, "summary", required=False, max_length=500),
        questions=_string_list(data, "questions", max_length=300),
        tags=_string_list(data, "tags", max_length=60),
        status=status,
        translation_of=translation_of,
    )


def parse_lines(lines: Iterable[str]) -> tuple[list[ArticleRecord], list[tuple[int, str]]]:
    records, errors, seen = [], [], {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = parse_line(number, raw)
        except ValueError as exc:
            errors.append((number, str(exc)))
            continue
        if record.slug in seen:
            errors.append(
                (number, f"slug {record.slug!r} already appears on line {seen[record.slug]}")
            )
            continue
        seen[record.slug] = number
        records.append(record)
    return records, errors


def _unchanged(article: Article, record: ArticleRecord, category_id: int) -> bool:
    return (
        article.title == record.title
        and article.language == record.language
        and article.category_id == category_id
        and article.body == record.body
        and article.summary == record.summary
        and article.status == record.status
        and [q.text for q in article.questions.all()] == record.questions
        and sorted(t.name for t in article.tags.all()) == sorted(set(record.tags))
    )


def import_records(
    records: list[ArticleRecord],
    *,
    author=None,
    progress: Callable[[int], None] | None = None,
    report: ImportReport | None = None,
) -> ImportReport:
    """Create or update (by slug) every record, all in one transaction; raise ImportFailed with
    the report, and write nothing, if any record is rejected."""
    report = report or ImportReport()
    slugs = {r.slug for r in records} | {r.translation_of for r in records if r.translation_of}
    existing = {
        a.slug: a
        for a in Article.objects.filter(slug__in=slugs).prefetch_related("questions", "tags")
    }
    # Originals before translations, so a translation can link to an article of the same file.
    ordered = sorted(records, key=lambda r: (r.translation_of is not None, r.line))
    with transaction.atomic():
        for done, record in enumerate(ordered, start=1):
            try:
                with transaction.atomic():
                    _import_one(record, existing, author, report)
            except ValidationError as exc:
                report.errors.append((record.line, "; ".join(exc.messages)))
            if progress:
                progress(done)
        if report.errors:
            report.errors.sort()
            raise ImportFailed(report)
    return report


def _import_one(record: ArticleRecord, existing: dict[str, Article], author, report: ImportReport):
    category = services.category_for_import(record.category)
    article = existing.get(record.slug)
    translation_of = None
    if record.translation_of:
        translation_of = existing.get(record.translation_of)
        if translation_of is None:
            raise ValidationError(
                f"'translation_of' names an unknown article {record.translation_of!r}"
            )
    if (
        article is not None
        and _unchanged(article, record, category.pk)
        and (
            translation_of is None or translation_of.translation_group == article.translation_group
        )
    ):
        report.unchanged += 1
        return
    created = article is None
    article = article or Article(slug=record.slug)
    article.title = record.title
    article.language = record.language
    article.category = category
    article.body = record.body
    article.summary = record.summary
    article.status = record.status
    services.article_save(
        article=article,
        author=author,
        questions=record.questions,
        tags=record.tags,
        translation_of=translation_of,
        note="Imported",
    )
    existing[record.slug] = article
    if created:
        report.created += 1
    else:
        report.updated += 1


def export_records(articles: Iterable[Article]) -> Iterator[dict]:
    """Articles as import records; the first article of a translation group is the original."""
    originals: dict = {}
    for article in articles:
        record = {
            "slug": article.slug,
            "title": article.title,
            "language": article.language,
            "category": article.category.slug,
            "summary": article.summary,
            "body": article.body,
            "questions": [q.text for q in article.questions.all()],
            "tags": [t.name for t in article.tags.all()],
            "status": article.status,
        }
        original = originals.setdefault(article.translation_group, article.slug)
        if original != article.slug:
            record["translation_of"] = original
        yield record
