r"""Instances for *Grokking in Linear Estimators -- A Solvable Model that Groks without Understanding* (Levi, Beck,
Bar-Sinai, arXiv:2310.16441): a linear student S trained by full-batch gradient descent to imitate a linear
teacher T on Gaussian inputs.

The model (the paper's Eqs. 1-3). Inputs x in R^d, N training samples with covariance Sigma = X^T X / N,
student and teacher S, T in R^{d x k} (k = d_out), D = S - T. Training loss L_tr = Tr(D^T Sigma D) / k,
generalisation (population) loss L_gen = ||D||_F^2 / k, and gradient descent with weight decay gamma:

    S_{t+1} = S_t - (eta / k) (2 Sigma D_t + gamma S_t).

The exact solution in the eigenbasis Sigma = P diag(nu) P^T: with a_i = 1 - eta (2 nu_i + gamma) / k and the fixed
point D_inf = -gamma (2 Sigma + gamma I)^{-1} T, the rotated error is P^T D_t = a^t (P^T D_0 - P^T D_inf) + P^T D_inf
row by row, so both losses are explicit sums over the spectrum (:func:`spectral_losses`). :func:`gd_losses`
iterates the update itself; the sure claim compares the two.

Grokking (Section 3.1, k = 1, gamma = 0). A generalisation sample is classified correctly when (D^T x)^2 < eps;
since D^T x ~ N(0, L_gen) the population accuracy is erf(sqrt(eps / (2 L_gen))), which reaches erf(sqrt 2)
(95.45%) exactly when L_gen = eps / 4; the paper defines the training time the same way through L_tr. With
w_i = (P^T D_0)_i^2 the losses are sum_i w_i nu_i a_i^(2t) and sum_i w_i a_i^(2t), non-increasing in t, and the
crossing times t*_tr, t*_gen (real t, the losses interpolated between steps) are found by bisection
(:func:`crossing_time`). As eps -> 0 only the slowest mode survives, and the delay tends to
log(1 / nu_min) / (-2 log(1 - 2 eta nu_min)) (:func:`limit_delay`).

The training covariance of the grokking experiments is drawn exactly from its law without forming X: N Sigma is
Wishart W_d(N, I), drawn by Bartlett's decomposition L L^T (L lower triangular, L_ii^2 ~ chi^2_{N-i+1}, L_ij ~
N(0, 1) below the diagonal). Its law is invariant under rotations and D_0 ~ N(0, I / d) is drawn independently,
as with S_0, T ~ N(0, 1 / (2 d)) in the paper. This costs O(d^3) per replicate instead of O(N d^2).

Every function is batched over a leading replicate axis and written against the array API (``xp``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import Box, Product, to_numpy

#: Bisection steps for the crossing times: the bracket [0, t_hi] shrinks to t_hi 2^-80 (below float64 spacing).
BISECTION_STEPS = 80


# ---------------------------------------------------------------------------------------------- validation
def _finite(x: Any, name: str, xp: Any) -> None:
    if not bool(xp.all(xp.isfinite(x))):
        raise ValueError(f"{name} must be finite (got NaN or inf).")


def _check_problem(X: Any, S0: Any, T: Any, eta: Any, gamma: Any, steps: int, xp: Any) -> tuple[int, int, int]:
    """Shapes X (B, N, d), S0 and T (B, d, k), eta and gamma (B,); eta > 0, gamma >= 0, steps a count."""
    if X.ndim != 3:
        raise ValueError(f"X (the training inputs) must have shape (batch, N, d), got {tuple(X.shape)}.")
    B, _, d = X.shape
    for name, M in (("S0", S0), ("T", T)):
        if M.ndim != 3 or M.shape[0] != B or M.shape[1] != d:
            raise ValueError(f"{name} must have shape (batch, d, k) = ({B}, {d}, k), got {tuple(M.shape)}.")
    if S0.shape != T.shape:
        raise ValueError(f"S0 and T must have the same shape, got {tuple(S0.shape)} and {tuple(T.shape)}.")
    for name, v in (("eta", eta), ("gamma", gamma)):
        if v.ndim != 1 or v.shape[0] != B:
            raise ValueError(f"{name} must have shape (batch,) = ({B},), got {tuple(v.shape)}.")
    for name, v in (("X", X), ("S0", S0), ("T", T), ("eta", eta), ("gamma", gamma)):
        _finite(v, name, xp)
    if not bool(xp.all(eta > 0)):
        raise ValueError("eta (the step size) must be > 0.")
    if not bool(xp.all(gamma >= 0)):
        raise ValueError("gamma (the weight decay) must be >= 0.")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}.")
    return int(B), int(d), int(S0.shape[2])


def _mT(A: Any, xp: Any) -> Any:
    return xp.permute_dims(A, (0, 2, 1))


# ---------------------------------------------------------------------------------------------- dynamics
def training_covariance(X: Any, xp: Any) -> Any:
    """Sigma = X^T X / N for a batch of inputs X (B, N, d)."""
    return _mT(X, xp) @ X / X.shape[1]


def gd_losses(X: Any, S0: Any, T: Any, eta: Any, gamma: Any, steps: int, xp: Any) -> tuple[Any, Any]:
    """(L_tr, L_gen) after ``steps`` iterations of S <- S - (eta / k) (2 Sigma (S - T) + gamma S), per replicate."""
    _, _, k = _check_problem(X, S0, T, eta, gamma, steps, xp)
    sigma = training_covariance(X, xp)
    rate, decay = (eta / k)[:, None, None], (gamma * eta / k)[:, None, None]
    S = S0
    for _ in range(steps):
        S = S - 2.0 * rate * (sigma @ (S - T)) - decay * S
    D = S - T
    return xp.sum(D * (sigma @ D), axis=(1, 2)) / k, xp.sum(D * D, axis=(1, 2)) / k


def spectral_losses(X: Any, S0: Any, T: Any, eta: Any, gamma: Any, steps: int, xp: Any, flow: bool = False
                    ) -> tuple[Any, Any]:
    """(L_tr, L_gen) after ``steps`` steps from the eigen-decomposition of Sigma (no iteration). ``flow=True``
    gives gradient flow at time eta t instead (factors exp(-eta (2 nu + gamma) t / k), the paper's Eq. 4)."""
    _, _, k = _check_problem(X, S0, T, eta, gamma, steps, xp)
    nu, P = xp.linalg.eigh(training_covariance(X, xp))
    Pt = _mT(P, xp)
    t_rot, d_rot = Pt @ T, Pt @ (S0 - T)
    g = gamma[:, None]
    shift = 2.0 * nu + g
    safe = xp.where(shift > 0, shift, xp.ones_like(shift))
    d_inf = xp.where((shift > 0)[:, :, None], -(g / safe)[:, :, None] * t_rot, xp.zeros_like(t_rot))
    rate = eta[:, None] * shift / k
    factor = xp.exp(-rate * steps) if flow else (1.0 - rate) ** steps
    D = factor[:, :, None] * (d_rot - d_inf) + d_inf
    return xp.sum(nu[:, :, None] * D * D, axis=(1, 2)) / k, xp.sum(D * D, axis=(1, 2)) / k


# ---------------------------------------------------------------------------------------------- grokking times
def _check_spectrum(nu: Any, weights: Any, eta: float, xp: Any) -> None:
    if nu.ndim != 2 or weights.shape != nu.shape:
        raise ValueError(f"nu and weights must both have shape (batch, d), got {tuple(nu.shape)} and "
                         f"{tuple(weights.shape)}.")
    _finite(nu, "nu", xp)
    _finite(weights, "weights", xp)
    if not bool(xp.all(nu > 0)):
        raise ValueError("nu (the eigenvalues of Sigma) must be > 0: with a null direction the generalisation loss "
                         "never falls below its share (lambda = d / N < 1 is needed).")
    if not bool(xp.all(weights >= 0)):
        raise ValueError("weights (squared projections of D_0) must be >= 0.")
    if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta > 0):
        raise ValueError(f"eta (the step size) must be a finite number > 0, got {eta!r}.")
    if not bool(xp.all(2.0 * eta * nu < 1.0)):
        raise ValueError("eta must satisfy 2 eta nu_max < 1, so that every mode decays monotonically.")


