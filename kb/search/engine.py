"""``search()``: the one search function behind the pages, the API and (later) the chat bot.

1. Segment the query (kb.search.text) and fetch candidates from the engine's full-text index.
2. Score each candidate's **confidence** in [0, 1]: how much of the query its title and
   alternate questions cover, how much the whole article covers, and how closely its best
   phrasing matches the query. The final order blends the engine's relevance with it.
3. Before ranking, a query word found in no article is corrected against the vocabulary of
   the index (typos); a corrected result carries a lower confidence.

Confidence is what the bot will use to decide between answering, offering options and handing
over; ``CONFIDENT`` and ``WEAK`` below are the defaults the pages use.
"""

import html
import re
from dataclasses import dataclass, field

from kb.models import Article
from kb.search import spelling, text
from kb.search.backends import current_backend

# Confidence at or above which the top hit is taken as the answer.
CONFIDENT = 0.5
# Below this, a search counts as a content gap (nothing useful was found).
WEAK = 0.3
MAX_QUERY_LENGTH = 200
# Fraction of the final score coming from the engine's relevance (the rest: confidence).
RELEVANCE_SHARE = 0.2
CORRECTION_PENALTY = 0.85


@dataclass(frozen=True)
class SearchHit:
    article_id: int
    slug: str
    title: str
    language: str
    summary: str
    url: str
    snippet: str  # HTML: escaped text with <mark> around matched words
    score: float
    confidence: float

    @classmethod
    def for_article(cls, article, *, snippet: str, score: float, confidence: float) -> "SearchHit":
        return cls(
            article_id=article.pk, slug=article.slug, title=article.title,
            language=article.language, summary=article.summary, url=article.get_absolute_url(),
            snippet=snippet, score=score, confidence=confidence,
        )  # fmt: skip


@dataclass
class SearchResult:
    query: str
    language: str | None
    hits: list[SearchHit] = field(default_factory=list)
    corrected_query: str | None = None

    def __iter__(self):
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    def __getitem__(self, index):
        return self.hits[index]

    @property
    def best_confidence(self) -> float:
        return self.hits[0].confidence if self.hits else 0.0

    @property
    def is_weak(self) -> bool:
        return self.best_confidence < WEAK


def _term_weight(term: str) -> float:
    if text.is_cjk(term):
        return 1.0 if len(term) >= 2 else 0.35
    if len(term) >= 4:
        return 1.0
    return 0.7 if len(term) == 3 else 0.4


class _Document:
    """A candidate's segmented fields as sets of stems, for matching in Python."""

    def __init__(self, title: str, questions: str, extras: str, body: str):
        self.phrasings = [self._stems(title)] + [
            self._stems(line) for line in questions.split("\n") if line.strip()
        ]
        self.head = set().union(*self.phrasings)
        self.all = self.head | self._stems(extras) | self._stems(body)
        self.raw_head = (title + questions).replace(" ", "")
        self.raw_all = self.raw_head + (extras + body).replace(" ", "")

    @staticmethod
    def _stems(segmented: str) -> set[str]:
        return {text.stem(t) for t in set(segmented.split())}

    def has(self, term: str, *, head_only: bool, prefix: bool) -> bool:
        stems = self.head if head_only else self.all
        if text.stem(term) in stems:
            return True
        if text.is_cjk(term):  # segmentation may differ between query and document
            return len(term) >= 2 and term in (self.raw_head if head_only else self.raw_all)
        if prefix and len(term) >= 2:
            return any(s.startswith(term) for s in stems)
        return False


def _confidence(terms: list[str], document: _Document, *, prefix: bool) -> float:
    weights = {t: _term_weight(t) for t in terms}
    total = sum(weights.values()) or 1.0
    head = sum(w for t, w in weights.items() if document.has(t, head_only=True, prefix=prefix))
    anywhere = sum(w for t, w in weights.items() if document.has(t, head_only=False, prefix=prefix))
    query_stems = {text.stem(t) for t in terms}
    best_phrasing = 0.0
    for phrasing in document.phrasings:
        content = {s for s in phrasing if not text.is_stopword(s)}
        if content:
            overlap = len(query_stems & content)
            best_phrasing = max(best_phrasing, 2 * overlap / (len(query_stems) + len(content)))
    return round(0.5 * head / total + 0.2 * anywhere / total + 0.3 * best_phrasing, 4)


