"""The catalogue's dialect differences, all in one place: search indexes, star-count triggers,
and the SQL expressions search builds its query from.

- SQLite: an FTS5 table with the trigram tokenizer (`repository_search`, rowid = repository id)
  over `name || ' ' || description`, kept in step by triggers on `repositories`. A word of three
  or more letters or digits in a row is looked up (quoted FTS5 phrases of its longest runs: a
  substring match, case-insensitive); other words are checked on the rows those found.
- PostgreSQL: `pg_trgm` and a GIN index on `search_text` (`lower(name || ' ' || description)`), which
  `LIKE '%word%'` uses for words of three or more characters.

Stars are counted in `repositories.star_count` by triggers on `stars`, so the count stays exact
however a star row goes away (unstar, a deleted account or repository cascading).

User input only ever reaches the database as bound parameters: FTS5 phrases are quoted with
`"` doubled, LIKE patterns escape `\\`, `%` and `_`.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import DDL, ColumnElement, Table, column, event, func, literal_column, table
from sqlalchemy.sql import FromClause

# The text search looks in: a word never spans the separator, since words hold no whitespace.
_DOCUMENT = "repositories.search_text"  # lower(name || ' ' || description), a stored column
# A repository's name after its namespace ("redis" in "bob/redis"), indexed for prefix ranges.
_REPO_PART_SQLITE = "substr(repositories.name, instr(repositories.name, '/') + 1)"
_REPO_PART_POSTGRES = "substr(repositories.name, strpos(repositories.name, '/') + 1) COLLATE \"C\""
_FTS = table("repository_search", column("rowid"), column("doc"))

_SQLITE_SEARCH = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS repository_search USING fts5(doc, tokenize='trigram')",
    """CREATE TRIGGER IF NOT EXISTS repositories_search_insert AFTER INSERT ON repositories BEGIN
        INSERT INTO repository_search(rowid, doc) VALUES (new.id, new.name || ' ' || new.description);
    END""",
    """CREATE TRIGGER IF NOT EXISTS repositories_search_update
        AFTER UPDATE OF name, description ON repositories BEGIN
        UPDATE repository_search SET doc = new.name || ' ' || new.description WHERE rowid = new.id;
    END""",
    "CREATE INDEX IF NOT EXISTS ix_repositories_repo_part ON repositories "
    "(substr(name, instr(name, '/') + 1))",
    """CREATE TRIGGER IF NOT EXISTS repositories_search_delete AFTER DELETE ON repositories BEGIN
        DELETE FROM repository_search WHERE rowid = old.id;
    END""",
]
_SQLITE_STARS = [
    """CREATE TRIGGER IF NOT EXISTS stars_count_insert AFTER INSERT ON stars BEGIN
        UPDATE repositories SET star_count = star_count + 1 WHERE id = new.repository_id;
    END""",
    """CREATE TRIGGER IF NOT EXISTS stars_count_delete AFTER DELETE ON stars BEGIN
        UPDATE repositories SET star_count = star_count - 1 WHERE id = old.repository_id;
    END""",
]
# pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it. Without it
# search still works, by scanning; the hub must start either way.
_POSTGRES_SEARCH = [
    'CREATE INDEX IF NOT EXISTS ix_repositories_name_c ON repositories ((name COLLATE "C"))',
    "CREATE INDEX IF NOT EXISTS ix_repositories_repo_part ON repositories "
    "((substr(name, strpos(name, '/') + 1) COLLATE \"C\"))",
    """DO $$ BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'cargobay: pg_trgm unavailable (%%), search will scan', SQLERRM;
    END $$""",
    """DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
            CREATE INDEX IF NOT EXISTS ix_repositories_search ON repositories
                USING gin (search_text gin_trgm_ops);
        END IF;
    END $$""",
]
_POSTGRES_STARS = [
    """CREATE OR REPLACE FUNCTION cargobay_count_stars() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            UPDATE repositories SET star_count = star_count + 1 WHERE id = NEW.repository_id;
        ELSE
            UPDATE repositories SET star_count = star_count - 1 WHERE id = OLD.repository_id;
        END IF;
        RETURN NULL;
    END $$""",
    "DROP TRIGGER IF EXISTS stars_count ON stars",
    """CREATE TRIGGER stars_count AFTER INSERT OR DELETE ON stars
        FOR EACH ROW EXECUTE FUNCTION cargobay_count_stars()""",
]


def install_search_index(repositories: Table, stars: Table) -> None:
    """Attach the per-dialect DDL to the tables' creation (`metadata.create_all`)."""
    plan = [
        ("sqlite", repositories, _SQLITE_SEARCH),
        ("sqlite", stars, _SQLITE_STARS),
        ("postgresql", repositories, _POSTGRES_SEARCH),
        ("postgresql", stars, _POSTGRES_STARS),
    ]
    for dialect, target, statements in plan:
        for statement in statements:
            ddl = DDL(statement)  # type: ignore[no-untyped-call]
            event.listen(target, "after_create", ddl.execute_if(dialect=dialect))


