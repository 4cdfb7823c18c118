"""The chat bot's thresholds, derived from each knowledge base's own alternate questions.

Leave-one-out: each alternate question of a published article is asked as if a customer had
typed it, against the knowledge base of its language with that question taken out of its
article (semantic: the article's vector recomputed without it; full-text: the question removed
from the article's search document, inside a transaction that is rolled back). Each trial
records the decision score (kb.answers), whether the article came first, and whether it was in
the top three. A second trial per question hides the whole article: a question the knowledge
base cannot answer, to report how often such questions would get an answer.

- **answer threshold**: the lowest score at which answering is right at least 90 % of the time
  (precision over every trial scoring at or above it), but not below the median score of the
  questions whose article is hidden (else a knowledge base of easy questions would answer
  nearly anything, including what it does not cover);
- **clarify threshold**: the lowest score from which the right article is among the top
  three at least 80 % of the time *locally* (a sliding window of neighbouring trials, from
  there up to the answer threshold); below it the bot hands over to a person. A cumulative
  rate would not do: the many easy trials above hide a poor band.

With fewer than ``MIN_TRIALS`` questions in a language the defaults below are used (and the
row says so). Calibrations are stored per language and ranker (``AnswerCalibration``) with a
stamp of the articles they saw, and refreshed by a task after the knowledge base changes.
"""

import hashlib
import logging
import random
from dataclasses import dataclass

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.tasks import enqueue
from kb import semantic
from kb.models import AnswerCalibration, Article, Language, SearchDocument
from kb.search import CONFIDENT, WEAK, search, text

logger = logging.getLogger(__name__)
Ranker = AnswerCalibration.Ranker

ANSWER_PRECISION = 0.90
CLARIFY_TOP3 = 0.80
MIN_TRIALS = 20
# Trials per language and ranker; a larger knowledge base is sampled (deterministically).
MAX_TRIALS = 400
# When a language has too few alternate questions to measure: (answer, clarify). Semantic:
# the demo knowledge base's calibration (docs/search.md); full-text: kb.search's CONFIDENT
# and WEAK, chosen on the demo's question set.
DEFAULTS = {
    (Ranker.SEMANTIC, Language.EN): (0.73, 0.59),
    (Ranker.SEMANTIC, Language.ZH_HANS): (0.80, 0.61),
    (Ranker.FULLTEXT, Language.EN): (CONFIDENT, WEAK),
    (Ranker.FULLTEXT, Language.ZH_HANS): (CONFIDENT, WEAK),
}


@dataclass(frozen=True)
class Trial:
    score: float
    top1: bool
    top3: bool


def decision_score(cosines: np.ndarray | list[float]) -> float:
    """Semantic decision score: the best cosine plus its lead over the runner-up. A lone
    clear winner scores higher than the best of several close candidates."""
    best = float(cosines[0]) if len(cosines) else 0.0
    runner_up = float(cosines[1]) if len(cosines) > 1 else 0.0
    return round(2 * best - runner_up, 4)


# --- Trials ------------------------------------------------------------------------------------


def _questions(language: str, only: set[int] | None = None) -> list[tuple[Article, list[str]]]:
    articles = Article.objects.published().in_language(language).prefetch_related("questions")
    return [
        (article, [q.text for q in article.questions.all()])
        for article in articles.only("id", "slug", "title").order_by("pk")
        if only is None or article.pk in only
    ]


def _sample(articles: list[tuple[Article, list[str]]]) -> list[tuple[Article, int]]:
    pairs = [(article, i) for article, questions in articles for i in range(len(questions))]
    if len(pairs) > MAX_TRIALS:
        sample = random.Random(0).sample(pairs, MAX_TRIALS)  # noqa: S311 - reproducible, not secret
        pairs = sorted(sample, key=lambda p: (p[0].pk, p[1]))
    return pairs


def semantic_trials(language: str) -> tuple[list[Trial], list[float]] | None:
    """(leave-one-out trials, scores of the same questions with their article hidden); None
    without an encoder or article vectors."""
    if not semantic.available():
        return None
    matrix = semantic.load_matrices(language).get(language)
    if matrix is None or not matrix.usable:
        return None
    pairs = _sample(_questions(language, only=set(matrix.ids.tolist())))
    sampled = {article.pk: article for article, _ in pairs}
    texts = {pk: semantic.phrasings(article) for pk, article in sampled.items()}
    flat = semantic.encode([t for pk in sampled for t in texts[pk]])
    if flat is None:
        return None
    embeddings, start = {}, 0
    for pk in sampled:
        embeddings[pk] = flat[start : start + len(texts[pk])]
        start += len(texts[pk])
    trials, missing = [], []
    for article, index in pairs:
        phrasing = 1 + index  # row 0 is the title
        own = embeddings[article.pk]
        if phrasing >= len(own):  # a blank question
            continue
        question = own[phrasing]
        cosines = matrix.vectors @ question
        row = matrix.row_of(article.pk)
        cosines[row] = float(semantic.mean_vector(np.delete(own, phrasing, axis=0)) @ question)
        order = np.argsort(-cosines, kind="stable")
        position = int(np.flatnonzero(order == row)[0])
        trials.append(Trial(decision_score(cosines[order[:2]]), position == 0, position < 3))
        others = order[order != row]
        missing.append(decision_score(cosines[others[:2]]))
    return trials, missing


