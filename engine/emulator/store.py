"""The emulator's state in SQLite: reference data, rulesets, sequences, and the seed to reset to.

One connection serves every request thread, guarded by a lock: SQLite ``:memory:`` databases
are per connection, and a single writer keeps concurrent requests from losing updates.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rulesync.emulator import rules
from rulesync.emulator.jsonapi import now_iso
from rulesync.emulator.listing import ListQuery, keyset_condition, order_clause
from rulesync.emulator.resources import (
    Write,
    all_attributes,
    creation_defaults,
    dumps,
    relationship_json,
    to_one,
)
from rulesync.emulator.seed import DEFAULT_SEED, Seed, SeedResource, parse_seed

_OWN_TABLE = {"ruleset": "rulesets", "sequence": "sequences"}
_SCHEMA = "\n".join(
    [
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        """CREATE TABLE IF NOT EXISTS refs (
            kind TEXT NOT NULL, id INTEGER NOT NULL, name TEXT NOT NULL, email TEXT,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL, attributes TEXT NOT NULL,
            relationships TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (kind, id));""",
        *(
            f"""CREATE TABLE IF NOT EXISTS {table} (
                id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
                created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
                attributes TEXT NOT NULL, relationships TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS {table}_name ON {table} (name, id);
            CREATE INDEX IF NOT EXISTS {table}_created ON {table} (created_at, id);
            CREATE INDEX IF NOT EXISTS {table}_updated ON {table} (updated_at, id);"""
            for table in _OWN_TABLE.values()
        ),
        "CREATE INDEX IF NOT EXISTS sequences_ruleset ON sequences"
        " (json_extract(relationships, '$.\"ruleset\".data.id'));",
    ]
)


@dataclass(frozen=True)
class Row:
    """A stored resource: its id and its pre-rendered attributes and relationships."""

    id: int
    attributes: str
    relationships: str


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    first_sort_values: list[Any] | None  # of the first row, when a page comes before it
    last_sort_values: list[Any] | None  # of the last row, when another page follows
    count: int | None


def _table(kind: str) -> tuple[str, str, list[Any]]:
    """Table, base condition and its parameters for ``kind``."""
    if kind in _OWN_TABLE:
        return _OWN_TABLE[kind], "", []
    return "refs", "kind = ?", [kind]


class Store:
    def __init__(self, path: str | Path, *, seed: Seed | None = None) -> None:
        """Open (or create) the database. A new database gets ``seed`` or the default data;
        an existing one keeps its state unless ``seed`` is given, which replaces it."""
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        try:
            if str(path) != ":memory:":
                self._conn.execute("PRAGMA busy_timeout=5000")
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
            self._migrate()
            stored = self._conn.execute("SELECT value FROM meta WHERE key = 'seed'").fetchone()
            if seed is not None or stored is None:
                self.load_seed(seed or DEFAULT_SEED)
        except BaseException:
            self._conn.close()
            raise

    def _migrate(self) -> None:
        """Databases written before refs had relationships get the column."""
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(refs)")}
        if "relationships" not in columns:
            self._conn.execute(
                "ALTER TABLE refs ADD COLUMN relationships TEXT NOT NULL DEFAULT '{}'"
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- seeding ---------------------------------------------------------------------------

    def load_seed(self, seed: Seed) -> None:
        """Replace all data with ``seed`` in one transaction, and remember it for reset()."""
        now = now_iso()
        refs = _ref_rows(seed, now)
        with self._transaction() as conn:
            for table in _OWN_TABLE.values():
                conn.execute(f"DELETE FROM {table}")
                conn.execute("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
            conn.execute("DELETE FROM refs")
            conn.executemany("INSERT INTO refs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", refs)
            for kind, items in (("ruleset", seed.rulesets), ("sequence", seed.sequences)):
                # Explicit ids first, so the server-assigned ones come after the highest.
                for batch in (
                    [r for r in items if r.id is not None],
                    [r for r in items if r.id is None],
                ):
                    conn.executemany(_insert_sql(kind), (_seed_row(kind, r, now) for r in batch))
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('seed', ?)", (seed.to_json(),)
            )

    def reset(self) -> None:
        """Back to the seed this database was last loaded with."""
        with self._lock:
            stored = self._conn.execute("SELECT value FROM meta WHERE key = 'seed'").fetchone()
        seed = parse_seed(json.loads(stored[0])) if stored else DEFAULT_SEED
        self.load_seed(seed)

    # -- reads -----------------------------------------------------------------------------

    def ref_exists(self, kind: str, ref_id: int) -> bool:
        return self.get(kind, ref_id) is not None

    def get(self, kind: str, row_id: int) -> Row | None:
        if not 0 < row_id <= 2**63 - 1:
            return None
        table, base, params = _table(kind)
        where = " AND ".join([*([base] if base else []), "id = ?"])
        sql = f"SELECT id, attributes, relationships FROM {table} WHERE {where}"
        with self._lock:
            found = self._conn.execute(sql, (*params, row_id)).fetchone()
        return Row(*found) if found else None

    def list(self, query: ListQuery) -> Page:
        table, base, base_params = _table(query.kind)
        conditions = [*([base] if base else []), *query.conditions]
        params: list[Any] = [*base_params, *query.params]
        count_where = " AND ".join(conditions) or "1"
        count_params = list(params)
        cursor = query.before if query.before is not None else query.after
        reverse = query.before is not None
        if cursor is not None:
            condition, extra = keyset_condition(query.sort, cursor, reverse=reverse)
            conditions.append(condition)
            params.extend(extra)
        keys = ", ".join(k.expr for k in query.sort)
        sql = (
            f"SELECT id, attributes, relationships, {keys} FROM {table}"
            f" WHERE {' AND '.join(conditions) or '1'}"
            f" ORDER BY {order_clause(query.sort, reverse=reverse)} LIMIT ? OFFSET ?"
        )
        params.extend([query.size + 1, query.offset or 0])
        with self._lock:
            found = self._conn.execute(sql, params).fetchall()
            count = None
            if query.count or query.offset is not None:
                count = int(
                    self._conn.execute(
                        f"SELECT COUNT(*) FROM {table} WHERE {count_where}", count_params
                    ).fetchone()[0]
                )
        more = len(found) > query.size
        found = found[: query.size]
        if reverse:
            found.reverse()
        rows = [Row(*r[:3]) for r in found]
        first = list(found[0][3:]) if found else None
        last = list(found[-1][3:]) if found else None
        backward_more = more if reverse else cursor is not None
        forward_more = (cursor is not None) if reverse else more
        return Page(
            rows=rows,
            first_sort_values=first if backward_more else None,
            last_sort_values=last if forward_more else None,
            count=count,
        )

    def count(self, kind: str) -> int:
        table, base, params = _table(kind)
        with self._lock:
            sql = f"SELECT COUNT(*) FROM {table} WHERE {base or '1'}"
            return int(self._conn.execute(sql, params).fetchone()[0])

    def count_rulesets(self) -> int:
        return self.count("ruleset")

    # -- writes ----------------------------------------------------------------------------

    def create(self, kind: str, write: Write) -> Row:
        row = _new_row(kind, None, write.attributes, write.relationships, now_iso())
        with self._transaction() as conn:
            cursor = conn.execute(_insert_sql(kind), row)
        assert cursor.lastrowid is not None
        return Row(cursor.lastrowid, row[4], row[5])

    def create_ruleset(self, write: Write) -> Row:
        return self.create("ruleset", write)

    def update(self, kind: str, row_id: int, write: Write) -> Row | None:
        table = _OWN_TABLE[kind]
        with self._transaction() as conn:
            found = conn.execute(
                f"SELECT attributes, relationships FROM {table} WHERE id = ?", (row_id,)
            ).fetchone()
            if found is None:
                return None
            attributes = json.loads(found[0])
            relationships = json.loads(found[1])
            attributes.update(write.attributes)
            attributes["updatedAt"] = now_iso()
            for name, ref_id in write.relationships.items():
                relationships[name] = relationship_json(kind, name, ref_id)
            attrs_text, rels_text = dumps(attributes), dumps(relationships)
            conn.execute(
                f"UPDATE {table} SET name = ?, updated_at = ?, attributes = ?, relationships = ?"
                " WHERE id = ?",
                (
                    str(attributes.get("name")),
                    attributes["updatedAt"],
                    attrs_text,
                    rels_text,
                    row_id,
                ),
            )
        return Row(row_id, attrs_text, rels_text)

    def update_ruleset(self, row_id: int, write: Write) -> Row | None:
        return self.update("ruleset", row_id, write)

    def delete(self, kind: str, row_id: int) -> bool:
        """Delete; sequences that used a deleted ruleset no longer reference it."""
        table = _OWN_TABLE[kind]
        with self._transaction() as conn:
            cursor = conn.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))
            if kind == "ruleset" and cursor.rowcount:
                conn.execute(
                    "UPDATE sequences SET relationships = json_set(relationships,"
                    " '$.\"ruleset\".data', json('null'))"
                    " WHERE json_extract(relationships, '$.\"ruleset\".data.id') = ?",
                    (row_id,),
                )
        return cursor.rowcount > 0

    def delete_ruleset(self, row_id: int) -> bool:
        return self.delete("ruleset", row_id)


def _insert_sql(kind: str) -> str:
    return (
        f"INSERT INTO {_OWN_TABLE[kind]} (id, name, created_at, updated_at, attributes,"
        " relationships) VALUES (?, ?, ?, ?, ?, ?)"
    )


def _new_row(
    kind: str, row_id: int | None, given: dict[str, Any], rels: dict[str, int | None], now: str
) -> tuple[int | None, str, str, str, str, str]:
    attributes = creation_defaults(kind)
    attributes.update(given)
    attributes["createdAt"] = given.get("createdAt") or now
    attributes["updatedAt"] = given.get("updatedAt") or now
    relationships = {
        name: relationship_json(kind, name, rels.get(name)) for name in sorted(to_one(kind))
    }
    return (
        row_id,
        str(attributes.get("name")),
        str(attributes["createdAt"]),
        str(attributes["updatedAt"]),
        dumps(attributes),
        dumps(relationships),
    )


def _seed_row(kind: str, item: SeedResource, now: str) -> tuple[Any, ...]:
    """Seeded values are stored as given (odd live data can be modelled); what the seed leaves
    out gets what a create would store."""
    return _new_row(kind, item.id, item.attributes, item.relationships, now)


def _ref_rows(seed: Seed, now: str) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    stamps = {"createdAt": now, "updatedAt": now}
    for ref_id, name in seed.stages:
        attrs = {"color": None, "name": name, "order": ref_id, **stamps}
        rows.append(("stage", ref_id, name, None, now, now, _sorted(attrs), "{}"))
    for ref_id, name, weight in seed.task_priorities:
        attrs = {"color": None, "name": name, "weight": weight, **stamps}
        rows.append(("taskPriority", ref_id, name, None, now, now, _sorted(attrs), "{}"))
    known = set(all_attributes("user"))
    for ref_id, email, first, last in seed.users:
        full = " ".join(part for part in (first, last) if part) or email
        attrs = {
            "email": email,
            "firstName": first,
            "lastName": last,
            "name": full,
            "username": email.split("@")[0],
            "locked": False,
            **stamps,
        }
        attrs = {k: v for k, v in attrs.items() if k in known}
        rows.append(("user", ref_id, full, email, now, now, _sorted(attrs), "{}"))
    return rows


def _sorted(attrs: dict[str, Any]) -> str:
    return dumps(dict(sorted(attrs.items())))


# Kept for callers that size pages.
MAX_PAGE_SIZE = rules.MAX_PAGE_SIZE
