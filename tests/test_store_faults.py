"""The results store under damage, through the real CLI: a foreign SQLite file is never altered, damaged
pages stop the run with one line (exit 2), a damaged or empty unit is recomputed (saying so), and a store that
becomes unwritable ends the run with one line (exit 1) and keeps what was finished."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from boundlab.store import APPLICATION_ID, Store
from tests.conftest import run_cli

SELECTOR = "online-glm-regression/regret-sigma-squared"


def _verify(store: Path) -> object:
    return run_cli("verify", SELECTOR, "--store", str(store), "--quiet", "--json")


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_foreign_sqlite_file_is_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    done = _verify(path)
    assert done.returncode == 2
    assert "another program" in _one_line(done.stderr)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert not Path(str(path) + "-wal").exists()


def test_store_is_marked_with_application_id(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_damaged_pages_are_one_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    assert _verify(path).returncode == 0
    with sqlite3.connect(path) as conn:  # fold the WAL back so the pages are in the main file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(2 * page, len(data), page):  # scribble over every page past the schema
        data[offset + 8:offset + 200] = os.urandom(192)
    path.write_bytes(bytes(data))
    done = _verify(path)
    assert done.returncode == 2, done.stderr
    line = _one_line(done.stderr)
    assert "damaged" in line or "cannot open" in line


@pytest.mark.parametrize("damage", ["checksum", "null"])
def test_damaged_unit_is_recomputed_and_said(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "r.db"
    first = _verify(path)
    assert first.returncode == 0
    with sqlite3.connect(path) as conn:
        key = conn.execute("SELECT key FROM units WHERE arrays IS NOT NULL LIMIT 1").fetchone()[0]
        if damage == "checksum":
            conn.execute("UPDATE units SET arrays = ? WHERE key = ?", (b"not an npz", key))
        else:
            conn.execute("UPDATE units SET arrays = NULL, meta = NULL WHERE key = ?", (key,))
    second = _verify(path)
    assert second.returncode == 0, second.stderr
    assert "damaged unit" in second.stderr
    strip = ("runtime_s", "units")
    clean = [{k: v for k, v in json.loads(line).items() if k not in strip} for line in first.stdout.splitlines()]
    again = [{k: v for k, v in json.loads(line).items() if k not in strip} for line in second.stdout.splitlines()]
    assert clean == again  # recomputed to the same numbers


def test_write_failure_is_a_store_error(tmp_path: Path) -> None:
    """A store whose writes fail (here: its connection made read-only, as a full disk would) raises StoreError,
    which the CLI reports in one line with exit 1; rows written before stay."""
    import numpy as np

    from boundlab.errors import StoreError
    from boundlab.store import UnitKey, UnitRecord

    store = Store(tmp_path / "r.db")
    key = UnitKey("s", "", "{}", "quick", 0, "c", "numpy", 0, 1)
    store.put(key, UnitRecord({"Q": np.ones(1)}, None, 0.1))
    store._conn.execute("PRAGMA query_only = ON")
    with pytest.raises(StoreError, match="kept"):
        store.put(UnitKey("s", "", "{}", "quick", 0, "c", "numpy", 1, 1), UnitRecord({"Q": np.ones(1)}, None, 0.1))
    assert store.get(key) is not None