def crossing_time(nu: Any, weights: Any, q: Any, eta: float, level: float, xp: Any) -> Any:
    """Per replicate, the real t >= 0 where sum_i weights_i q_i (1 - 2 eta nu_i)^(2t) falls to ``level``
    (``q`` = nu for the training loss, ones for the generalisation loss); 0 if it starts below."""
    _check_spectrum(nu, weights, eta, xp)
    if not (isinstance(level, (int, float)) and math.isfinite(level) and level > 0):
        raise ValueError(f"level (the loss threshold eps / 4) must be a finite number > 0, got {level!r}.")
    log_a = xp.log1p(-2.0 * eta * nu)                          # < 0
    w = weights * q
    total = xp.sum(w, axis=1)
    slowest = xp.max(log_a, axis=1)                            # the largest contraction factor
    # loss(t) <= total a_max^(2t), so the loss is below level at t_hi
    t_hi = xp.where(total > level, xp.log(level / total) / (2.0 * slowest), xp.zeros_like(total))
    lo, hi = xp.zeros_like(t_hi), t_hi
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        above = xp.sum(w * xp.exp(2.0 * mid[:, None] * log_a), axis=1) > level
        lo, hi = xp.where(above, mid, lo), xp.where(above, hi, mid)
    return 0.5 * (lo + hi)


