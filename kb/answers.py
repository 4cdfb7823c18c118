"""The chat bot's decision, in one place: answer with an article, offer a few, or hand over.

    decision = decide("I want my money back", language="en")
    decision.kind   # "answer" | "clarify" | "handoff"
    decision.hits   # answer: [the article]; clarify: up to three; handoff: []

Candidates come from the semantic ranking (kb.semantic) when the sentence encoder and the
article vectors are available, otherwise from full-text ``search()``. The score compared with
the thresholds is, for semantic ranking, the best cosine plus its lead over the runner-up
(kb.calibration.decision_score), and for full-text the engine's confidence. The thresholds
are calibrated per language and ranker from the knowledge base's own alternate questions
(kb.calibration); nothing else in the code base decides.

``suggest()`` is the ranking for search-as-you-type and the request form's suggestions:
semantic for phrases (three or more words, or two or more Chinese characters), full-text
prefix search for shorter input, as measured in docs/search.md.
"""

import logging
import re
import threading
from dataclasses import dataclass, field

from django.db import models
from django.utils.translation import gettext_lazy as _

from kb import calibration, semantic
from kb.models import AnswerCalibration, Language
from kb.search import SearchHit, search

logger = logging.getLogger(__name__)
Ranker = AnswerCalibration.Ranker
AUTO = "auto"
MAX_OPTIONS = 3
# Search-as-you-type ranks by meaning from three words, or two Chinese characters: below
# that, prefix matching finds more (docs/search.md, "Search-as-you-type").
PHRASE_WORDS = 3
PHRASE_CJK_CHARACTERS = 2
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")
_WORD_RE = re.compile(rf"[^\W_{_CJK}]+")


class Kind(models.TextChoices):
    ANSWER = "answer", _("Answer with the article")
    CLARIFY = "clarify", _("Ask which article was meant")
    HANDOFF = "handoff", _("Offer a person")


@dataclass(frozen=True)
class Thresholds:
    answer: float
    clarify: float
    method: str


@dataclass(frozen=True)
class Ranked:
    """Candidates for a question, with the score the thresholds apply to."""

    hits: list[SearchHit]
    score: float
    ranker: str  # Ranker.SEMANTIC or Ranker.FULLTEXT


@dataclass(frozen=True)
class Decision:
    kind: str  # Kind
    hits: list[SearchHit] = field(default_factory=list)
    score: float = 0.0
    ranker: str = Ranker.FULLTEXT
    language: str | None = None  # whose thresholds were applied
    thresholds: Thresholds | None = None


def rank(question: str, *, language: str | None, ranker: str = AUTO) -> Ranked:
    """The top candidates (up to three) and the decision score, by the ranker asked for:
    ``auto`` is semantic when available, else full-text; ``semantic`` raises LookupError
    when it is not available."""
    if ranker != Ranker.FULLTEXT:
        hits = semantic.rank(question, language=language, limit=MAX_OPTIONS)
        if hits is not None:
            return Ranked(
                hits, calibration.decision_score([h.score for h in hits]), Ranker.SEMANTIC
            )
        if ranker == Ranker.SEMANTIC:
            raise LookupError("Semantic ranking is unavailable (no encoder or article vectors).")
    result = search(question, language=language, limit=MAX_OPTIONS)
    return Ranked(result.hits, result.best_confidence, Ranker.FULLTEXT)


_calibrating = threading.Lock()


def thresholds(language: str, ranker: str) -> Thresholds:
    """The stored calibration; measured now if there is none yet (once: later changes are
    recalibrated by a task after commit)."""
    row = AnswerCalibration.objects.filter(language=language, ranker=ranker).first()
    if row is None:
        with _calibrating:
            row = AnswerCalibration.objects.filter(language=language, ranker=ranker).first()
            if row is None:
                row = calibration.calibrate(language, ranker)
    return Thresholds(row.answer_threshold, row.clarify_threshold, row.method)


def decide(question: str, *, language: str | None, ranker: str = AUTO) -> Decision:
    """What the bot should do with a customer's question. ``language`` is the conversation's
    (articles in that language only), or None to search every language (each topic in the
    question's language when translated; the thresholds of the best hit's language apply)."""
    try:
        ranked = rank(question, language=language, ranker=ranker)
    except LookupError:
        raise
    except Exception:  # a semantic failure must not cost the customer an answer
        logger.exception("Semantic ranking failed; deciding with full-text search.")
        ranked = rank(question, language=language, ranker=Ranker.FULLTEXT)
    if not ranked.hits:
        return Decision(Kind.HANDOFF, [], 0.0, ranked.ranker, language)
    scope = language or ranked.hits[0].language
    if scope not in Language.values:
        scope = Language.EN
    limits = thresholds(scope, ranked.ranker)
    kind = kind_of(ranked, limits)
    hits = {Kind.ANSWER: ranked.hits[:1], Kind.CLARIFY: ranked.hits[:MAX_OPTIONS]}.get(kind, [])
    return Decision(kind, hits, ranked.score, ranked.ranker, scope, limits)


def kind_of(ranked: Ranked, limits: Thresholds) -> str:
    """The rule itself (kb_eval applies it too)."""
    if ranked.hits and ranked.score >= limits.answer:
        return Kind.ANSWER
    if ranked.hits and ranked.score >= limits.clarify:
        return Kind.CLARIFY
    return Kind.HANDOFF


# --- Suggestions -------------------------------------------------------------------------------


def is_phrase(query: str) -> bool:
    """Whether ``query`` says enough for ranking by meaning to beat prefix matching."""
    words, characters = len(_WORD_RE.findall(query or "")), len(_CJK_RE.findall(query or ""))
    return words >= PHRASE_WORDS or characters >= PHRASE_CJK_CHARACTERS or words + characters >= 3


@dataclass(frozen=True)
class Suggestions:
    hits: list[SearchHit]
    ranker: str
    corrected_query: str | None = None  # full-text only: the query with typos corrected


def suggest(
    query: str, *, language: str | None, limit: int = 5, prefix: bool = False
) -> Suggestions:
    """Articles to suggest for what a customer is typing (``prefix``: the last word may be
    unfinished) or has typed: by meaning for a phrase, else by full-text search."""
    if is_phrase(query):
        try:
            hits = semantic.rank(query, language=language, limit=limit)
        except Exception:
            logger.exception("Semantic suggestions failed; using full-text search.")
            hits = None
        if hits is not None:
            return Suggestions(hits, Ranker.SEMANTIC)
    result = search(query, language=language, limit=limit, prefix=prefix)
    return Suggestions(result.hits, Ranker.FULLTEXT, result.corrected_query)
