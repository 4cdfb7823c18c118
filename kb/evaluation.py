"""Search quality measured on a question set: what ``manage.py kb_eval`` reports."""

import json
import statistics
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from kb import answers, calibration
from kb.search import search
from kb.search.text import warm_up


@dataclass(frozen=True)
class EvalCase:
    line: int
    question: str
    expected: str | None


def parse_cases(lines: Iterable[str]) -> tuple[list[EvalCase], list[tuple[int, str]]]:
    cases, errors = [], []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.append((number, f"not valid JSON ({exc.msg})"))
            continue
        if not isinstance(data, dict):
            errors.append((number, "each line must be a JSON object"))
            continue
        question, expected = data.get("q"), data.get("expected", "missing")
        if not isinstance(question, str) or not question.strip():
            errors.append((number, "'q' must be a non-empty string"))
        elif expected == "missing" or not (expected is None or isinstance(expected, str)):
            errors.append((number, "'expected' must be an article slug or null"))
        else:
            cases.append(EvalCase(number, question.strip(), expected or None))
    return cases, errors


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def evaluate(
    cases: list[EvalCase],
    *,
    language: str | None = None,
    ranker: str = "auto",
    confident: float | None = None,
) -> dict:
    """Top-1/top-3 accuracy over answerable questions, how many unanswerable ones got no
    confident answer, confident-and-correct share, and latency, for one ranker (``auto``:
    semantic when available, as the chat bot does). "Confident" is the chat bot's answer
    threshold for that ranker and the language (kb.calibration), unless ``confident`` is
    given; ``decisions`` counts what the bot would do (kb.answers.decide)."""
    warm_up()  # the segmenter's one-off dictionary load is start-up, not query, time
    search("warm up", language=language)
    ranker = _resolve(ranker, language)
    answers.rank("warm up", language=language, ranker=ranker)  # encoder and vectors loaded
    limits = {
        lang: calibration.fresh(lang, ranker)
        for lang in ([language] if language else calibration.published_languages())
    }
    answerable = [c for c in cases if c.expected]
    unanswerable = [c for c in cases if not c.expected]
    top1 = top3 = confident_correct = declined = 0
    decisions = {"answerable": Counter(), "unanswerable": Counter()}
    latencies, misses = [], []
    for case in cases:
        started = time.perf_counter()
        ranked = answers.rank(case.question, language=language, ranker=ranker)
        latencies.append((time.perf_counter() - started) * 1000)
        slugs = [hit.slug for hit in ranked.hits]
        row = limits.get(ranked.hits[0].language) if ranked.hits else None
        kind = answers.Kind.HANDOFF
        if row is not None:
            answer_at = row.answer_threshold if confident is None else confident
            kind = answers.kind_of(
                ranked, answers.Thresholds(answer_at, row.clarify_threshold, row.method)
            )
        is_confident = kind == answers.Kind.ANSWER
        if case.expected:
            top1 += bool(slugs) and slugs[0] == case.expected
            top3 += case.expected in slugs
            confident_correct += is_confident and slugs[0] == case.expected
            shown = slugs[:1] if kind == answers.Kind.ANSWER else slugs
            outcome = "" if kind == answers.Kind.HANDOFF else "_right"
            if outcome and case.expected not in shown:
                outcome = "_wrong"
            decisions["answerable"][f"{kind}{outcome}"] += 1
            if not slugs or slugs[0] != case.expected:
                misses.append({"q": case.question, "expected": case.expected, "got": slugs[:1]})
        else:
            declined += not is_confident
            decisions["unanswerable"][str(kind)] += 1
            if is_confident:
                misses.append({"q": case.question, "expected": None, "got": slugs[:1]})
    share = lambda n, d: round(n / d, 4) if d else 0.0  # noqa: E731
    answer_thresholds = {lang: row.answer_threshold for lang, row in limits.items()}
    distinct = set(answer_thresholds.values()) if confident is None else {confident}
    return {
        "count": len(cases),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "top1": share(top1, len(answerable)),
        "top3": share(top3, len(answerable)),
        "declined_unanswerable": share(declined, len(unanswerable)),
        "confident_correct": share(confident_correct, len(answerable)),
        "p50_ms": round(statistics.median(latencies), 2) if latencies else 0.0,
        "p95_ms": round(_percentile(latencies, 0.95), 2),
        # one number when one threshold applied to every question, else one per language
        "confidence_threshold": distinct.pop() if len(distinct) == 1 else answer_thresholds,
        "ranker": ranker,
        "thresholds": {
            lang: {
                "answer": row.answer_threshold,
                "clarify": row.clarify_threshold,
                "method": row.method,
                "figures": row.figures,
            }
            for lang, row in limits.items()
        },
        "decisions": {
            group: {
                key: share(counter[key], len(answerable if group == "answerable" else unanswerable))
                for key in sorted(counter)
            }
            for group, counter in decisions.items()
        },
        "misses": misses,
    }


def _resolve(ranker: str, language: str | None) -> str:
    """``auto`` means semantic when it can rank (encoder and vectors), as in kb.answers."""
    if ranker != "auto":
        return ranker
    try:
        answers.rank("warm up", language=language, ranker=answers.Ranker.SEMANTIC)
    except LookupError:
        return answers.Ranker.FULLTEXT
    return answers.Ranker.SEMANTIC
