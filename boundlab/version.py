"""The code version printed in reports (cache keys use boundlab.keys instead), and provenance facts."""

from __future__ import annotations

import hashlib
import importlib
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path

__version__ = "0.1.0"

# Packages whose code produces measurements: a summary of the whole tree for reports (not a cache key).
_MEASURING_PACKAGES = ("theorems", "simulations", "solvers")
_ENGINE_FILES = ("experiments.py", "seeding.py", "work.py", "backends.py", "calibration.py")


@cache
def code_version() -> str:
    """A short hash of every source file that can change a measurement."""
    digest = hashlib.sha256(__version__.encode())
    files: list[Path] = []
    for name in _MEASURING_PACKAGES:
        try:
            package = importlib.import_module(name)
        except ImportError:
            continue
        for root in getattr(package, "__path__", []):
            files += sorted(Path(root).rglob("*.py"))
    here = Path(__file__).parent
    files += [here / f for f in _ENGINE_FILES if (here / f).exists()]
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@cache
def git_commit() -> str:
    """The commit of the working tree (with '+dirty' when it has changes), or 'unknown'."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def package_versions() -> dict[str, str]:
    out = {}
    for name in ("numpy", "scipy", "sympy", "cvxpy", "pot", "matplotlib", "dask", "array-api-compat"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
