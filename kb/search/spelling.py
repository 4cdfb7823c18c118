"""Typo tolerance: correct query words against the words of the published articles.

Words found in any article (bodies included) are never corrected; others are corrected to a
word of the titles, alternate questions, summaries, tags or category names. The vocabulary is
built in Python from the search documents, so both database engines behave the same, and
rebuilt only when the documents change (checked with one indexed MAX query). Candidates come
from a symmetric-delete index (SymSpell's idea): a word and every one-letter deletion of it.
"""

import threading
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Max

from kb import page_cache
from kb.models import Article, SearchDocument
from kb.search import text

MIN_WORD_LENGTH = 3


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance (Levenshtein plus adjacent transpositions)."""
    if a == b:
        return 0
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def max_distance(word: str) -> int:
    return 1 if len(word) <= 4 else 2


@dataclass
class Vocabulary:
    frequency: Counter = field(default_factory=Counter)  # correction targets: head words
    by_delete: dict[str, set[str]] = field(default_factory=dict)
    known_stems: set[str] = field(default_factory=set)  # every word of every article

    @classmethod
    def build(cls, texts, body_texts=()) -> "Vocabulary":
        vocabulary = cls()
        for chunk in texts:
            for token in (chunk or "").split():
                if len(token) >= MIN_WORD_LENGTH and token.isascii() and token.isalpha():
                    vocabulary.frequency[token] += 1
        vocabulary.known_stems = {text.stem(word) for word in vocabulary.frequency}
        for chunk in body_texts:
            vocabulary.known_stems.update(text.stem(t) for t in set((chunk or "").split()))
        for word in vocabulary.frequency:
            for key in _deletes(word) | {word}:
                vocabulary.by_delete.setdefault(key, set()).add(word)
        return vocabulary

    def __contains__(self, word: str) -> bool:
        """Whether some article has this word (in any form the index stems alike)."""
        return word in self.frequency or text.stem(word) in self.known_stems

    def correct(self, word: str) -> str | None:
        """The closest known word within the allowed distance (most frequent on a tie)."""
        if len(word) < MIN_WORD_LENGTH or not word.isascii() or word in self:
            return None
        candidates: set[str] = set()
        for key in _deletes(word) | {word}:
            candidates |= self.by_delete.get(key, set())
        limit = max_distance(word)
        scored = [
            (distance, -self.frequency[candidate], candidate)
            for candidate in candidates
            if (distance := edit_distance(word, candidate)) <= limit
        ]
        return min(scored)[2] if scored else None


_lock = threading.Lock()
_cached: dict = {"stamp": None, "vocabulary": None}


def current_vocabulary() -> Vocabulary:
    # Fresh when no document changed (latest update time, from its index) and nothing was
    # deleted (deletes bump the page-cache generation); a COUNT(*) would scan every document.
    latest = SearchDocument.objects.aggregate(latest=Max("updated_at"))["latest"]
    stamp = (latest, page_cache.generation())
    if _cached["stamp"] != stamp:
        published = SearchDocument.objects.filter(article__status=Article.Status.PUBLISHED)
        rows = published.values_list("title", "questions", "extras")
        vocabulary = Vocabulary.build(
            (chunk for row in rows.iterator(chunk_size=2000) for chunk in row),
            published.values_list("body", flat=True).iterator(chunk_size=2000),
        )
        with _lock:
            _cached.update(stamp=stamp, vocabulary=vocabulary)
    return _cached["vocabulary"]


def corrections(terms: list[str]) -> dict[str, str]:
    """Map each misspelt term (English, not in the vocabulary) to its correction."""
    candidates = [t for t in terms if not text.is_cjk(t) and len(t) >= MIN_WORD_LENGTH]
    if not candidates:
        return {}
    vocabulary = current_vocabulary()
    result = {}
    for term in candidates:
        if (fixed := vocabulary.correct(term)) and fixed != term:
            result[term] = fixed
    return result
