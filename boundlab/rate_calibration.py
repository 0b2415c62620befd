"""Calibration of rate claims on known truths, through the same ``RateClaim.decide`` path as ``verify``.

Each case declares a real :class:`~boundlab.claims.RateClaim` (sympy shape, margin, mutants, load-time checks)
over a synthetic experiment whose sweep is the case's, then feeds it synthetic measurements whose law is known:
power laws with log-normal or Pareto noise, ``c log n - k`` with Gaussian noise (independent points, or one
random walk per replicate observed along the sweep, as under common random numbers), at the margin's edge and
at the replicate counts real claims use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sympy as sp

from boundlab.claims import Mutant, PointData, RateClaim, reconstructed
from boundlab.experiments import Budget, Experiment, grid
from boundlab.papers import Paper
from boundlab.seeding import stable_int
from boundlab.statements import Asymptotic

PAPER = Paper("rate-calibration", "Known-truth rate claims (BoundLab calibration)", ("BoundLab",), "internal", 2026,
              "none")
n = sp.Symbol("n", positive=True)
Q = sp.Symbol("Q", real=True)
POWER_SWEEP = (10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0)
LOG_SWEEP = (1e3, 3e3, 1e4, 3e4, 1e5)

Truth = Callable[[np.ndarray, np.random.Generator, int], np.ndarray]  # (x, rng, reps) -> (points, reps)



#: The heavy-tailed row: at the margin's edge with Pareto(3) noise (infinite third moment) and 64 replicates. With
#: each point weighted by its own sample variance it sat at 0.093 [0.076, 0.113] over 1000 seeds; with the smoothed
#: variances of boundlab.rates.smoothed_variances it is within nominal (0.052 [0.039, 0.068]).
HEAVY_TAILED_EDGE = "rate O(n^0.5) at the margin edge, Pareto(3), 64 reps"

def power_law(exponent: float, noise: str = "lognormal") -> Truth:
    """Q = 3 n^exponent times mean-one noise: log-normal (sigma 0.5) or Pareto with tail index 3."""

    def draw(x: np.ndarray, rng: np.random.Generator, reps: int) -> np.ndarray:
        if noise == "lognormal":
            mult = rng.lognormal(-0.125, 0.5, size=(x.size, reps))
        else:
            mult = (rng.pareto(3.0, size=(x.size, reps)) + 1.0) * 2.0 / 3.0
        return 3.0 * x[:, None] ** exponent * mult

    return draw


def log_law(log_power: float = 1.0, sd: float = 1.0, paired: bool = False) -> Truth:
    """Q = 5 L (L / L_ref)^(log_power - 1) - 10 + noise with L = log n, L_ref at the sweep's centre: c log n - k
    for log_power = 1, and a deviation of (log_power - 1) powers of log n from it otherwise. Noise: Gaussian with
    sd ``sd`` per point, or (paired) a Gaussian random walk along the sweep with that sd per step."""

    def draw(x: np.ndarray, rng: np.random.Generator, reps: int) -> np.ndarray:
        L = np.log(x)
        ref = np.exp(np.mean(np.log(L)))
        mean = 5.0 * L * (L / ref) ** (log_power - 1.0) - 10.0
        steps = sd * rng.standard_normal((x.size, reps))
        noise = np.cumsum(steps, axis=0) if paired else steps
        return mean[:, None] + noise

    return draw


@dataclass(frozen=True, eq=False)
class RateCase:
    """A rate claim (shape, order, margin, mutants) over a sweep, judged on data from a known truth."""

    name: str
    shape: sp.Expr
    order: str
    margin: float
    mutants: tuple[tuple[str, sp.Expr], ...]
    truth: Truth
    sweep: tuple[float, ...]
    replicates: int
    paired: bool = False

    @cached_property
    def claim(self) -> RateClaim:
        budget = Budget(grid(n=list(self.sweep)), replicates=self.replicates, block=self.replicates)
        experiment = Experiment(f"synthetic-{stable_int(self.name) % 10**8}", self.name,
                                {"quick": budget, "standard": budget, "full": budget},
                                measure=lambda p, rng, size, xp: {"Q": np.zeros(size)}, outputs=("Q",),
                                common_random_numbers=self.paired)
        mutants = tuple(Mutant(name, Asymptotic(Q, order, shape), "calibration mutant")
                        for name, (order, shape) in ((m, _split(e)) for m, e in self.mutants))
        return RateClaim(f"case-{stable_int(self.name) % 10**8}", PAPER, Asymptotic(Q, self.order, self.shape),
                         experiment, reconstructed("Synthetic: the truth is known."), variable="n",
                         exponent_margin=self.margin, mutants=mutants)

    def decide(self, seed: int) -> tuple[str, float]:
        """(verdict, resolution on the claim's relevant side) on one draw of the truth."""
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stable_int(self.name),)))
        x = np.asarray(self.sweep, float)
        data = self.truth(x, rng, self.replicates)
        points = [PointData({"n": float(v)}, {"Q": data[i]}, [{}] * self.replicates) for i, v in enumerate(x)]
        decision = self.claim.decide(self.claim.statement, points, rng)
        relevant = decision.resolution["relevant"] if decision.resolution else float("inf")
        return decision.verdict, float(relevant)


def _split(spec: sp.Expr | tuple[str, sp.Expr]) -> tuple[str, sp.Expr]:
    return spec if isinstance(spec, tuple) else ("Theta", spec)