def limit_delay(nu_min: Any, eta: float, xp: Any) -> Any:
    """lim_{eps -> 0} (t*_gen - t*_tr) = log(1 / nu_min) / (-2 log(1 - 2 eta nu_min)): only the slowest mode is
    left, and L_gen / L_tr -> 1 / nu_min."""
    return -xp.log(nu_min) / (-2.0 * xp.log1p(-2.0 * eta * nu_min))


def eq12_delay(kappa: float, eta: float) -> float:
    """Eq. 12, log(1 / (1 - sqrt(lambda))) / (2 eta (1 - sqrt(lambda))^2), with kappa = 1 / (1 - sqrt(lambda))."""
    return math.log(kappa) * kappa**2 / (2.0 * eta)


def wishart_covariance(rng: np.random.Generator, count: int, d: int, N: int, xp: Any) -> Any:
    """``count`` draws of Sigma = X^T X / N for X with N i.i.d. N(0, I_d) rows, by Bartlett's decomposition."""
    L = np.tril(rng.standard_normal((count, d, d)), k=-1)
    diag = np.sqrt(rng.chisquare(N - np.arange(d), size=(count, d)))
    L[:, np.arange(d), np.arange(d)] = diag
    Lx = xp.asarray(L)
    return Lx @ _mT(Lx, xp) / N


# ---------------------------------------------------------------------------------------------- experiments
def samples_for(kappa: float, d: int) -> int:
    """N with d / N = (1 - 1 / kappa)^2 exactly; the sweep's kappa must make it an integer."""
    exact = d * kappa**2 / (kappa - 1) ** 2
    N = round(exact)
    if abs(N - exact) > 1e-9 or N <= d:
        raise ValueError(f"kappa = {kappa!r} and d = {d!r} must give an integer N = d kappa^2 / (kappa - 1)^2 > d, "
                         f"got {exact!r}.")
    return N