def _snippet_pattern(terms: list[str]) -> re.Pattern | None:
    parts = []
    for term in sorted(set(terms), key=len, reverse=True):
        if text.is_cjk(term):
            if len(term) >= 2 or len(terms) == 1:
                parts.append(re.escape(term))
        elif len(term) >= 2:
            parts.append(r"\b" + re.escape(text.stem(term)) + r"\w*")
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def snippet(source: str, terms: list[str], *, width: int = 180) -> str:
    """A window of ``source`` around the first matched term, HTML-escaped, matches in <mark>."""
    source = " ".join(source.split())
    pattern = _snippet_pattern(terms)
    first = pattern.search(source) if pattern else None
    start = 0
    if first and first.start() > width // 3:
        start = first.start() - width // 4
        space = source.rfind(" ", 0, start)
        start = space + 1 if space != -1 and start - space < 20 else start
    window = source[start : start + width]
    pieces, position = [], 0
    for match in pattern.finditer(window) if pattern else ():
        pieces.append(html.escape(window[position : match.start()]))
        pieces.append(f"<mark>{html.escape(match.group())}</mark>")
        position = match.end()
    pieces.append(html.escape(window[position:]))
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(source) else ""
    return prefix + "".join(pieces) + suffix


@dataclass
class _Candidate:
    article: Article
    document: _Document
    score: float
    confidence: float


def _rank(terms: list[str], *, language: str | None, limit: int, prefix: bool) -> list[_Candidate]:
    """Candidates, best first."""
    pool = max(limit * 3, 20)
    candidates = current_backend().candidates(terms, language=language, limit=pool, prefix=prefix)
    if not candidates:
        return []
    articles = (
        Article.objects.filter(pk__in=[pk for pk, _ in candidates])
        .select_related("search_document")
        .only(
            "id",
            "slug",
            "title",
            "language",
            "summary",
            "body_text",
            "search_document__title",
            "search_document__questions",
            "search_document__extras",
            "search_document__body",
        )
        .in_bulk()
    )
    best_relevance = max(relevance for _, relevance in candidates) or 1.0
    ranked = []
    for pk, relevance in candidates:
        article = articles.get(pk)
        if article is None:
            continue
        doc = article.search_document
        document = _Document(doc.title, doc.questions, doc.extras, doc.body)
        confidence = _confidence(terms, document, prefix=prefix)
        share = RELEVANCE_SHARE * max(relevance, 0.0) / best_relevance
        score = share + (1 - RELEVANCE_SHARE) * confidence
        ranked.append(_Candidate(article, document, round(score, 4), confidence))
    ranked.sort(key=lambda c: (-c.score, -c.confidence, c.article.pk))
    return ranked


def search(
    query: str, *, language: str | None = None, limit: int = 10, prefix: bool = False
) -> SearchResult:
    """Published articles matching ``query``, best first, each with snippet, score and confidence.

    ``language`` restricts to articles in that language; ``prefix`` treats the last word as
    unfinished (search-as-you-type).
    """
    query = " ".join((query or "").split())[:MAX_QUERY_LENGTH]
    result = SearchResult(query=query, language=language)
    terms = text.query_terms(query)
    if not terms:
        return result
    # Correct unknown words first (an unfinished last word is not a typo yet), so that every
    # query is ranked once.
    fixes = spelling.corrections(terms[:-1] if prefix else terms)
    used_terms = [fixes.get(t, t) for t in terms]
    ranked = _rank(used_terms, language=language, limit=limit, prefix=prefix)
    if fixes:
        for candidate in ranked:
            candidate.score = round(candidate.score * CORRECTION_PENALTY, 4)
            candidate.confidence = round(candidate.confidence * CORRECTION_PENALTY, 4)
        result.corrected_query = " ".join(fixes.get(w, w) for w in query.lower().split())
    for candidate in ranked[:limit]:
        article = candidate.article
        result.hits.append(
            SearchHit.for_article(
                article,
                snippet=snippet(article.body_text or article.summary, used_terms),
                score=candidate.score,
                confidence=candidate.confidence,
            )
        )
    return result
