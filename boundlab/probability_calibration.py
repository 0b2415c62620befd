"""Calibration of high-probability claims on known truths, through the same ``HighProbabilityClaim.decide`` path
as ``verify``.

Each case declares a real :class:`~boundlab.kinds.high_probability.HighProbabilityClaim` ``P[Q > B] <= delta``
(load-time checks included) over a synthetic experiment whose sweep is the case's deltas, then feeds it synthetic
replicates whose exceedance probability is known exactly:

* ``bernoulli``: Q uniform on [0, 1], B = 1 - p, so P[Q > B] = p;
* ``gaussian``: Q standard normal, B = the (1 - p) quantile, so P[Q > B] = p (a Gaussian tail).

At the boundary (true p = delta) the false-violation rate is measured (nominal alpha = 0.05); with delta too small
by 2x (true p = 2 delta) the power; with true p = delta / 2 the rate of passes (``consistent``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import sympy as sp

from boundlab.experiments import Budget, Experiment, grid
from boundlab.kinds.base import Mutant, PointData, reconstructed
from boundlab.kinds.high_probability import HighProbabilityClaim
from boundlab.papers import Paper
from boundlab.seeding import stable_int
from boundlab.statements import Probability, Relation

PAPER = Paper("probability-calibration", "Known-truth high-probability claims (BoundLab calibration)", ("BoundLab",),
              "internal", 2026, "none")
Q = sp.Symbol("Q", real=True)
B, delta = sp.symbols("B delta", positive=True)
DELTAS = (0.05, 0.1, 0.2)
MARGIN = 0.5


def _unused(params: Mapping[str, Any], rng: np.random.Generator, size: int, xp: Any) -> dict[str, Any]:
    raise NotImplementedError("calibration cases feed the claim synthetic replicates directly")


@dataclass(frozen=True)
class Case:
    """A synthetic claim P[Q > B] <= stated delta at the given deltas, with true exceedance ``truth`` x delta."""

    name: str
    noise: str  # "bernoulli" | "gaussian"
    truth: float  # the true probability, as a multiple of the stated delta
    replicates: int
    deltas: tuple[float, ...] = DELTAS

    @cached_property
    def claim(self) -> HighProbabilityClaim:
        budget = Budget(grid(delta=list(self.deltas)), replicates=self.replicates, block=self.replicates)
        experiment = Experiment(f"exceedance-{self.noise}", "synthetic replicates with a known exceedance",
                                {"quick": budget, "standard": budget, "full": budget}, measure=_unused,
                                outputs=("Q", "B"))
        return HighProbabilityClaim(
            "case", PAPER, Probability(Relation(sp.Gt(Q, B)), delta), experiment,
            reconstructed("Synthetic: the exceedance probability is known by construction."), relative_margin=MARGIN,
            mutants=(Mutant("half-delta", Probability(Relation(sp.Gt(Q, B)), delta / 2), "delta off by 2x."),))

    def points(self, seed: int) -> list[PointData]:
        from scipy.stats import norm

        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stable_int(self.name),)))
        out = []
        for d in self.deltas:
            p = min(self.truth * d, 1.0)
            if self.noise == "bernoulli":
                q, b = rng.uniform(size=self.replicates), 1.0 - p
            else:
                q, b = rng.standard_normal(self.replicates), float(norm.isf(p))
            out.append(PointData({"delta": d}, {"Q": q, "B": np.full(self.replicates, b)},
                                 [{"index": i} for i in range(self.replicates)]))
        return out

    def decide(self, seed: int) -> str:
        """The verdict of ``verify``'s decide path on one seed's synthetic replicates."""
        claim = self.claim
        return claim.decide(claim.statement, self.points(seed), np.random.default_rng(seed)).verdict


@dataclass(frozen=True)
class Row:
    """A calibration row: the case, the verdict counted, and the nominal level (None: a power row)."""

    case: Case
    want: str
    nominal: float | None


def rows() -> list[Row]:
    """The high-probability rows of boundlab.calibration.calibrate()."""
    return [
        Row(Case("P[Q > B] <= delta at the boundary (true P = delta), Bernoulli, 3 points, 200 reps", "bernoulli",
                 1.0, 200), "violated", 0.05),
        Row(Case("P[Q > B] <= delta at the boundary (true P = delta), Gaussian tail, 3 points, 2000 reps",
                 "gaussian", 1.0, 2000), "violated", 0.05),
        Row(Case("P[Q > B] <= 0.05 at the boundary, Gaussian tail, 1 point, 1000 reps", "gaussian", 1.0, 1000,
                 (0.05,)), "violated", 0.05),
        Row(Case("power: high-probability delta too small by 2x (true P = 2 delta), 200 reps", "bernoulli", 2.0,
                 200), "violated", None),
        Row(Case("power: high-probability delta too small by 2x (true P = 2 delta), Gaussian tail, 2000 reps",
                 "gaussian", 2.0, 2000), "violated", None),
        Row(Case("power: true P = delta/2 judged consistent (margin 0.5), 2000 reps", "gaussian", 0.5, 2000),
            "consistent", None),
    ]
