"""Checks of run options that can be made before any computation: a bad value is a usage error (exit 2).

Each check names the parameter and the rule it broke, so a long run never dies at its end on something that
could have been seen at its start.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from boundlab.errors import UsageError

SQLITE_MAX_INT = 2**63 - 1  # the store keeps the seed in an SQLite INTEGER
SCHEDULER_SCHEMES = ("tcp", "tls", "ucx", "ws", "wss", "inproc")


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SQLITE_MAX_INT:
        raise UsageError(f"seed must be an integer in [0, 2^63 - 1], got {seed!r}.")
    return seed


def check_scheduler(address: str) -> str:
    """A Dask scheduler address: scheme://host:port, e.g. tcp://127.0.0.1:8786."""
    rule = "it must look like tcp://host:port (schemes: " + ", ".join(SCHEDULER_SCHEMES) + ")"
    parts = urlsplit(address)
    if parts.scheme not in SCHEDULER_SCHEMES or not parts.hostname:
        raise UsageError(f"--scheduler {address!r} is not a scheduler address: {rule}.")
    if parts.scheme != "inproc":
        try:
            port = parts.port
        except ValueError:
            port = None
        if port is None or not 0 < port < 65536:
            raise UsageError(f"--scheduler {address!r} has no valid port: {rule}.")
    return address


def check_output_folder(path: str | os.PathLike[str]) -> Path:
    """A folder the report can be written into: created if missing, and writable."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"-o/--output {str(folder)!r} exists and is not a folder.")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"-o/--output {str(folder)!r}: {str(existing)!r} is a file, so the folder cannot be made.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"-o/--output {str(folder)!r}: {str(existing)!r} is not writable.")
    return folder
