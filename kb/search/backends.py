"""Full-text candidate retrieval, one class per database engine.

Both return ``(article_id, relevance)`` pairs for published articles, best first, with title
and alternate questions weighted above summary/tags and body. Terms are OR-ed (ranking, not
filtering, decides); the last term may be a prefix, for search-as-you-type.
"""

from django.db import connection

from kb.models import Article

# Column weights: title, alternate questions, extras (summary, tags, category), body.
WEIGHTS = (10.0, 8.0, 3.0, 1.0)

SQLITE_FTS_TABLE = "kb_search_fts"
# Table and column names below are constants of this module, never user input.
SQLITE_FTS_SQL = [
    f"""CREATE VIRTUAL TABLE IF NOT EXISTS {SQLITE_FTS_TABLE} USING fts5(
        title, questions, extras, body,
        content='kb_searchdocument', content_rowid='article_id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    f"""CREATE TRIGGER IF NOT EXISTS kb_searchdocument_ai AFTER INSERT ON kb_searchdocument BEGIN
        INSERT INTO {SQLITE_FTS_TABLE}(rowid, title, questions, extras, body)
        VALUES (new.article_id, new.title, new.questions, new.extras, new.body);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS kb_searchdocument_ad AFTER DELETE ON kb_searchdocument BEGIN
        INSERT INTO {SQLITE_FTS_TABLE}({SQLITE_FTS_TABLE}, rowid, title, questions, extras, body)
        VALUES ('delete', old.article_id, old.title, old.questions, old.extras, old.body);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS kb_searchdocument_au AFTER UPDATE ON kb_searchdocument BEGIN
        INSERT INTO {SQLITE_FTS_TABLE}({SQLITE_FTS_TABLE}, rowid, title, questions, extras, body)
        VALUES ('delete', old.article_id, old.title, old.questions, old.extras, old.body);
        INSERT INTO {SQLITE_FTS_TABLE}(rowid, title, questions, extras, body)
        VALUES (new.article_id, new.title, new.questions, new.extras, new.body);
    END""",
]
SQLITE_FTS_DROP_SQL = [
    "DROP TRIGGER IF EXISTS kb_searchdocument_ai",
    "DROP TRIGGER IF EXISTS kb_searchdocument_ad",
    "DROP TRIGGER IF EXISTS kb_searchdocument_au",
    f"DROP TABLE IF EXISTS {SQLITE_FTS_TABLE}",
]

POSTGRES_FTS_SQL = [
    # 'english' stems English words and leaves the (pre-segmented) Chinese words as they are.
    """ALTER TABLE kb_searchdocument ADD COLUMN IF NOT EXISTS search_vector tsvector
       GENERATED ALWAYS AS (
           setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') ||
           setweight(to_tsvector('english'::regconfig, coalesce(questions, '')), 'B') ||
           setweight(to_tsvector('english'::regconfig, coalesce(extras, '')), 'C') ||
           setweight(to_tsvector('english'::regconfig, coalesce(body, '')), 'D')
       ) STORED""",
    "CREATE INDEX IF NOT EXISTS kb_searchdocument_vector_gin ON kb_searchdocument "
    "USING gin (search_vector)",
]
POSTGRES_FTS_DROP_SQL = [
    "DROP INDEX IF EXISTS kb_searchdocument_vector_gin",
    "ALTER TABLE kb_searchdocument DROP COLUMN IF EXISTS search_vector",
]


# One probe per statement of POSTGRES_FTS_SQL: true when that structure already exists.
POSTGRES_FTS_PROBES = [
    "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'kb_searchdocument'::regclass "
    "AND attname = 'search_vector' AND NOT attisdropped)",
    "SELECT to_regclass('kb_searchdocument_vector_gin') IS NOT NULL",
]


def ensure_index_structures(conn=connection) -> None:
    """Create the engine's full-text structures if missing (migrations and kb_reindex call this).

    On SQLite, a later migration that rebuilds kb_searchdocument drops its triggers; running
    this again (kb_reindex does) puts them back.

    On PostgreSQL the catalog is checked first and nothing runs when the structures exist: even
    with IF NOT EXISTS, ALTER TABLE takes an ACCESS EXCLUSIVE lock (blocking every search while
    it waits) and fails with "pending trigger events" inside a transaction that already wrote
    to kb_searchdocument (its foreign key's deferred checks), e.g. a reindex in a test.
    """
    if conn.vendor == "postgresql":
        with conn.cursor() as cursor:
            for probe, sql in zip(POSTGRES_FTS_PROBES, POSTGRES_FTS_SQL, strict=True):
                cursor.execute(probe)
                if not cursor.fetchone()[0]:
                    cursor.execute(sql)
        return
    statements = {"sqlite": SQLITE_FTS_SQL}.get(conn.vendor, [])
    with conn.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def drop_index_structures(conn=connection) -> None:
    statements = {"sqlite": SQLITE_FTS_DROP_SQL, "postgresql": POSTGRES_FTS_DROP_SQL}.get(
        conn.vendor, []
    )
    with conn.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def _safe_term(term: str) -> str:
    # Terms come from text.tokens(): only [0-9a-z] or CJK characters, never quotes or operators.
    return "".join(ch for ch in term if ch.isalnum())


def _prefix_stubs(term: str) -> list[str]:
    """An unfinished word may not be a prefix of its stemmed form in the index ("shipp" of
    "ship"): also look for a shorter stub of it."""
    term = _safe_term(term)
    if len(term) >= 5 and term.isascii():
        return [term[: len(term) - 2]]
    return []


class SqliteFts:
    def candidates(
        self, terms: list[str], *, language: str | None, limit: int, prefix: bool
    ) -> list[tuple[int, float]]:
        parts = [f'"{_safe_term(t)}"' for t in terms if _safe_term(t)]
        if not parts:
            return []
        if prefix:
            parts[-1] += "*"
            parts += [f'"{stub}"*' for stub in _prefix_stubs(terms[-1])]
        match = " OR ".join(parts)
        # Filter through the article index ("+" keeps SQLite from driving the query by it)
        # instead of joining kb_article, whose rows must be read past their large bodies.
        sql = (
            f"SELECT f.rowid, bm25({SQLITE_FTS_TABLE}, {', '.join(map(str, WEIGHTS))}) AS rank "
            f"FROM {SQLITE_FTS_TABLE} f WHERE {SQLITE_FTS_TABLE} MATCH %s "
            "AND +f.rowid IN (SELECT id FROM kb_article WHERE status = %s"
        )
        params: list = [match, Article.Status.PUBLISHED]
        if language:
            sql += " AND language = %s"
            params.append(language)
        sql += ")"
        sql += " ORDER BY rank LIMIT %s"
        params.append(limit)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            # bm25() is negative, lower is better: flip it so that higher is better everywhere.
            return [(row[0], -row[1]) for row in cursor.fetchall()]


class PostgresFts:
    # ts_rank weights in {D, C, B, A} order: body, extras, questions, title.
    RANK_WEIGHTS = "{" + ", ".join(str(w / WEIGHTS[0]) for w in reversed(WEIGHTS)) + "}"

    def candidates(
        self, terms: list[str], *, language: str | None, limit: int, prefix: bool
    ) -> list[tuple[int, float]]:
        lexemes = [f"'{_safe_term(t)}'" for t in terms if _safe_term(t)]
        if not lexemes:
            return []
        if prefix:
            lexemes[-1] += ":*"
            lexemes += [f"'{stub}':*" for stub in _prefix_stubs(terms[-1])]
        tsquery = " | ".join(lexemes)
        sql = (
            "SELECT d.article_id, ts_rank(%s::float4[], d.search_vector, q, 1) AS rank "
            "FROM kb_searchdocument d JOIN kb_article a ON a.id = d.article_id, "
            "to_tsquery('english'::regconfig, %s) q "
            "WHERE d.search_vector @@ q AND a.status = %s"
        )
        params: list = [self.RANK_WEIGHTS, tsquery, Article.Status.PUBLISHED]
        if language:
            sql += " AND a.language = %s"
            params.append(language)
        sql += " ORDER BY rank DESC LIMIT %s"
        params.append(limit)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [(row[0], float(row[1])) for row in cursor.fetchall()]


def current_backend() -> SqliteFts | PostgresFts:
    if connection.vendor == "postgresql":
        return PostgresFts()
    if connection.vendor == "sqlite":
        return SqliteFts()
    raise NotImplementedError(f"No full-text search for the {connection.vendor} database.")
