"""Search quality measured on a question set: what ``manage.py kb_eval`` reports."""

import json
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass

from kb.search import CONFIDENT, search
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
    cases: list[EvalCase], *, language: str | None = None, confident: float = CONFIDENT
) -> dict:
    """Top-1/top-3 accuracy over answerable questions, how many unanswerable ones got no
    confident answer, confident-and-correct share, and search latency."""
    warm_up()  # the segmenter's one-off dictionary load is start-up, not query, time
    search("warm up", language=language)
    answerable = [c for c in cases if c.expected]
    unanswerable = [c for c in cases if not c.expected]
    top1 = top3 = confident_correct = declined = 0
    latencies, misses = [], []
    for case in cases:
        started = time.perf_counter()
        result = search(case.question, language=language, limit=3)
        latencies.append((time.perf_counter() - started) * 1000)
        slugs = [hit.slug for hit in result.hits]
        is_confident = result.best_confidence >= confident
        if case.expected:
            top1 += bool(slugs) and slugs[0] == case.expected
            top3 += case.expected in slugs
            confident_correct += is_confident and slugs[0] == case.expected
            if not slugs or slugs[0] != case.expected:
                misses.append({"q": case.question, "expected": case.expected, "got": slugs[:1]})
        else:
            declined += not is_confident
            if is_confident:
                misses.append({"q": case.question, "expected": None, "got": slugs[:1]})
    share = lambda n, d: round(n / d, 4) if d else 0.0  # noqa: E731
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
        "confidence_threshold": confident,
        "misses": misses,
    }
