"""The emulator's state in SQLite: reference data, rulesets, and the seed to reset to.

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

from rulesync.emulator.jsonapi import now_iso
from rulesync.emulator.listing import ListQuery, order_clause, where_clause
from rulesync.emulator.resources import ALL_ATTRIBUTES, RulesetWrite, dumps, relationship_json
from rulesync.emulator.seed import DEFAULT_SEED, Seed, parse_seed
from rulesync.model import RELATIONSHIPS

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS refs (
    kind TEXT NOT NULL, id INTEGER NOT NULL, name TEXT NOT NULL, email TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, attributes TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS rulesets (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    attributes TEXT NOT NULL, relationships TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rulesets_name ON rulesets (name, id);
CREATE INDEX IF NOT EXISTS rulesets_created ON rulesets (created_at, id);
CREATE INDEX IF NOT EXISTS rulesets_updated ON rulesets (updated_at, id);
"""
_RULESET_INSERT = (
    "INSERT INTO rulesets (id, name, created_at, updated_at, attributes, relationships)"
    " VALUES (?, ?, ?, ?, ?, ?)"
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
    last_sort_values: list[Any] | None  # of the last row, when another page follows
    count: int | None


class Store:
    def __init__(self, path: str | Path, *, seed: Seed | None = None) -> None:
        """Open (or create) the database. A new database gets ``seed`` or the default data;
        an existing one keeps its state unless ``seed`` is given, which replaces it."""
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        if str(path) != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=5000")
        self._conn.executescript(_SCHEMA)
        self._ref_ids: set[tuple[str, int]] = set()
        stored = self._conn.execute("SELECT value FROM meta WHERE key = 'seed'").fetchone()
        if seed is not None or stored is None:
            self.load_seed(seed or DEFAULT_SEED)
        else:
            self._load_ref_ids()

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

    def _load_ref_ids(self) -> None:
        rows = self._conn.execute("SELECT kind, id FROM refs").fetchall()
        self._ref_ids = {(kind, ref_id) for kind, ref_id in rows}

    # -- seeding ---------------------------------------------------------------------------

    def load_seed(self, seed: Seed) -> None:
        """Replace all data with ``seed`` in one transaction, and remember it for reset()."""
        now = now_iso()
        refs = _ref_rows(seed, now)
        explicit = [r for r in seed.rulesets if r.id is not None]
        implicit = [r for r in seed.rulesets if r.id is None]
        with self._transaction() as conn:
            conn.execute("DELETE FROM rulesets")
            conn.execute("DELETE FROM refs")
            conn.execute("DELETE FROM sqlite_sequence WHERE name = 'rulesets'")
            conn.executemany("INSERT INTO refs VALUES (?, ?, ?, ?, ?, ?, ?)", refs)
            # Explicit ids first, so the server-assigned ones come after the highest of them.
            for batch in (explicit, implicit):
                conn.executemany(
                    _RULESET_INSERT,
                    (_ruleset_row(r.id, r.attributes, r.relationships, now) for r in batch),
                )
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('seed', ?)", (seed.to_json(),)
            )
            self._ref_ids = {(row[0], row[1]) for row in refs}

    def reset(self) -> None:
        """Back to the seed this database was last loaded with."""
        with self._lock:
            stored = self._conn.execute("SELECT value FROM meta WHERE key = 'seed'").fetchone()
        seed = parse_seed(json.loads(stored[0])) if stored else DEFAULT_SEED
        self.load_seed(seed)

    # -- reads -----------------------------------------------------------------------------

    def ref_exists(self, kind: str, ref_id: int) -> bool:
        return (kind, ref_id) in self._ref_ids

    def get(self, kind: str, row_id: int) -> Row | None:
        sql, params = _select(kind)
        sql += f" {'AND' if params else 'WHERE'} id = ?"
        with self._lock:
            found = self._conn.execute(sql, (*params, row_id)).fetchone()
        return Row(*found[:3]) if found else None

    def list(self, query: ListQuery) -> Page:
        sql, params = _select(query.kind, extra_columns=[col for col, _ in query.sort])
        conditions, where_params = where_clause(query, keyset=True)
        if conditions:
            sql += f" {'AND' if params else 'WHERE'} " + " AND ".join(conditions)
        sql += f" ORDER BY {order_clause(query)} LIMIT ?"
        count_sql, count_params = _count(query)
        with self._lock:
            found = self._conn.execute(sql, (*params, *where_params, query.size + 1)).fetchall()
            count = (
                self._conn.execute(count_sql, count_params).fetchone()[0] if query.count else None
            )
        more = len(found) > query.size
        found = found[: query.size]
        last = list(found[-1][3:]) if more else None
        return Page(rows=[Row(*r[:3]) for r in found], last_sort_values=last, count=count)

    def count_rulesets(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM rulesets").fetchone()[0])

    # -- ruleset writes --------------------------------------------------------------------

    def create_ruleset(self, write: RulesetWrite) -> Row:
        row = _ruleset_row(None, write.attributes, write.relationships, now_iso())
        with self._transaction() as conn:
            cursor = conn.execute(_RULESET_INSERT, row)
        assert cursor.lastrowid is not None
        return Row(cursor.lastrowid, row[4], row[5])

    def update_ruleset(self, row_id: int, write: RulesetWrite) -> Row | None:
        with self._transaction() as conn:
            found = conn.execute(
                "SELECT attributes, relationships FROM rulesets WHERE id = ?", (row_id,)
            ).fetchone()
            if found is None:
                return None
            attributes = json.loads(found[0])
            relationships = json.loads(found[1])
            attributes.update(write.attributes)
            attributes["updatedAt"] = now_iso()
            for name, ref_id in write.relationships.items():
                relationships[name] = relationship_json(name, ref_id)
            attrs_text, rels_text = dumps(attributes), dumps(relationships)
            conn.execute(
                "UPDATE rulesets SET name = ?, updated_at = ?, attributes = ?, relationships = ?"
                " WHERE id = ?",
                (attributes["name"], attributes["updatedAt"], attrs_text, rels_text, row_id),
            )
        return Row(row_id, attrs_text, rels_text)

    def delete_ruleset(self, row_id: int) -> bool:
        with self._transaction() as conn:
            cursor = conn.execute("DELETE FROM rulesets WHERE id = ?", (row_id,))
        return cursor.rowcount > 0


def _select(kind: str, extra_columns: list[str] | None = None) -> tuple[str, list[Any]]:
    extra = "".join(f", {col}" for col in extra_columns or [])
    if kind == "ruleset":
        return f"SELECT id, attributes, relationships{extra} FROM rulesets", []
    return f"SELECT id, attributes, '{{}}'{extra} FROM refs WHERE kind = ?", [kind]


def _count(query: ListQuery) -> tuple[str, list[Any]]:
    table, params = ("rulesets", []) if query.kind == "ruleset" else ("refs", [query.kind])
    sql = f"SELECT COUNT(*) FROM {table}" + (" WHERE kind = ?" if params else "")
    conditions, where_params = where_clause(query, keyset=False)
    if conditions:
        sql += f" {'AND' if params else 'WHERE'} " + " AND ".join(conditions)
    return sql, [*params, *where_params]


def _ruleset_row(
    row_id: int | None, given: dict[str, Any], rels: dict[str, int | None], now: str
) -> tuple[int | None, str, str, str, str, str]:
    attributes: dict[str, Any] = dict.fromkeys(ALL_ATTRIBUTES)
    attributes.update(given)
    attributes["createdAt"] = given.get("createdAt") or now
    attributes["updatedAt"] = given.get("updatedAt") or now
    relationships = {
        name: relationship_json(name, rels.get(name)) for name in sorted(RELATIONSHIPS)
    }
    return (
        row_id,
        str(attributes["name"]),
        str(attributes["createdAt"]),
        str(attributes["updatedAt"]),
        dumps(attributes),
        dumps(relationships),
    )


def _ref_rows(seed: Seed, now: str) -> list[tuple[str, int, str, str | None, str, str, str]]:
    rows: list[tuple[str, int, str, str | None, str, str, str]] = []
    stamps = {"createdAt": now, "updatedAt": now}
    for ref_id, name in seed.stages:
        attrs = {"color": None, "name": name, "order": ref_id, **stamps}
        rows.append(("stage", ref_id, name, None, now, now, dumps(dict(sorted(attrs.items())))))
    for ref_id, name, weight in seed.task_priorities:
        attrs = {"color": None, "name": name, "weight": weight, **stamps}
        rows.append(
            ("taskPriority", ref_id, name, None, now, now, dumps(dict(sorted(attrs.items()))))
        )
    for ref_id, email, first, last in seed.users:
        full = " ".join(part for part in (first, last) if part) or email
        attrs = {
            "email": email,
            "firstName": first,
            "lastName": last,
            "name": full,
            "username": email.split("@")[0],
            **stamps,
        }
        rows.append(("user", ref_id, full, email, now, now, dumps(dict(sorted(attrs.items())))))
    return rows