class _Rollback(Exception):
    pass


def fulltext_trials(language: str) -> tuple[list[Trial], list[float]]:
    """The same trials with kb.search.search() and its confidence. Each question is taken out
    of its article's search document (and then the article unpublished) inside a transaction
    that is rolled back, so the real index and ranking are measured."""
    articles = _questions(language)
    pairs = _sample(articles)
    questions = {article.pk: texts for article, texts in articles}
    trials, missing = [], []
    for article, index in pairs:
        texts = questions[article.pk]
        asked = texts[index]
        rest = "\n".join(text.index_text(q) for i, q in enumerate(texts) if i != index)
        try:
            with transaction.atomic():
                SearchDocument.objects.filter(pk=article.pk).update(questions=rest)
                result = search(asked, language=language, limit=3)
                Article.objects.filter(pk=article.pk).update(status=Article.Status.DRAFT)
                hidden = search(asked, language=language, limit=1)
                raise _Rollback
        except _Rollback:
            pass
        slugs = [hit.slug for hit in result]
        trials.append(
            Trial(result.best_confidence, slugs[:1] == [article.slug], article.slug in slugs)
        )
        missing.append(hidden.best_confidence)
    return trials, missing


# --- Thresholds --------------------------------------------------------------------------------


def answer_threshold(trials: list[Trial], precision: float = ANSWER_PRECISION) -> float | None:
    """The lowest score s such that trials scoring >= s have their top hit right at least
    ``precision`` of the time; None when even the best-scoring trials miss it."""
    ordered = sorted(trials, key=lambda t: -t.score)
    right, best = 0, None
    for count, trial in enumerate(ordered, start=1):
        right += trial.top1
        # ties: a threshold admits every trial with the same score
        if count < len(ordered) and ordered[count].score == trial.score:
            continue
        if right / count >= precision:
            best = trial.score
    return best


