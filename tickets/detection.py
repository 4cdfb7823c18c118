"""Urgency and negative-sentiment detection from an admin-edited lexicon: explainable (every
point of the score is a matched term with its weight), in English and Chinese."""

import re
from dataclasses import dataclass, field

from django.core.cache import cache

from tickets.models import EmpatheticOpening, LexiconEntry, Priority, UrgencyRule
from tickets.models.replies import ANY_LANGUAGE

CACHE_KEY = "tickets:lexicon:v1"
CACHE_SECONDS = 300


@dataclass(frozen=True)
class Match:
    term: str
    weight: float
    kind: str


@dataclass
class Detection:
    score: float = 0.0
    matches: list[Match] = field(default_factory=list)
    priority: int | None = None  # the priority the urgency rules ask for, if any

    @property
    def is_upset(self) -> bool:
        return any(m.kind == LexiconEntry.Kind.NEGATIVE for m in self.matches)

    @property
    def needs_empathy(self) -> bool:
        return bool(self.matches)

    def as_json(self) -> list[dict]:
        return [{"term": m.term, "weight": m.weight, "kind": m.kind} for m in self.matches]


def _compiled_lexicon() -> tuple[list[tuple[re.Pattern, LexiconEntry]], list[tuple[float, int]]]:
    data = cache.get(CACHE_KEY)
    if data is None:
        entries = list(
            LexiconEntry.objects.filter(is_active=True).values(
                "term", "is_regex", "kind", "language", "weight"
            )
        )
        rules = list(UrgencyRule.objects.values_list("min_score", "priority"))
        data = (entries, rules)
        cache.set(CACHE_KEY, data, CACHE_SECONDS)
    entries, rules = data
    compiled = []
    for entry in entries:
        pattern = entry["term"] if entry["is_regex"] else _literal_pattern(entry["term"])
        try:
            compiled.append((re.compile(pattern, re.IGNORECASE), entry))
        except re.error:
            continue  # validated in admin; an old bad row must not break ticket creation
    return compiled, sorted(rules, reverse=True)


def _literal_pattern(term: str) -> str:
    escaped = re.escape(term)
    # Whole words for Latin terms ("asap" not in "asapy"); Chinese has no word boundaries.
    if term[:1].isascii() and term[:1].isalnum():
        escaped = r"\b" + escaped
    if term[-1:].isascii() and term[-1:].isalnum():
        escaped += r"\b"
    return escaped


def lexicon_changed() -> None:
    cache.delete(CACHE_KEY)


def detect(text: str, *, language: str | None = None) -> Detection:
    """Score ``text``: the sum of the weights of the lexicon entries found in it (each counted
    once), and the priority the urgency rules give that score."""
    lexicon, rules = _compiled_lexicon()
    detection = Detection()
    for pattern, entry in lexicon:
        if entry["language"] not in (ANY_LANGUAGE, language) and language is not None:
            continue
        if pattern.search(text or ""):
            detection.matches.append(Match(entry["term"], entry["weight"], entry["kind"]))
            detection.score += entry["weight"]
    detection.score = round(detection.score, 3)
    for min_score, priority in rules:
        if detection.score >= min_score:
            detection.priority = priority
            break
    return detection


def raised_priority(current: int, detection: Detection) -> int:
    """Detection only ever raises a priority (a smaller number is more urgent)."""
    if detection.priority is not None and detection.priority < current:
        return detection.priority
    return current


def empathetic_opening(*, language: str, segment: str) -> str:
    """The opening line for this language and segment (a segment-specific one first)."""
    openings = EmpatheticOpening.objects.filter(language=language).order_by("-segment")
    for opening in openings:
        if opening.segment in (segment, ""):
            return opening.text
    return ""


__all__ = ["Detection", "Match", "Priority", "detect", "empathetic_opening", "raised_priority"]