def measure_grokking(params: Mapping[str, Any], rng: np.random.Generator, count: int, xp: Any
                     ) -> dict[str, np.ndarray]:
    """Per replicate (d_out = 1, gamma = 0, step ``eta``): the crossing times of L = eps / 4, their difference
    ``delay`` (the grokking time), its eps -> 0 limit ``limit_delay``, and both over Eq. 12 (``delay_ratio``,
    ``limit_ratio``)."""
    kappa, d, eps, eta = float(params["kappa"]), int(params["d"]), float(params["eps"]), float(params["eta"])
    N = samples_for(kappa, d)
    nu = xp.linalg.eigvalsh(wishart_covariance(rng, count, d, N, xp))
    weights = xp.asarray(rng.standard_normal((count, d)) ** 2 / d)     # (P^T D_0)_i^2, see rotated_projections
    t_tr = crossing_time(nu, weights, nu, eta, eps / 4, xp)
    t_gen = crossing_time(nu, weights, xp.ones_like(nu), eta, eps / 4, xp)
    delay, limit = t_gen - t_tr, limit_delay(nu[:, 0], eta, xp)
    ref = eq12_delay(kappa, eta)
    return {"t_tr": to_numpy(t_tr), "t_gen": to_numpy(t_gen), "delay": to_numpy(delay),
            "limit_delay": to_numpy(limit), "delay_ratio": to_numpy(delay / ref),
            "limit_ratio": to_numpy(limit / ref), "nu_min": to_numpy(nu[:, 0])}


# ---------------------------------------------------------------------------------------------- sure claim
X_MAX, W_MAX, STEP_MAX, GAMMA_MAX = 3.0, 1.0, 1.95, 1.0


def dynamics_space(params: Mapping[str, Any]) -> Product:
    """Training inputs X in [-3, 3]^(N x d), S_0 and T in [-1, 1]^(d x k), the step as a fraction of the stability
    limit in [0.01, 1.95] and the weight decay in [0, 1]. Random draws: Gaussian inputs and N(0, 1 / (2 d k))
    weights as in the paper (clipped to the box), uniform step fractions, no weight decay for a quarter."""
    N, d, k = int(params["N"]), int(params["d"]), int(params["k"])

    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        X = np.clip(rng.standard_normal((n, N * d)), -X_MAX, X_MAX)
        W = np.clip(rng.standard_normal((n, 2 * d * k)) / math.sqrt(2 * d * k), -W_MAX, W_MAX)
        step = rng.uniform(0.01, STEP_MAX, size=(n, 1))
        gamma = np.where(rng.uniform(size=(n, 1)) < 0.25, 0.0, rng.uniform(0.0, GAMMA_MAX, size=(n, 1)))
        return np.concatenate([X, W, step, gamma], axis=1)

    return Product(sampler=sample, X=Box(-X_MAX, X_MAX, (N, d)), S0=Box(-W_MAX, W_MAX, (d, k)),
                   T=Box(-W_MAX, W_MAX, (d, k)), step=Box(0.01, STEP_MAX, 1), gamma=Box(0.0, GAMMA_MAX, 1))


def step_size(X: Any, gamma: Any, step: Any, k: int, xp: Any) -> Any:
    """eta = step k / (2 nu_max + gamma): every mode's factor 1 - eta (2 nu + gamma) / k lies in [1 - step, 1)."""
    nu_max = xp.max(xp.linalg.eigvalsh(training_covariance(X, xp)), axis=1)
    return step * k / (2.0 * nu_max + gamma)


def evaluate_dynamics(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                      ) -> dict[str, np.ndarray]:
    """Both losses after ``steps`` steps, by iteration and by the spectral formula, over the initial L_gen."""
    steps = int(params["steps"])
    X, S0, T = (xp.asarray(instances[key]) for key in ("X", "S0", "T"))
    k = int(S0.shape[2])
    gamma = xp.asarray(instances["gamma"][:, 0])
    eta = step_size(X, gamma, xp.asarray(instances["step"][:, 0]), k, xp)
    scale = xp.sum((S0 - T) ** 2, axis=(1, 2)) / k
    tr_gd, gen_gd = gd_losses(X, S0, T, eta, gamma, steps, xp)
    tr_sp, gen_sp = spectral_losses(X, S0, T, eta, gamma, steps, xp)
    tr_fl, gen_fl = spectral_losses(X, S0, T, eta, gamma, steps, xp, flow=True)
    return {"tr_gd": to_numpy(tr_gd / scale), "tr_spectral": to_numpy(tr_sp / scale),
            "gen_gd": to_numpy(gen_gd / scale), "gen_spectral": to_numpy(gen_sp / scale),
            "tr_flow": to_numpy(tr_fl / scale), "gen_flow": to_numpy(gen_fl / scale)}
