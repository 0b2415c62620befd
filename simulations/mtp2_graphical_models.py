r"""Monte Carlo for *Adaptive Estimation of Graphical Models under Total Positivity* (Ying, Cardoso, Palomar).

The model: zero-mean Gaussian samples in R^p whose precision matrix Theta* is an M-matrix, the chain
(path-graph) precision Theta*_ii = 1, Theta*_{i,i+1} = Theta*_{i+1,i} = -rho (rho = 0.4: s = p - 1 edges, smallest
eigenvalue 1 - 2 rho cos(pi / (p + 1)) > 0.2, and diagonally dominant). Two experiments:

* **Existence of the MLE, by a box-bound sweep** (:func:`measure_existence`). For every replicate, the Gaussian
  log-likelihood problem min -log det Theta + tr(S Theta) is solved by cvxpy (``log_det``, CLARABEL) over four
  feasible sets with the box |Theta_ij| <= B added:

  - ``m2``: M-matrices (Theta_ij <= 0, i != j), from n = 2 samples;
  - ``m1``: M-matrices from n = 1 sample (the first of the two);
  - ``dd1``: diagonally dominant M-matrices (also Theta 1 >= 0) from n = 1 sample;
  - ``pd2``: all positive definite matrices (no sign constraint) from n = 2 samples.

  A solver's status cannot say whether the unboxed problem has a minimiser: CLARABEL reports "optimal" on
  unbounded log-det problems. What decides is how the boxed optimum v(B) moves as B grows. Measured at each B is
  the drift per decade, ``drift = (v(B / 10) - v(B)) / log(10)`` (>= 0, the feasible set grows). If the MLE
  exists, v(B) is constant once B exceeds its largest entry, so the drift falls to 0. If it does not, the
  objective decreases without bound along some directions Theta + t D (D with tr(S D) = 0 and the constraints
  kept): each such direction adds -log t, so once the box binds v(B) ~ -k log B and the drift is an integer
  k >= 1 (k = p - n for the unconstrained problem).

* **Estimation error** (:func:`measure_estimation_error`). n samples, the sample covariance S = X^T X / n
  (drawn exactly as a sum of Wishart increments, see :func:`sample_covariances`: O(p^3 log n) work, so n
  up to 10^6 is cheap), the adaptive estimator of :mod:`solvers.mtp2` with lambda = sqrt(log p / n) (the first
  stage is the l1-penalised MLE over M-matrices, later stages use MCP weights, a = 2). Measured: the errors
  ``err_first`` = ||Theta^(1) - Theta*||_F and ``err_multi`` = ||Theta^(K) - Theta*||_F of the first and the
  last stage. Under common random numbers replicate r at n samples is the prefix of replicate r at every larger
  n.

The estimation measure is one batched array computation (the solver works on a leading replicate axis). The
existence measure calls a conic solver, which has no batch axis: it solves one cvxpy problem per replicate and
box bound. (Stacking the replicates as independent blocks of one cvxpy problem was tried: 60 blocks took 25 s
against 7 s for 60 separate solves, and CLARABEL returned "optimal_inaccurate".) Each problem is compiled once
per process with cvxpy parameters for S and B (DPP) and re-solved.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from boundlab import to_numpy
from boundlab.errors import MeasurementError
from solvers.mtp2 import adaptive_mtp2

if TYPE_CHECKING:
    import cvxpy as cp

CHUNK = 100
"""The first block of samples in the estimation experiment: every swept n is CHUNK times a power of 2."""

KINDS: dict[str, tuple[str, int]] = {"m2": ("m", 2), "m1": ("m", 1), "dd1": ("dd", 1), "pd2": ("pd", 2)}
"""Existence outputs: output name -> (feasible set, number of samples)."""

CLARABEL_DEFAULT = {"solver": "CLARABEL"}   # tolerances 1e-8: far below the drift's resolution (~1e-3 of log 10)
CLARABEL_TIGHT = {"solver": "CLARABEL", "tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}
SCS_FALLBACK = {"solver": "SCS", "eps": 1e-7, "max_iters": 20000}


def chain_precision(p: int, rho: float) -> np.ndarray:
    """The chain M-matrix: 1 on the diagonal, -rho next to it (positive definite for rho < 1 / 2)."""
    if not (isinstance(p, int) and p >= 2):
        raise ValueError(f"p must be an integer >= 2, got {p!r}.")
    if not (0.0 <= rho < 0.5):
        raise ValueError(f"rho must lie in [0, 1/2) for a positive definite chain, got {rho!r}.")
    return np.eye(p) - rho * (np.eye(p, k=1) + np.eye(p, k=-1))


def gaussian_samples(rng: np.random.Generator, replicates: int, n: int, theta: np.ndarray) -> np.ndarray:
    """``replicates`` x ``n`` zero-mean Gaussian samples with precision ``theta``, shape (R, n, p)."""
    cov_factor = np.linalg.cholesky(np.linalg.inv(theta))
    return rng.standard_normal((replicates, n, theta.shape[0])) @ cov_factor.T


def wishart_gram(rng: np.random.Generator, replicates: int, df: int, cov_factor: np.ndarray) -> np.ndarray:
    """``replicates`` draws of the Gram matrix of ``df`` zero-mean samples with covariance L L^T (L =
    ``cov_factor``), i.e. Wishart(df, L L^T), by Bartlett's decomposition: W = L A A^T L^T with A lower triangular,
    A_ii^2 ~ chi^2(df - i) (i = 0..p-1) and A_ij ~ N(0, 1) below the diagonal. Needs df >= p."""
    p = cov_factor.shape[0]
    if df < p:
        raise ValueError(f"df must be >= p = {p} for Bartlett's decomposition, got {df}.")
    A = np.zeros((replicates, p, p))
    rows, cols = np.tril_indices(p, -1)
    A[:, np.arange(p), np.arange(p)] = np.sqrt(rng.chisquare(df - np.arange(p), size=(replicates, p)))
    A[:, rows, cols] = rng.standard_normal((replicates, rows.size))
    LA = cov_factor @ A
    return LA @ np.swapaxes(LA, 1, 2)


def sample_covariances(rng: np.random.Generator, replicates: int, n: int, theta: np.ndarray, xp: Any) -> Any:
    """S = X^T X / n for ``replicates`` x ``n`` zero-mean Gaussian samples with precision ``theta``, drawn exactly
    through their sufficient statistic: the Gram matrix is a sum of independent Wishart increments over the
    fixed blocks (0, C], (C, 2C], (2C, 4C], ... of samples (C = ``CHUNK``), so n must be C 2^j, and under common
    random numbers replicate r at n samples is the prefix of replicate r at every larger n. Cost O(p^3 log n)."""
    blocks = n // CHUNK
    if n < CHUNK or n % CHUNK or blocks & (blocks - 1):
        raise ValueError(f"n must be {CHUNK} times a power of 2 (Wishart increments over doubling blocks), got {n}.")
    cov_factor = np.linalg.cholesky(np.linalg.inv(theta))
    gram = wishart_gram(rng, replicates, CHUNK, cov_factor)
    drawn = CHUNK
    while drawn < n:
        gram = gram + wishart_gram(rng, replicates, drawn, cov_factor)
        drawn *= 2
    S = xp.asarray(gram / n)
    return (S + xp.permute_dims(S, (0, 2, 1))) / 2.0


def measure_estimation_error(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any
                             ) -> dict[str, np.ndarray]:
    """Per replicate: ``err_first`` and ``err_multi``, the Frobenius errors of the first and of the last stage of
    the adaptive estimator from N = ``params['n']`` samples, and ``converged`` (1 if every stage converged)."""
    N, p, rho = int(params["n"]), int(params["p"]), float(params["rho"])
    stages, a = int(params["stages"]), float(params["a"])
    theta_star = chain_precision(p, rho)
    S = sample_covariances(rng, n, N, theta_star, xp)
    fits = adaptive_mtp2(S, math.sqrt(math.log(p) / N), stages=stages, a=a, xp=xp)
    truth = xp.asarray(theta_star)[None, :, :]

    def frobenius(theta: Any) -> Any:
        return xp.sqrt(xp.sum((theta - truth) ** 2, axis=(1, 2)))

    converged = fits[0].converged
    for fit in fits[1:]:
        converged = converged & fit.converged
    return {"err_first": to_numpy(frobenius(fits[0].theta)), "err_multi": to_numpy(frobenius(fits[-1].theta)),
            "converged": to_numpy(xp.astype(converged, xp.float64))}



_PROBLEMS: dict[tuple[int, str], tuple[cp.Problem, cp.Parameter, cp.Parameter]] = {}


def boxed_problem(p: int, kind: str) -> tuple[cp.Problem, cp.Parameter, cp.Parameter]:
    import cvxpy as cp  # imported on first use: `boundlab list` never needs the solver stack

    """The compiled-once problem min -log det Theta + tr(S Theta) s.t. |Theta_ij| <= B and the feasible set
    ``kind`` ("m": M-matrices, "dd": diagonally dominant M-matrices, "pd": positive definite), with parameters
    S and B."""
    if kind not in ("m", "dd", "pd"):
        raise ValueError(f"kind must be 'm', 'dd' or 'pd', got {kind!r}.")
    key = (p, kind)
    if key not in _PROBLEMS:
        S = cp.Parameter((p, p), symmetric=True)
        B = cp.Parameter(nonneg=True)
        theta = cp.Variable((p, p), symmetric=True)
        off = 1.0 - np.eye(p)
        constraints = [cp.abs(theta) <= B]
        if kind in ("m", "dd"):
            constraints.append(cp.multiply(off, theta) <= 0)
        if kind == "dd":
            constraints.append(theta @ np.ones(p) >= 0)
        problem = cp.Problem(cp.Minimize(-cp.log_det(theta) + cp.trace(S @ theta)), constraints)
        _PROBLEMS[key] = (problem, S, B)
    return _PROBLEMS[key]


def boxed_optimum(S: np.ndarray, kind: str, bound: float) -> tuple[float, int]:
    """v(B) for one sample covariance and one box bound, and how many solver attempts it took. CLARABEL with its
    default tolerances first; if it fails or stops at "optimal_inaccurate", CLARABEL with tight tolerances; the
    first "optimal" value is used, else the first "optimal_inaccurate" one; SCS only when both CLARABEL runs
    fail outright."""
    import cvxpy as cp

    problem, S_par, B_par = boxed_problem(S.shape[0], kind)
    S_par.value = (S + S.T) / 2.0
    B_par.value = float(bound)
    fallback: float | None = None
    attempts = 0
    for options in (CLARABEL_DEFAULT, CLARABEL_TIGHT, SCS_FALLBACK):
        if options is SCS_FALLBACK and fallback is not None:
            break
        attempts += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)   # "Solution may be inaccurate": handled here
                problem.solve(**options)
        except cp.error.SolverError:
            continue
        if problem.value is None:
            continue
        if problem.status == "optimal":
            return float(problem.value), attempts
        if problem.status == "optimal_inaccurate" and fallback is None:
            fallback = float(problem.value)
    if fallback is not None:
        return fallback, attempts
    raise MeasurementError(f"every solver failed on the boxed {kind!r} problem at B = {bound:g}.")


def measure_existence(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any
                      ) -> dict[str, np.ndarray]:
    """Per replicate, at box bound B = ``params['B']``: the drift per decade (v(B / 10) - v(B)) / log 10 of the
    four problems of :data:`KINDS` (outputs ``drift_m2``, ``drift_m1``, ``drift_dd1``, ``drift_pd2``), all on the
    same two samples, and ``retries`` (solver attempts beyond the first, over the eight solves). ``xp`` is not
    used: the solves are cvxpy's, on NumPy data."""
    p, rho, bound = int(params["p"]), float(params["rho"]), float(params["B"])
    X = gaussian_samples(rng, n, 2, chain_precision(p, rho))
    out = {f"drift_{name}": np.empty(n) for name in KINDS}
    retries = np.zeros(n)
    for name, (kind, samples) in KINDS.items():
        S = np.einsum("rki,rkj->rij", X[:, :samples], X[:, :samples]) / samples
        for r in range(n):   # a conic solver has no batch axis (see the module docstring)
            low, tries_low = boxed_optimum(S[r], kind, bound / 10.0)
            high, tries_high = boxed_optimum(S[r], kind, bound)
            out[f"drift_{name}"][r] = (low - high) / math.log(10.0)
            retries[r] += tries_low + tries_high - 2
    out["retries"] = retries
    return out