def clarify_threshold(trials: list[Trial], ceiling: float, rate: float = CLARIFY_TOP3) -> float:
    """The lowest score from which every window of neighbouring trials (by score, up to
    ``ceiling``) has the right article in its top three at least ``rate`` of the time."""
    below = sorted((t for t in trials if t.score < ceiling), key=lambda t: t.score)
    if not below:
        return ceiling
    window = max(10, len(trials) // 10)
    if len(below) < window:
        window = len(below)
    hits = np.cumsum([0] + [t.top3 for t in below])
    threshold_index = 0
    for start in range(len(below) - window + 1):
        if (hits[start + window] - hits[start]) / window < rate:
            threshold_index = start + 1  # this window fails: the band starts above its start
    if threshold_index >= len(below):
        return ceiling
    return below[threshold_index].score


def derive(ranker: str, language: str, trials: list[Trial], missing: list[float]) -> dict:
    """Thresholds and figures from a set of trials (see the module docstring)."""
    default_answer, default_clarify = DEFAULTS[ranker, language]
    if len(trials) < MIN_TRIALS:
        return {
            "answer_threshold": default_answer,
            "clarify_threshold": default_clarify,
            "method": (
                f"default: {len(trials)} alternate question(s) in this language, "
                f"fewer than the {MIN_TRIALS} needed to measure"
            ),
            "figures": {"trials": len(trials)},
        }
    answer = answer_threshold(trials)
    method = (
        f"leave-one-out over {len(trials)} alternate questions: answer at the lowest score "
        f"with >= {ANSWER_PRECISION:.0%} of top hits right; clarify from the lowest score with "
        f">= {CLARIFY_TOP3:.0%} of right articles in the top 3 (window of "
        f"{max(10, len(trials) // 10)})"
    )
    if answer is None:  # never precise enough: answer only above anything measured
        answer = round(max(t.score for t in trials) + 0.01, 4)
        method += f"; {ANSWER_PRECISION:.0%} never reached, so the bot does not answer"
    # Where half the questions about a missing article score as high, answering is a coin
    # toss for them: on a knowledge base whose own questions are all easy, the precision
    # rule alone would answer almost anything.
    floor = float(np.median(missing)) if missing else 0.0
    if floor > answer:
        answer = floor
        method += "; raised to the median score of questions whose article is missing"
    clarify = min(clarify_threshold(trials, answer), answer)
    answered = [t for t in trials if t.score >= answer]
    band = [t for t in trials if clarify <= t.score < answer]
    share = lambda n, d: round(n / d, 4) if d else 0.0  # noqa: E731
    figures = {
        "trials": len(trials),
        "top1": share(sum(t.top1 for t in trials), len(trials)),
        "top3": share(sum(t.top3 for t in trials), len(trials)),
        "answered": share(len(answered), len(trials)),
        "answered_right": share(sum(t.top1 for t in answered), len(answered)),
        "clarified": share(len(band), len(trials)),
        "clarified_with_right_in_top3": share(sum(t.top3 for t in band), len(band)),
        "handed_off": share(len(trials) - len(answered) - len(band), len(trials)),
        # the same questions with their article hidden (a question the KB cannot answer)
        "missing_article_answered": share(sum(s >= answer for s in missing), len(missing)),
        "missing_article_handed_off": share(sum(s < clarify for s in missing), len(missing)),
    }
    return {
        "answer_threshold": round(answer, 4),
        "clarify_threshold": round(clarify, 4),
        "method": method[:300],
        "figures": figures,
    }


# --- Stored calibrations -----------------------------------------------------------------------


def stamp(language: str) -> str:
    """Which published articles exist in the language, and when each last changed."""
    digest = hashlib.sha1(usedforsecurity=False)
    rows = Article.objects.published().in_language(language).order_by("pk")
    for pk, updated_at in rows.values_list("pk", "updated_at").iterator(chunk_size=2000):
        digest.update(f"{pk}:{updated_at.isoformat()};".encode())
    return digest.hexdigest()


def calibrate(language: str, ranker: str) -> AnswerCalibration:
    """Measure and store the thresholds of one language and ranker. A semantic calibration
    without an encoder or vectors is stored with the defaults, and says so."""
    current = stamp(language)
    measured = semantic_trials(language) if ranker == Ranker.SEMANTIC else None
    if ranker == Ranker.FULLTEXT:
        measured = fulltext_trials(language)
    if measured is None:
        values = derive(ranker, language, [], [])
        values["method"] = "default: the sentence encoder or the article vectors are unavailable"
        current = ""  # stale at once: measured by the next refresh that has them
    else:
        values = derive(ranker, language, *measured)
    values.update(stamp=current, computed_at=timezone.now())
    try:
        with transaction.atomic():
            calibration, _ = AnswerCalibration.objects.update_or_create(
                language=language, ranker=ranker, defaults=values
            )
    except IntegrityError:  # calibrated at the same moment by another process
        calibration = AnswerCalibration.objects.get(language=language, ranker=ranker)
    logger.info(
        "Calibrated %s/%s: answer >= %s, clarify >= %s (%s)",
        language, ranker, calibration.answer_threshold, calibration.clarify_threshold,
        calibration.method,
    )  # fmt: skip
    return calibration


def published_languages() -> list[str]:
    published = set(Article.objects.published().values_list("language", flat=True).distinct())
    return [language for language in Language.values if language in published]


def calibrations_refresh(*, force: bool = False) -> list[AnswerCalibration]:
    """Fill in missing and stale article vectors, then recalibrate every language whose
    articles changed: the ranker in use (semantic when the encoder loads), and any other
    ranker already calibrated (kept fresh once someone asked for it)."""
    if semantic.available():
        semantic.embeddings_refresh()
    in_use = Ranker.SEMANTIC if semantic.available() else Ranker.FULLTEXT
    stored = {(c.language, c.ranker): c for c in AnswerCalibration.objects.all()}
    done = []
    for language in published_languages():
        current = None
        for ranker in Ranker.values:
            existing = stored.get((language, ranker))
            if ranker != in_use and existing is None:
                continue
            current = current or stamp(language)
            if force or existing is None or existing.stamp != current:
                done.append(calibrate(language, ranker))
    return done


def calibration_refresh_task() -> None:
    """django-q2 task, enqueued after a knowledge-base change (``refresh_after_commit``)."""
    calibrations_refresh()


def refresh_after_commit() -> None:
    """Recalibrate once the current transaction commits: one task per transaction, however
    many articles it saved (an import saves hundreds). The task does nothing when no
    language changed since the last calibration."""
    connection = transaction.get_connection()
    if any(entry[1] is _enqueue_refresh for entry in connection.run_on_commit):
        return
    transaction.on_commit(_enqueue_refresh)


def _enqueue_refresh() -> None:
    # Never raises: a lost refresh only leaves slightly older thresholds until the next change.
    enqueue("kb.calibration.calibration_refresh_task")


def fresh(language: str, ranker: str) -> AnswerCalibration:
    """The calibration of the knowledge base as it is now (measured again if it changed)."""
    row = AnswerCalibration.objects.filter(language=language, ranker=ranker).first()
    if row is None or row.stamp != stamp(language):
        row = calibrate(language, ranker)
    return row
