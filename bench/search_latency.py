"""Benchmark 1: latency of kb.search.search() at 1,000 and 10,000 published articles.

    .venv/bin/python -m bench.search_latency            # sizes from BENCH_SEARCH_SIZES (1000,10000)

Synthetic articles (bench/corpus.py), half English, half Chinese. The first size is imported
through kb.importing.import_records (the `kb_import` path: rendering, revision, per-article
index); the rest are bulk-inserted; then kb.search.index.reindex() rebuilds the whole index.
Queries (bench/corpus.py): title-like questions, short keywords, typos and no-match queries,
each run BENCH_SEARCH_ROUNDS times (default 5) after one warm-up pass, both scoped to the
query's language (as the search page does) and across all languages (the API's default).
Goal: p95 < 20 ms.
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
    common.prepare("search")
    common.setup_django()

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench import corpus
    from kb import page_cache
    from kb.importing import import_records
    from kb.models import Article
    from kb.search import search, spelling
    from kb.search.index import reindex

    sizes = [int(s) for s in os.environ.get("BENCH_SEARCH_SIZES", "1000,10000").split(",")]
    rounds = int(os.environ.get("BENCH_SEARCH_ROUNDS", "5"))
    print(f"# Search latency — {common.database_label()}; {common.machine()}")
    print(f"rounds per query: {rounds}; goal: p95 < {GOAL_P95_MS:.0f} ms\n")

    corpus.create_categories()
    build_rows, latency_rows, kind_rows, misses = [], [], [], []
    loaded = 0
    for size in sizes:
        records = corpus.records(size - loaded, start=loaded)
        started = time.perf_counter()
        if loaded == 0:
            import_records(records)
            how = "import_records"
        else:
            corpus.bulk_load(records)
            how = "bulk insert"
        load_s = time.perf_counter() - started
        loaded = size
        started = time.perf_counter()
        indexed = reindex()
        reindex_s = time.perf_counter() - started
        page_cache.invalidate()  # as manage.py kb_reindex does
        assert Article.objects.published().count() == size == indexed
        started = time.perf_counter()
        spelling.current_vocabulary()  # built lazily by the first query with an unknown word
        vocabulary_s = time.perf_counter() - started
        build_rows.append(
            [
                f"{size:,}",
                f"{len(records):,} by {how}",
                f"{load_s:.1f} s ({load_s / len(records) * 1000:.1f} ms/article)",
                f"{reindex_s:.1f} s",
                f"{vocabulary_s * 1000:.0f} ms",
            ]
        )

        for language, queries in corpus.QUERIES.items():
            for scope in ("language", "all"):
                scoped = language if scope == "language" else None
                for _, query in queries:  # warm-up: jieba, caches, SQLite pages
                    search(query, language=scoped)
                samples: dict[str, list[float]] = {}
                order = list(queries)
                query_counts = []
                for round_number in range(rounds):
                    random.Random(round_number).shuffle(order)
                    for kind, query in order:
                        gc.collect(0)
                        started = time.perf_counter()
                        result = search(query, language=scoped)
                        samples.setdefault(kind, []).append(time.perf_counter() - started)
                        if round_number == 0:
                            with CaptureQueriesContext(connection) as ctx:
                                search(query, language=scoped)
                            query_counts.append(len(ctx.captured_queries))
                            if scope == "language" and kind != "none" and not result.hits:
                                misses.append(f"{size:,} {language} {kind}: {query!r}")
                every = [s for values in samples.values() for s in values]
                p95 = common.percentile(every, 95)
                latency_rows.append(
                    [
                        f"{size:,}",
                        "English" if language == "en" else "Chinese",
                        "own language" if scope == "language" else "all languages",
                        len(every),
                        _ms(common.percentile(every, 50)),
                        _ms(p95),
                        _ms(common.percentile(every, 99)),
                        _ms(max(every)),
                        f"{sum(query_counts) / len(query_counts):.1f}",
                        "yes" if p95 * 1000 < GOAL_P95_MS else "**no**",
                    ]
                )
                for kind, values in samples.items():
                    kind_rows.append(
                        [
                            f"{size:,}",
                            "English" if language == "en" else "Chinese",
                            "own language" if scope == "language" else "all languages",
                            kind,
                            len(values),
                            _ms(common.percentile(values, 50)),
                            _ms(common.percentile(values, 95)),
                            _ms(max(values)),
                        ]
                    )

    print(
        common.table(
            ["articles", "added", "load", "reindex (all)", "typo vocabulary build"],
            build_rows,
            title="## Building the index",
        )
    )
    print(
        common.table(
            [
                "articles",
                "queries",
                "scope",
                "searches",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "max ms",
                "SQL/search",
                "p95 < 20 ms",
            ],
            latency_rows,
            title="## search() latency",
        )
    )
    print(
        common.table(
            ["articles", "queries", "scope", "kind", "searches", "p50 ms", "p95 ms", "max ms"],
            kind_rows,
            title="## By kind of query",
        )
    )
    if misses:
        print(
            "\nQueries that found nothing (typo correction covers English words only):\n  "
            + "\n  ".join(misses)
        )
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