L = sp.log(n)
LOG_MUTANTS = (("log-squared", ("Theta", L**2)), ("sqrt-log", ("Theta", sp.sqrt(L))))
O_LOG_MUTANTS = (("sqrt-log", ("O", sp.sqrt(L))),)
OMEGA_MUTANTS = (("grows-like-log", ("Omega", L)),)


def power_case(name: str, claimed: float, order: str, truth: Truth, replicates: int = 64) -> RateCase:
    if order == "Theta":
        mutants = (("exponent-plus-quarter", ("Theta", n ** (claimed + 0.25))),
                   ("exponent-minus-quarter", ("Theta", n ** (claimed - 0.25))))
    elif order == "O":
        mutants = (("smaller", ("O", n ** (claimed - 0.25))),)
    else:
        mutants = (("larger", ("Omega", n ** (claimed + 0.25))),)
    return RateCase(name, n**claimed, order, 0.1, mutants, truth, POWER_SWEEP, replicates)


def log_case(name: str, shape: sp.Expr, order: str, truth: Truth, replicates: int = 64, paired: bool = False,
             margin: float = 0.25, mutants: tuple = ()) -> RateCase:
    return RateCase(name, shape, order, margin, mutants, truth, LOG_SWEEP, replicates, paired)


@dataclass(frozen=True)
class Row:
    """A calibration row: the case, the verdict counted, and the nominal rate (None for power rows)."""

    case: RateCase
    want: str
    nominal: float | None


def rows() -> list[Row]:
    """The rate rows of the calibration table: false violations of true claims (at the margin's edge included),
    and the power against false claims, at the replicate counts real claims use."""
    edge = 0.6  # the O(n^0.5) claim with margin 0.1, at the edge of its margin
    false = [
        Row(power_case("rate Theta(n^0.5), log-normal, 64 reps", 0.5, "Theta", power_law(0.5)), "violated", 0.05),
        Row(power_case("rate O(n^0.5) at the margin edge (n^0.6), 64 reps", 0.5, "O", power_law(edge)),
            "violated", 0.05),
        Row(power_case("rate O(n^0.5) at the margin edge, 32 reps", 0.5, "O", power_law(edge), 32), "violated", 0.05),
        Row(power_case("rate Theta(n^0.5) at the lower edge (n^0.4), 64 reps", 0.5, "Theta", power_law(0.4)),
            "violated", 0.05),
        Row(power_case(HEAVY_TAILED_EDGE, 0.5, "O", power_law(edge, "pareto")),
            "violated", 0.05),
        Row(log_case("rate Theta(log n) on c log n - k, 64 reps", L, "Theta", log_law(), mutants=LOG_MUTANTS),
            "violated", 0.05),
        Row(log_case("rate O(log n) at the margin edge ((log n)^1.25), 64 reps", L, "O", log_law(1.25),
                     mutants=O_LOG_MUTANTS), "violated", 0.05),
        Row(log_case("rate O(log n) at the margin edge, 32 reps", L, "O", log_law(1.25), 32, mutants=O_LOG_MUTANTS),
            "violated", 0.05),
        Row(log_case("rate Omega(1) at the margin edge ((log n)^-0.25 c), 32 reps", sp.Integer(1), "Omega",
                     lambda x, rng, r: 5.0 * np.log(x)[:, None] ** -0.25 * rng.lognormal(-0.125, 0.5, (x.size, r)),
                     32, mutants=OMEGA_MUTANTS), "violated", 0.05),
        Row(log_case("rate Theta(log n), paired random walk, 64 reps", L, "Theta", log_law(paired=True), paired=True,
                     mutants=LOG_MUTANTS), "violated", 0.05),
    ]
    power = [
        Row(power_case("power: Theta(n^0.75) on n^0.5", 0.75, "Theta", power_law(0.5)), "violated", None),
        Row(power_case("power: O(n^0.25) on n^0.5", 0.25, "O", power_law(0.5)), "violated", None),
        Row(log_case("power: O(sqrt(log n)) on c log n - k", sp.sqrt(L), "O", log_law(),
                     mutants=(("constant", ("O", sp.Integer(1))),)), "violated", None),
        Row(log_case("power: O(log log n) on c log n - k", sp.log(L), "O", log_law(),
                     mutants=(("constant", ("O", sp.Integer(1))),)), "violated", None),
        Row(log_case("power: Theta(log^2 n) on c log n - k", L**2, "Theta", log_law(),
                     mutants=(("cube", ("Theta", L**3)), ("log", ("Theta", L)))), "violated", None),
        Row(log_case("power: Theta(n^0.1) on c log n - k", n**0.1, "Theta", log_law(), margin=0.05,
                     mutants=(("n-to-the-0-2", ("Theta", n**0.2)), ("constant", ("Theta", sp.Integer(1))))),
            "violated", None),
        Row(log_case("power: true Theta(log n) judged consistent", L, "Theta", log_law(), mutants=LOG_MUTANTS),
            "consistent", None),
        Row(log_case("power: true O(log^2 n) judged consistent", L**2, "O", log_law(),
                     mutants=(("log", ("O", L)),)), "consistent", None),
        Row(power_case("power: true Theta(n^0.5) judged consistent", 0.5, "Theta", power_law(0.5)), "consistent",
            None),
    ]
    return false + power
