"""Benchmark 3: SQL queries per public page, at 100 and at 2,000 articles.

    .venv/bin/python -m bench.queries          # BENCH_QUERIES_VERBOSE=1 prints the SQL

Django's test client in-process, an anonymous visitor (cookies cleared before every request).
Public pages are whole-page cached for anonymous visitors (kb/page_cache.py), so each page is
counted on a cache miss (page-cache generation bumped first) and on the following hit. Buffered
view counts are flushed before each request so that a periodic flush is not counted.
Goal: article page <= 5 queries, constant in the number of articles. Times are in-process
(no server), median of 5 requests.
"""

import os
import sys
import time

from bench import common

GOAL_ARTICLE_QUERIES = 5
REPEAT = 5


def main() -> int:
    common.prepare("queries")
    common.setup_django()

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from bench import corpus
    from kb import page_cache, services
    from kb.importing import import_records
    from kb.models import Article, Category
    from kb.search.index import reindex

    setup_test_environment()  # allows the test client's host name
    call_command("collectstatic", interactive=False, verbosity=0)  # the manifest the pages use
    verbose = os.environ.get("BENCH_QUERIES_VERBOSE") == "1"
    sizes = [int(s) for s in os.environ.get("BENCH_QUERIES_SIZES", "100,2000").split(",")]
    print(f"# Queries per page — {common.database_label()}; {common.machine()}\n")

    client = Client()
    client.get("/healthz")  # loads the middleware once
    corpus.create_categories()
    category = Category.objects.get(slug="orders")  # top level, with two subcategories
    rows, counts, sql = [], {}, {}
    loaded = 0
    for size in sizes:
        records = corpus.records(size - loaded, start=loaded, seed=3)
        if loaded == 0:
            import_records(records)
        else:
            corpus.bulk_load(records)
        reindex()
        loaded = size
        article = (
            Article.objects.published()
            .filter(language="en", category=category)
            .order_by("pk")
            .first()
        )
        in_category = (
            Article.objects.published()
            .filter(language="en", category__in=[category, *category.children.all()])
            .count()
        )
        pages = [
            ("home", "/en/"),
            (f"category ({in_category} articles, page 1)", category.get_absolute_url("en")),
            ("article", article.get_absolute_url()),
        ]
        for name, url in pages:
            miss_times, hit_times = [], []
            for attempt in range(REPEAT):
                services.article_views_flush()
                page_cache.invalidate()
                client.cookies.clear()  # an anonymous visitor: no session, no cookies
                with CaptureQueriesContext(connection) as miss:
                    started = time.perf_counter()
                    response = client.get(url)
                    miss_times.append(time.perf_counter() - started)
                assert response.status_code == 200, (url, response.status_code)
                services.article_views_flush()
                client.cookies.clear()
                with CaptureQueriesContext(connection) as hit:
                    started = time.perf_counter()
                    response = client.get(url)
                    hit_times.append(time.perf_counter() - started)
                assert response.status_code == 200, (url, response.status_code)
                if attempt == 0:
                    counts[(size, name.split(" ")[0])] = (len(miss), len(hit))
                    sql[(size, name)] = [
                        f"{float(q['time']) * 1000:5.1f} ms  {q['sql']}"
                        for q in miss.captured_queries
                    ]
                    row = [f"{size:,}", name, f"`{url}`", len(miss), len(hit)]
            row += [
                f"{common.median(miss_times) * 1000:.1f}",
                f"{common.median(hit_times) * 1000:.2f}",
            ]
            rows.append(row)

    print(
        common.table(
            ["articles", "page", "URL", "queries (miss)", "queries (hit)", "ms (miss)", "ms (hit)"],
            rows,
            title="## Queries per page, anonymous visitor",
        )
    )
    article_counts = {size: counts[(size, "article")][0] for size in sizes}
    worst = max(article_counts.values())
    constant = len(set(article_counts.values())) == 1
    print(
        f"\nArticle page on a miss: {', '.join(f'{n} at {s:,}' for s, n in article_counts.items())}"
        f" -> goal (<= {GOAL_ARTICLE_QUERIES}, constant): "
        f"{'met' if worst <= GOAL_ARTICLE_QUERIES and constant else '**missed**'}"
    )
    for page in ("home", "category"):
        by_size = {s: counts[(s, page)][0] for s in sizes}
        print(
            f"{page.capitalize()} page on a miss: "
            f"{', '.join(f'{n} at {s:,}' for s, n in by_size.items())}"
            f" ({'constant' if len(set(by_size.values())) == 1 else 'grows with the articles'})"
        )
    if verbose:
        for (size, name), statements in sql.items():
            print(f"\n-- {name} at {size:,} articles, cache miss: {len(statements)} queries")
            for statement in statements:
                print("  ", statement[:300])
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