def _fts_pieces(word: str) -> list[str]:
    """What FTS5 looks up for an ASCII word: its 3 longest runs of letters and digits, each cut
    to 8 characters. A long phrase costs FTS5 a position check per trigram (`alice/my-app-x`
    takes ~10x longer than `alice` AND `my` AND `app`); the word itself is then checked on the
    candidates. Non-ASCII words are looked up whole (FTS5 folds their case; SQL lower() not)."""
    if not word.isascii():
        return []
    runs = sorted(re.findall(r"[a-z0-9]{3,}", word), key=len, reverse=True)[:3]
    return [run[:8] for run in runs]


def indexable(word: str) -> bool:
    """Whether a trigram index can look the word up usefully: it holds 3 letters or digits in a
    row (pg_trgm takes trigrams only from such runs; FTS5 could take any, but the same rule on
    both databases keeps their answers the same)."""
    return re.search(r"[^\W_]{3}", word) is not None


def escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def fts_phrase(word: str) -> str:
    """An FTS5 string: any text, quoted, so operators (AND, NEAR, *, ^, :) are plain text."""
    return '"' + word.replace('"', '""') + '"'


class SearchDialect:
    """The dialect-specific expressions search is built from (see `metadata/catalogue.py`)."""

    def __init__(self, dialect: str, repositories: Table) -> None:
        self.dialect = dialect
        self.repositories = repositories
        sqlite_ = dialect == "sqlite"
        # Sort keys in code point order, exactly as their indexes are declared (prefix ranges).
        self.name_key: ColumnElement[str] = literal_column(
            "repositories.name" if sqlite_ else 'repositories.name COLLATE "C"'
        )
        self.repo_part: ColumnElement[str] = literal_column(
            _REPO_PART_SQLITE if sqlite_ else _REPO_PART_POSTGRES
        )
        self.document: ColumnElement[str] = literal_column(_DOCUMENT)
        # Run first in each search transaction (PostgreSQL): plan with the actual words; a
        # generic plan for `LIKE $1` cannot know that the trigram index is selective.
        self.session_setup: list[str] = [] if sqlite_ else ["SET LOCAL plan_cache_mode = force_custom_plan"]
        # Around the trigram lookup (PostgreSQL): with `LIMIT 2500` the planner believes a
        # sequential scan stops early, yet for a rare word it reads the whole table (50 ms at
        # 100,000 rows where the index takes 6 ms).
        self.probe_setup: list[str] = [] if sqlite_ else ["SET LOCAL enable_seqscan = off"]
        self.probe_reset: list[str] = [] if sqlite_ else ["SET LOCAL enable_seqscan = on"]

    def position(self, haystack: Any, needle: Any) -> ColumnElement[int]:
        """1-based position of `needle` in `haystack`, 0 when absent (no pattern syntax)."""
        if self.dialect == "sqlite":
            return func.instr(haystack, needle)
        return func.strpos(haystack, needle)

    def indexed_match(self, words: list[str]) -> tuple[FromClause, list[ColumnElement[bool]]]:
        """FROM clause and conditions for: every word occurs in the name or description, found
        through the text index by the words holding 3 letters or digits in a row (`indexable`);
        the other words are checked on the rows those find."""
        conditions = [self.position(self.document, w) > 0 for w in words if not indexable(w)]
        looked_up = [w for w in words if indexable(w)]
        if self.dialect == "sqlite":
            terms: list[str] = []
            for word in looked_up:
                pieces = _fts_pieces(word)
                terms += pieces or [word]
                if pieces and pieces != [word]:  # the index found candidates; check the word itself
                    conditions.append(self.position(self.document, word) > 0)
            fts = " AND ".join(fts_phrase(t) for t in dict.fromkeys(terms))
            joined = self.repositories.join(_FTS, _FTS.c.rowid == self.repositories.c.id)
            return joined, [_FTS.c.doc.op("MATCH")(fts), *conditions]
        likes = [self.document.like(f"%{escape_like(w)}%", escape="\\") for w in looked_up]
        return self.repositories, [*likes, *conditions]

    def rowwise_match(self, words: list[str]) -> list[ColumnElement[bool]]:
        """The same test made on each row (no index), for walks in popularity order."""
        return [self.position(self.document, w) > 0 for w in words]
