"""Discovery of papers and claims: every module in the ``theorems`` package defining PAPER and CLAIMS.

The engine never imports a paper module by name. Extra modules (the calibration claims, a user's own
theorem module) can be added by import name, or through BOUNDLAB_EXTRA_MODULES (comma-separated).

A module that fails to import or to declare its claims is recorded as broken (``Registry.broken``) instead
of stopping the load: the other papers stay listable and verifiable.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import os
import pkgutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType

from boundlab.claims import Claim
from boundlab.declarations import check_declarations
from boundlab.errors import UsageError
from boundlab.experiments import Experiment
from boundlab.papers import Paper


@cache
def module_claims(module_name: str) -> tuple[Paper, tuple[Claim, ...]]:
    """Import a theorem module and return its PAPER and CLAIMS, each claim stamped with the module name and its
    declarations checked (boundlab.declarations)."""
    module: ModuleType = importlib.import_module(module_name)
    paper = getattr(module, "PAPER", None)
    claims = getattr(module, "CLAIMS", None)
    if not isinstance(paper, Paper) or claims is None:
        raise UsageError(f"Module {module_name!r} must define PAPER (a Paper) and CLAIMS (a list of claims).")
    for claim in claims:
        if claim.paper is not paper:
            raise UsageError(f"Claim {claim.id} in {module_name} belongs to another paper.")
        claim.module = module_name
        check_declarations(claim, getattr(module, "__file__", None) or module_name)
    return paper, tuple(claims)


def find_claim(module_name: str, claim_name: str) -> Claim:
    _, claims = module_claims(module_name)
    for claim in claims:
        if claim.name == claim_name:
            return claim
    raise UsageError(f"Module {module_name} has no claim {claim_name!r}.")


def find_experiment(module_name: str, experiment_name: str) -> Experiment:
    _, claims = module_claims(module_name)
    for claim in claims:
        if claim.experiment.name == experiment_name:
            return claim.experiment
    raise UsageError(f"Module {module_name} has no experiment {experiment_name!r}.")


def module_file(module_name: str) -> str:
    """The source file of a module, without importing it ('?' when it cannot be found)."""
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return "?"
    return spec.origin if spec is not None and spec.origin else "?"


def one_line_error(exc: BaseException) -> str:
    """An exception as one line: its first line, prefixed by its type unless it is a UsageError."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    return text if isinstance(exc, UsageError) else f"{type(exc).__name__}: {text}".rstrip(": ")


def theorem_modules() -> list[str]:
    import theorems

    return [
        f"theorems.{info.name}"
        for info in pkgutil.iter_modules(theorems.__path__)
        if not info.name.startswith("_")
    ]


_GLOB = set("*?[")


def _modules_named_by(selectors: Sequence[str] | None) -> list[str] | None:
    """The theorem modules named after the papers of glob-free selectors (None: no selectors or a glob, so
    everything must be loaded). A paper with no theorem module of its name adds none: it may come from an extra
    module."""
    if not selectors:
        return None
    available = set(theorem_modules())
    names = []
    for selector in selectors:
        base = selector.split("~", 1)[0]
        if _GLOB & set(base):
            return None
        module = "theorems." + base.split("/", 1)[0].replace("-", "_")
        if module in available:
            names.append(module)
    return names


