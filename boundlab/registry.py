"""Discovery of papers and claims: every module in the ``theorems`` package defining PAPER and CLAIMS.

The engine never imports a paper module by name. Extra modules (the calibration claims, a user's own
theorem module) can be added by import name, or through BOUNDLAB_EXTRA_MODULES (comma-separated).
"""

from __future__ import annotations

import fnmatch
import importlib
import os
import pkgutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType

from boundlab.claims import Claim
from boundlab.errors import UsageError
from boundlab.experiments import Experiment
from boundlab.papers import Paper


@cache
def module_claims(module_name: str) -> tuple[Paper, tuple[Claim, ...]]:
    """Import a theorem module and return its PAPER and CLAIMS, each claim stamped with the module name."""
    module: ModuleType = importlib.import_module(module_name)
    paper = getattr(module, "PAPER", None)
    claims = getattr(module, "CLAIMS", None)
    if not isinstance(paper, Paper) or claims is None:
        raise UsageError(f"Module {module_name!r} must define PAPER (a Paper) and CLAIMS (a list of claims).")
    for claim in claims:
        if claim.paper is not paper:
            raise UsageError(f"Claim {claim.id} in {module_name} belongs to another paper.")
        claim.module = module_name
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


def theorem_modules() -> list[str]:
    import theorems

    return [
        f"theorems.{info.name}"
        for info in pkgutil.iter_modules(theorems.__path__)
        if not info.name.startswith("_")
    ]


@dataclass
class Registry:
    papers: dict[str, Paper] = field(default_factory=dict)
    claims: dict[str, Claim] = field(default_factory=dict)

    @classmethod
    def load(cls, extra_modules: Iterable[str] = ()) -> Registry:
        env = [m.strip() for m in os.environ.get("BOUNDLAB_EXTRA_MODULES", "").split(",") if m.strip()]
        registry = cls()
        for name in [*theorem_modules(), *extra_modules, *env]:
            paper, claims = module_claims(name)
            if paper.key in registry.papers and registry.papers[paper.key] is not paper:
                raise UsageError(f"Two modules define paper {paper.key!r}.")
            registry.papers[paper.key] = paper
            for claim in claims:
                if claim.id in registry.claims and registry.claims[claim.id] is not claim:
                    raise UsageError(f"Claim id {claim.id!r} is defined twice.")
                registry.claims[claim.id] = claim
        return registry

    def select(self, selectors: Sequence[str] | None) -> list[Claim]:
        """Claims matching any selector: a claim id, a paper key or a glob over either (none: all)."""
        if not selectors:
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
            if not matched:
                papers = ", ".join(sorted(self.papers)) or "none"
                raise UsageError(
                    f"Unknown claim or paper {selector!r}: it matches no claim id or paper key "
                    f"(papers: {papers}; `boundlab list` shows every claim)."
                )
            for c in matched:
                chosen.setdefault(c.id, c)
        return list(chosen.values())
