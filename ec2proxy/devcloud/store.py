"""The dev cloud's state: every object in memory, written through to SQLite.

Reads never touch the disk (a list of 10,000 servers is a dict walk); each
write is one row upsert, and a multi-object change (a multi-create of 100
servers) is one transaction. A restart reloads everything.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import sqlite3
from typing import Callable, Iterator


class Store:
    def __init__(self, path: pathlib.Path | str):
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS objects (kind TEXT, id TEXT, data TEXT, PRIMARY KEY (kind, id))"
        )
        self._depth = 0
        # Told of every write (the store, kind, the object written or None, the object before): the notifier
        self.listener: Callable[[Store, str, dict | None, dict | None], None] | None = None
        self.data: dict[str, dict[str, dict]] = {}
        for kind, ident, data in self._db.execute("SELECT kind, id, data FROM objects ORDER BY rowid"):
            self.data.setdefault(kind, {})[ident] = json.loads(data)

    def close(self) -> None:
        self._db.close()

    def all(self, kind: str) -> dict[str, dict]:
        return self.data.setdefault(kind, {})

    def get(self, kind: str, ident: str) -> dict | None:
        return self.data.get(kind, {}).get(ident)

    def put(self, kind: str, obj: dict) -> dict:
        old = self.all(kind).get(obj["id"])
        self.all(kind)[obj["id"]] = obj
        self._db.execute("INSERT OR REPLACE INTO objects (kind, id, data) VALUES (?, ?, ?)",
                         (kind, obj["id"], json.dumps(obj)))
        if self.listener is not None:
            self.listener(self, kind, obj, old)
        return obj

    def delete(self, kind: str, ident: str) -> None:
        old = self.all(kind).pop(ident, None)
        self._db.execute("DELETE FROM objects WHERE kind = ? AND id = ?", (kind, ident))
        if self.listener is not None and old is not None:
            self.listener(self, kind, None, old)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Many writes, one transaction."""
        self._depth += 1
        if self._depth == 1:
            self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            if self._depth == 1:
                self._db.execute("ROLLBACK")
            raise
        else:
            if self._depth == 1:
                self._db.execute("COMMIT")
        finally:
            self._depth -= 1