@dataclass
class Registry:
    """Papers and claims by key, and the modules that could not be loaded (module -> one-line error)."""

    papers: dict[str, Paper] = field(default_factory=dict)
    claims: dict[str, Claim] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, extra_modules: Iterable[str] = (), selectors: Sequence[str] | None = None) -> Registry:
        """Every theorem module, the extra ones and those of BOUNDLAB_EXTRA_MODULES.

        With ``selectors`` (as for :meth:`select`) that name papers or claims without a glob, only the theorem
        modules named after those papers (paper key ``a-b`` in ``theorems/a_b.py``) are imported, with the extra
        ones, so that verifying one paper does not import and check the declarations of every other. When that
        narrower registry does not match every selector, everything is loaded, so unknown names and broken
        modules are reported exactly as by a full load.
        """
        extras = [*extra_modules, *(m.strip() for m in os.environ.get("BOUNDLAB_EXTRA_MODULES", "").split(",")
                                    if m.strip())]
        named = _modules_named_by(selectors)
        if named is not None:
            registry = cls._from_modules([*named, *extras])
            if not registry.broken and registry._matches_every(selectors or ()):
                return registry
        return cls._from_modules([*theorem_modules(), *extras])

    def _matches_every(self, selectors: Sequence[str]) -> bool:
        bases = [s.split("~", 1)[0] for s in selectors]
        return all(base in self.claims or base in self.papers for base in bases)

    @classmethod
    def _from_modules(cls, names: Iterable[str]) -> Registry:
        registry = cls()
        for name in dict.fromkeys(names):
            try:
                registry._add(name)
            except Exception as exc:  # a broken paper must not take the others down
                registry.files[name] = module_file(name)
                registry.broken[name] = one_line_error(exc)
        return registry

    def _add(self, name: str) -> None:
        paper, claims = module_claims(name)
        if paper.key in self.papers and self.papers[paper.key] is not paper:
            raise UsageError(f"Two modules define paper {paper.key!r}.")
        for claim in claims:
            if claim.id in self.claims and self.claims[claim.id] is not claim:
                raise UsageError(f"Claim id {claim.id!r} is defined twice.")
        self.papers[paper.key] = paper
        self.claims.update((claim.id, claim) for claim in claims)

    def broken_summary(self) -> str:
        """The broken modules as one line: 'file: error; file: error'."""
        return "; ".join(f"{self.files[m]}: {e}" for m, e in self.broken.items())

    def broken_list(self) -> list[dict[str, str]]:
        """The broken modules, for ``list --json``."""
        return [{"module": m, "file": self.files[m], "error": e} for m, e in self.broken.items()]

    def select(self, selectors: Sequence[str] | None, allow_broken: bool = False) -> list[Claim]:
        """Claims matching any selector: a claim id, a paper key or a glob over either (none: all).

        Selecting everything while a module is broken is an error (unless ``allow_broken``, as for listing),
        and so is a selector that matches nothing, naming the broken modules it may have been meant for.
        """
        if not selectors:
            if self.broken and not allow_broken:
                raise UsageError(f"cannot verify every paper: broken theorem module {self.broken_summary()}")
            return list(self.claims.values())
        chosen: dict[str, Claim] = {}
        for selector in selectors:
            base = selector.split("~", 1)[0]
            matched = [
                c
                for c in self.claims.values()
                if c.id == base
                or c.paper.key == base
                or fnmatch.fnmatchcase(c.id, base)
                or fnmatch.fnmatchcase(c.paper.key, base)
            ]
            if not matched and self.broken:
                raise UsageError(f"{selector!r} matches no loaded claim; broken theorem module "
                                 f"{self.broken_summary()}")
            if not matched:
                papers = ", ".join(sorted(self.papers)) or "none"
                raise UsageError(
                    f"Unknown claim or paper {selector!r}: it matches no claim id or paper key "
                    f"(papers: {papers}; `boundlab list` shows every claim)."
                )
            if "~" in selector:
                self._check_mutants(selector, matched)
            for c in matched:
                chosen.setdefault(c.id, c)
        return list(chosen.values())

    @staticmethod
    def _check_mutants(selector: str, matched: Sequence[Claim]) -> None:
        pattern = selector.split("~", 1)[1]
        if not any(fnmatch.fnmatchcase(m.name, pattern) for c in matched for m in c.mutants):
            names = sorted({m.name for c in matched for m in c.mutants})
            raise UsageError(f"Unknown mutant {pattern!r} in {selector!r}: the matched claim(s) have the mutants "
                             f"{', '.join(names) or 'none'} (`boundlab list` shows them as claim~mutant).")

    @staticmethod
    def mutant_selection(selectors: Sequence[str] | None, claims: Sequence[Claim]) -> dict[str, set[str]]:
        """The mutants that ``claim~mutant`` selectors ask for (a glob after ~ is allowed), by claim id."""
        chosen: dict[str, set[str]] = {}
        for selector in selectors or ():
            if "~" not in selector:
                continue
            base, pattern = selector.split("~", 1)
            for c in claims:
                if c.id == base or c.paper.key == base or fnmatch.fnmatchcase(c.id, base) \
                        or fnmatch.fnmatchcase(c.paper.key, base):
                    chosen.setdefault(c.id, set()).update(m.name for m in c.mutants
                                                           if fnmatch.fnmatchcase(m.name, pattern))
        return chosen
