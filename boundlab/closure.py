"""The import closure of a function: every project module that can change what it computes, and its hash.

The closure starts at the module defining the function and follows its imports (parsed with ``ast``, so
imports inside functions and ``if`` blocks count too), transitively, through every module whose file lies
outside the Python installation (the standard library and site-packages are pinned by the environment, not
by this hash). Project files installed editable live in the repository, so they count, and so do user modules
found on ``sys.path``. BoundLab's own modules are not followed: the engine keys the few of its files that
change a measurement explicitly (:data:`MEASUREMENT_ENGINE_FILES`), so editing, say, the report code does not
invalidate every cached unit. A module that is the closure's root is hashed even when it is a BoundLab module
(the synthetic calibration experiments live in ``boundlab.calibration``).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.machinery
import importlib.util
import sys
import sysconfig
from collections.abc import Callable, Iterable
from functools import cache
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any

_WORKBENCH = "boundlab"
_HERE = Path(__file__).resolve().parent

# BoundLab files whose code changes the numbers of a measurement unit (the ones that exist are hashed).
MEASUREMENT_ENGINE_FILES: tuple[str, ...] = (
    "experiments.py", "seeding.py", "work.py", "backends.py", "search.py", "spaces.py",
)
# ...and, for the adversarial-search units of sure claims, the code that turns excesses into a search target
# (the searchable kind's module and the base it builds on).
DECISION_ENGINE_FILES: tuple[str, ...] = ("kinds/base.py", "kinds/sure.py")


@cache
def _installation_roots() -> tuple[Path, ...]:
    """Folders of the Python installation: stdlib, site-packages, and the (base) prefixes."""
    roots: set[str] = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        for scheme_vars in ({}, {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}):
            try:
                roots.add(sysconfig.get_path(name, vars=scheme_vars or None))
            except KeyError:
                continue
    return tuple(sorted({Path(r).resolve() for r in roots if r}))


def is_installed(path: Path) -> bool:
    """True when ``path`` belongs to the Python installation (stdlib or site-packages) rather than a project."""
    resolved = path.resolve()
    return any(resolved.is_relative_to(root) for root in _installation_roots())


def _find_spec(name: str) -> ModuleSpec | None:
    """The spec of a module, without importing it or its parent packages.

    ``importlib.util.find_spec("a.b.c")`` imports ``a.b`` first; walking a theorem module's closure that way
    would import every solver it names (cvxpy, POT, SCIP: seconds) just to list the papers. Here a dotted name
    is looked up in its parent's ``submodule_search_locations`` by the path finder, which imports nothing.
    """
    module = sys.modules.get(name)
    if module is not None:
        return getattr(module, "__spec__", None)
    parent, _, _ = name.rpartition(".")
    try:
        if not parent:
            return importlib.util.find_spec(name)  # a top-level name: nothing is imported
        parent_spec = _find_spec(parent)
        locations = parent_spec.submodule_search_locations if parent_spec is not None else None
        if not locations:
            return None
        return importlib.machinery.PathFinder.find_spec(name, list(locations))
    except (ImportError, ValueError, AttributeError):
        return None


def _module_file(name: str) -> Path | None:
    """The source file of an importable module (None for builtins, namespace packages, unknown names)."""
    module = sys.modules.get(name)
    origin = getattr(module, "__file__", None) if module is not None else None
    if origin is None:
        spec = _find_spec(name)
        if spec is None or not spec.has_location or spec.origin is None:
            return None
        origin = spec.origin
    path = Path(origin)
    return path if path.is_file() else None


def _is_package(name: str, path: Path) -> bool:
    return path.name.startswith("__init__.")


def _is_workbench(name: str) -> bool:
    return name == _WORKBENCH or name.startswith(_WORKBENCH + ".")


def _parents(name: str) -> list[str]:
    """``a.b.c`` -> ``[a, a.b]``: the packages an import of ``a.b.c`` executes first."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def imported_names(name: str, path: Path) -> list[str]:
    """Every module an import statement in the file names, resolved to absolute names (parents included).

    ``from pkg import x`` names ``pkg`` and, when ``pkg.x`` is a submodule, ``pkg.x`` as well.
    """
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError):
        return []
    package = name if _is_package(name, path) else name.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found += [*_parents(alias.name), alias.name]
        elif isinstance(node, ast.ImportFrom):
            try:
                base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            except (ImportError, ValueError):
                continue
            found += [*_parents(base), base]
            for alias in node.names:
                if alias.name != "*":
                    candidate = f"{base}.{alias.name}"
                    if _module_file(candidate) is not None:
                        found.append(candidate)
    return found


def module_closure(name: str, workbench: bool = False) -> dict[str, Path]:
    """The project modules (name -> file) that importing ``name`` executes: itself, its parent packages, and
    transitively every imported module outside the Python installation and (unless ``workbench``, for code
    that is itself part of BoundLab, like the calibration) outside BoundLab."""
    out: dict[str, Path] = {}
    seen: set[str] = set()
    todo = [*_parents(name), name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if _is_workbench(current) and current != name and (not workbench or current == _WORKBENCH):
            continue  # (boundlab/__init__ only re-exports: following it would take in the whole package)
        path = _module_file(current)
        if path is None or is_installed(path):
            continue
        out[current] = path
        todo += [m for m in imported_names(current, path) if m not in seen]
    return dict(sorted(out.items()))


def _digest_files(files: Iterable[tuple[str, Path]]) -> str:
    digest = hashlib.sha256()
    for label, path in files:
        digest.update(label.encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def closure_hash_uncached(fn: Callable[..., Any]) -> str:
    """Hash of the import closure of the module defining ``fn`` (recomputed from the files every call)."""
    name = getattr(fn, "__module__", None) or "__main__"
    return _digest_files(module_closure(name).items())


@cache
def closure_hash(fn: Callable[..., Any]) -> str:
    """:func:`closure_hash_uncached`, computed once per function per process."""
    return closure_hash_uncached(fn)


def module_hash(name: str, workbench: bool = False) -> str:
    """Hash of the import closure of module ``name`` (recomputed from the files every call)."""
    return _digest_files(module_closure(name, workbench).items())


@cache
def engine_hash(files: tuple[str, ...]) -> str:
    """Hash of the named BoundLab files that exist (e.g. :data:`MEASUREMENT_ENGINE_FILES`)."""
    return _digest_files((f, _HERE / f) for f in files if (_HERE / f).is_file())
