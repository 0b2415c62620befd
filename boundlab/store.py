"""The results store: an SQLite file with one row per finished unit of work.

Rows are keyed by everything that determines their numbers (scope, statement, parameters, fidelity, root
seed, the hash of the unit's code, backend, block index and block size). Each unit is written in its own
transaction as soon as it finishes, so an interrupted run loses nothing it had finished and the next run
picks up where it stopped.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from boundlab.errors import StoreError, UsageError

DEFAULT_STORE = Path(".boundlab") / "results.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    key TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    statement TEXT NOT NULL,
    params TEXT NOT NULL,
    fidelity TEXT NOT NULL,
    seed INTEGER NOT NULL,
    code_version TEXT NOT NULL,
    backend TEXT NOT NULL,
    block INTEGER NOT NULL,
    block_size INTEGER NOT NULL DEFAULT 0,
    arrays BLOB,
    meta TEXT,
    runtime_s REAL NOT NULL,
    created REAL NOT NULL,
    checksum TEXT
)
"""
APPLICATION_ID = 0x426C6162  # "Blab": marks an SQLite file as a BoundLab store (PRAGMA application_id)
SCHEMA_VERSION = 3  # PRAGMA user_version: 3 = units with block_size and checksum, artifacts
_OWN_TABLES = {"units", "artifacts"}


# Whole computed results that are not units of a claim (the calibration table of the report index), as JSON.
_ARTIFACTS = """
CREATE TABLE IF NOT EXISTS artifacts (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    runtime_s REAL NOT NULL,
    created REAL NOT NULL
)
"""


@dataclass(frozen=True)
class UnitKey:
    """Everything that determines a unit's numbers. ``code_version`` is the hash of the unit's own code (see
    boundlab.keys), ``block`` the block index and ``block_size`` the replicates computed in that block."""

    scope: str
    statement: str
    params: str
    fidelity: str
    seed: int
    code_version: str
    backend: str
    block: int
    block_size: int

    @property
    def digest(self) -> str:
        text = json.dumps(self.__dict__, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class UnitRecord:
    arrays: dict[str, np.ndarray]
    meta: Any
    runtime_s: float


def default_store_path() -> Path:
    return Path(os.environ.get("BOUNDLAB_STORE", DEFAULT_STORE))


def _pack(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _unpack(blob: bytes | None) -> dict[str, np.ndarray]:
    if not blob:
        return {}
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _checksum(arrays: bytes | None, meta: str | None) -> str:
    digest = hashlib.sha256(arrays or b"")
    digest.update(b"|" + (meta or "").encode())
    return digest.hexdigest()[:32]


class Store:
    """SQLite-backed cache of finished units. ``Store(None)`` keeps everything in memory."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = None if path is None else Path(path)
        self.damaged: list[str] = []  # keys of units found damaged (then treated as missing and recomputed)
        where = f"the results store at {str(self.path)!r}"
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(":memory:" if self.path is None else str(self.path), timeout=60)
            self._claim_or_refuse(where)
            self._conn.execute("PRAGMA journal_mode=WAL" if self.path is not None else "PRAGMA journal_mode=MEMORY")
            self._conn.execute(_SCHEMA)
            self._conn.execute(_ARTIFACTS)
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(units)")}
            if "block_size" not in columns:  # a store written before block sizes were keyed
                self._conn.execute("ALTER TABLE units ADD COLUMN block_size INTEGER NOT NULL DEFAULT 0")
            if "checksum" not in columns:  # a store written before units carried a checksum
                self._conn.execute("ALTER TABLE units ADD COLUMN checksum TEXT")
            self._conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._conn.commit()
        except UsageError:
            raise
        except (OSError, sqlite3.Error) as exc:
            raise UsageError(f"store: cannot open {where}: {exc} (give another --store, or move this file "
                             "aside)") from exc

    def _claim_or_refuse(self, where: str) -> None:
        """Refuse to touch an SQLite file of another program, or a damaged store, before changing anything."""
        app_id = int(self._conn.execute("PRAGMA application_id").fetchone()[0])
        tables = {row[0] for row in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and tables - _OWN_TABLES):
            raise UsageError(f"store: {where} is an SQLite file of another program (tables: "
                             f"{', '.join(sorted(tables)) or 'none'}); BoundLab leaves it unchanged. Give a new path "
                             "with --store.")
        if tables:
            problems = [row[0] for row in self._conn.execute("PRAGMA quick_check(20)")]
            if problems != ["ok"]:
                first = " ".join(problems[-1].split())  # the last line names a page; the first is a banner
                raise UsageError(f"store: {where} is damaged ({first}; {len(problems)} problem(s) listed by "
                                 "PRAGMA quick_check); move it aside or delete it, and the next run recomputes "
                                 "what it held.")

    def get(self, key: UnitKey) -> UnitRecord | None:
        """The stored unit, or None when it is missing or damaged (a wrong checksum, data that does not
        unpack, or no data at all): a damaged unit is recorded in ``damaged`` and recomputed by the caller."""
        try:
            row = self._conn.execute(
                "SELECT arrays, meta, runtime_s, checksum FROM units WHERE key = ?", (key.digest,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"store: cannot read {str(self.path)!r}: {exc}") from exc
        if row is None:
            return None
        arrays, meta, runtime, checksum = row
        if (arrays is None and meta is None) or (checksum is not None and checksum != _checksum(arrays, meta)):
            self.damaged.append(key.digest)
            return None
        try:
            return UnitRecord(_unpack(arrays), json.loads(meta) if meta else None, float(runtime))
        except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile):
            self.damaged.append(key.digest)
            return None

    def put(self, key: UnitKey, record: UnitRecord) -> None:
        arrays = _pack(record.arrays) if record.arrays else None
        meta = json.dumps(record.meta) if record.meta is not None else None
        try:
            with self._conn:
                self._conn.execute(
                    "INSERT OR REPLACE INTO units (key, scope, statement, params, fidelity, seed, code_version, "
                    "backend, block, block_size, arrays, meta, runtime_s, created, checksum) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key.digest, key.scope, key.statement, key.params, key.fidelity, key.seed, key.code_version,
                     key.backend, key.block, key.block_size, arrays, meta, record.runtime_s, time.time(),
                     _checksum(arrays, meta)),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"store: cannot write to {str(self.path)!r} ({exc}); the units finished before this "
                             "are kept, and the next run resumes from them once the store is writable.") from exc

    def get_artifact(self, key: str) -> tuple[Any, float] | None:
        """A stored JSON artifact and the seconds it took to compute, or None."""
        row = self._conn.execute("SELECT value, runtime_s FROM artifacts WHERE key = ?", (key,)).fetchone()
        return None if row is None else (json.loads(row[0]), float(row[1]))

    def put_artifact(self, key: str, value: Any, runtime_s: float) -> None:
        with self._conn:
            self._conn.execute("INSERT OR REPLACE INTO artifacts (key, value, runtime_s, created) VALUES (?, ?, ?, ?)",
                               (key, json.dumps(value), runtime_s, time.time()))

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
