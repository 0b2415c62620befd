"""Instances for the scale-invariant weight-decay results (van Laarhoven 2017; Heo et al. 2021; Loshchilov and
Hutter 2019): a logistic loss on s <w / ||w||, x> (solvers.sgd.ScaleInvariantLogistic), trained by batched SGD,
SGDM, SGDP and Adam / AdamW.

Data (``logistic_data``): n samples x ~ N(0, I_d), a unit w*, labels y = sign(<x, w*> + 0.5 N(0, 1)) (label
noise, so no direction separates the data and the gradients never vanish); one data set per sweep point, drawn
from the point's ``data_seed``. Minibatches of ``batch`` indices are drawn uniformly with replacement.

* Sure claims (``evaluate_*``): an instance is an initial direction on the sphere plus log-scaled norms, step
  sizes, decays and momenta in boxes; the minibatch sequence is fixed per sweep point, so an instance is a
  deterministic trajectory the adversarial search can move.
* Equilibrium (``measure_equilibrium``): R independent replicates (own initial direction and minibatch
  sequence) of SGD with L2 penalty (lam / 2)||w||^2 from ||w_0|| = 1, a burn-in of ``burn / (eta lam)`` steps,
  then window averages over ``window / (eta lam)`` steps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import Box, Product, Sphere, to_numpy
from solvers.sgd import OptimizerConfig, ScaleInvariantLogistic, initial_state, run, step

CHUNK = 500  # steps of minibatch indices drawn at a time (memory: CHUNK x R x batch integers)


def logistic_data(rng: np.random.Generator, n: int, d: int, noise: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """X (n, d) standard Gaussian, y = sign(<x, w*> + noise N(0, 1)) with a random unit w*."""
    X = rng.standard_normal((n, d))
    w_star = rng.standard_normal(d)
    w_star /= np.linalg.norm(w_star)
    y = np.sign(X @ w_star + noise * rng.standard_normal(n))
    y[y == 0] = 1.0
    return X, y


def model_for(params: Mapping[str, Any], xp: Any) -> ScaleInvariantLogistic:
    """The point's data set on backend ``xp``."""
    X, y = logistic_data(np.random.default_rng(int(params["data_seed"])), int(params["n"]), int(params["d"]))
    return ScaleInvariantLogistic(xp.asarray(X), xp.asarray(y), float(params["s"]))


def fixed_batches(params: Mapping[str, Any], steps: int, count: int) -> np.ndarray:
    """The point's fixed minibatch sequence (steps, count, batch), the same for every instance."""
    rng = np.random.default_rng(int(params["data_seed"]) + 1)
    rows = rng.integers(0, int(params["n"]), size=(steps, 1, int(params["batch"])))
    return np.broadcast_to(rows, (steps, count, int(params["batch"])))


def _norms(v: Any, xp: Any) -> Any:
    return xp.sqrt(xp.sum(v * v, axis=1))


def _log_box(low: float, high: float) -> Box:
    return Box(math.log(low), math.log(high), 1)


# ----------------------------------------------------------------------------- effective learning rate


def scaling_space(params: Mapping[str, Any]) -> Product:
    """(u, log c, log eta): a unit direction, a scale c in [0.1, 10] and a step size eta in [1e-3, 1]."""
    return Product(u=Sphere(int(params["d"])), log_c=_log_box(0.1, 10.0), log_eta=_log_box(1e-3, 1.0))


def evaluate_scaling(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                     ) -> dict[str, np.ndarray]:
    """Full-batch gradients at u and at c u, and one SGD step at c u with step eta.

    ``gc2_rel`` = ||grad L(c u)||^2 / ||grad L(u)||^2, ``gdot_rel`` = <grad L(c u), grad L(u)> / ||grad L(u)||^2,
    ``radial_cos`` = cos(u, grad L(u)), ``radial_cos_plain`` = cos(u, grad of the unnormalised logistic loss),
    ``eta_eff`` = tan(angle(u, w')) / ||grad L(u)|| for w' = c u - eta grad L(c u) (the step size at unit norm
    that turns u by the same angle), ``dir_gap`` = ||w' / ||w'|| - dir(u - (eta / c^2) grad L(u))|| and
    ``dir_gap_c1`` the same with eta / c; ``c`` and ``eta`` themselves."""
    model = model_for(params, xp)
    u = xp.asarray(instances["u"])
    c = xp.exp(xp.asarray(instances["log_c"][:, 0]))
    eta = xp.exp(xp.asarray(instances["log_eta"][:, 0]))
    N = int(u.shape[0])
    rows = np.broadcast_to(np.arange(model.n), (N, model.n))
    g1 = model.gradient(u, rows)
    gc = model.gradient(c[:, None] * u, rows)
    g1_sq = xp.sum(g1 * g1, axis=1)
    plain = model.plain_gradient(u, rows)
    update = -eta[:, None] * gc
    w_new = c[:, None] * u + update
    # components of the step itself (not of w_new, whose tangential part cancels against c u in rounding)
    along = xp.sum(update * u, axis=1)
    radial = c + along
    tangent = update - along[:, None] * u

    def direction(v: Any) -> Any:
        return v / _norms(v, xp)[:, None]

    dir_new = direction(w_new)
    ref = direction(u - (eta / c**2)[:, None] * g1)
    ref_c1 = direction(u - (eta / c)[:, None] * g1)
    return {
        "gc2_rel": to_numpy(xp.sum(gc * gc, axis=1) / g1_sq),
        "gdot_rel": to_numpy(xp.sum(gc * g1, axis=1) / g1_sq),
        "radial_cos": to_numpy(xp.sum(u * g1, axis=1) / xp.sqrt(g1_sq)),
        "radial_cos_plain": to_numpy(xp.sum(u * plain, axis=1) / _norms(plain, xp)),
        "eta_eff": to_numpy(_norms(tangent, xp) / (radial * xp.sqrt(g1_sq))),
        "dir_gap": to_numpy(_norms(dir_new - ref, xp)),
        "dir_gap_c1": to_numpy(_norms(dir_new - ref_c1, xp)),
        "c": to_numpy(c),
        "eta": to_numpy(eta),
    }


# ----------------------------------------------------------------------------- one step with weight decay


def decay_step_space(params: Mapping[str, Any]) -> Product:
    """(u, log ||w||, log eta, log lam): ||w|| in [0.1, 10], eta in [1e-3, 1], lam in [1e-4, 0.5]."""
    return Product(u=Sphere(int(params["d"])), log_norm=_log_box(0.1, 10.0), log_eta=_log_box(1e-3, 1.0),
                   log_lam=_log_box(1e-4, 0.5))


def evaluate_decay_step(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                        ) -> dict[str, np.ndarray]:
    """One SGD step with L2 penalty (lam / 2)||w||^2 on the point's fixed minibatch: ``norm_sq`` = ||w_t||^2,
    ``norm_sq_next`` = ||w_{t+1}||^2, ``gt_sq`` = ||g~||^2 (the batch gradient at the unit direction)."""
    model = model_for(params, xp)
    u = xp.asarray(instances["u"])
    norm = xp.exp(xp.asarray(instances["log_norm"][:, 0]))
    eta = np.exp(instances["log_eta"][:, 0])
    lam = np.exp(instances["log_lam"][:, 0])
    N = int(u.shape[0])
    rows = fixed_batches(params, 1, N)[0]
    w = norm[:, None] * u
    g = model.gradient(w, rows) + xp.asarray(lam)[:, None] * w
    w_next = w - xp.asarray(eta)[:, None] * g
    gt = model.gradient_at_direction(u, rows, xp)
    return {
        "norm_sq": to_numpy(xp.sum(w * w, axis=1)),
        "norm_sq_next": to_numpy(xp.sum(w_next * w_next, axis=1)),
        "gt_sq": to_numpy(xp.sum(gt * gt, axis=1)),
        "eta": eta,
        "lam": lam,
    }


# ----------------------------------------------------------------------------- momentum and SGDP


def momentum_space(params: Mapping[str, Any]) -> Product:
    """(u0, log ||w_0||, log eta, beta): ||w_0|| in [0.5, 4], eta in [1e-2, 1], beta in [0, 0.99]."""
    return Product(u=Sphere(int(params["d"])), log_norm=_log_box(0.5, 4.0), log_eta=_log_box(1e-2, 1.0),
                   beta=Box(0.0, 0.99, 1))


def _momentum_run(model: ScaleInvariantLogistic, w0: Any, eta: np.ndarray, beta: np.ndarray, batches: np.ndarray,
                  project: bool, xp: Any) -> dict[str, Any]:
    """T heavy-ball steps (SGDM, or SGDP's projected update when ``project``) with per-instance eta and beta
    arrays (solvers.sgd.step takes one scalar configuration for all replicates). Returns ||w_T||^2,
    ||w_{T+1}||^2, ||p_T||^2, the cross sum sum_{k<T} beta^{T-k} ||p_k||^2, the update's ||Pi p_T||^2 and the
    growth ||w_{T+1}||^2 / ||w_0||^2."""
    eta_x, beta_x = xp.asarray(eta)[:, None], xp.asarray(beta)
    w, p = w0, xp.zeros_like(w0)
    cross = xp.zeros(w0.shape[0], dtype=w0.dtype)
    steps = batches.shape[0]
    norm0 = xp.sum(w0 * w0, axis=1)
    out: dict[str, Any] = {}
    for t in range(steps):
        norm = xp.sqrt(xp.sum(w * w, axis=1))[:, None]
        u = w / norm
        g = model.gradient_at_direction(u, batches[t], xp) / norm
        if t > 0:
            cross = beta_x * (cross + xp.sum(p * p, axis=1))  # sum_{k<t} beta^{t-k} ||p_k||^2 before p updates
        p = beta_x[:, None] * p + g
        update = p - xp.sum(p * u, axis=1)[:, None] * u if project else p
        if t == steps - 1:
            out = {"norm_sq": xp.sum(w * w, axis=1), "p_sq": xp.sum(p * p, axis=1), "cross": cross,
                   "update_sq": xp.sum(update * update, axis=1)}
        w = w - eta_x * update
    out["norm_sq_next"] = xp.sum(w * w, axis=1)
    out["growth"] = out["norm_sq_next"] / norm0
    return out


def evaluate_momentum(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                      ) -> dict[str, np.ndarray]:
    """SGDM and SGDP (projected update) for ``steps`` steps on the point's fixed minibatch sequence.

    SGDM outputs ``norm_sq`` (||w_T||^2), ``norm_sq_next`` (||w_{T+1}||^2), ``p_sq`` (||p_T||^2), ``cross``
    (sum_{k<T} beta^{T-k} ||p_k||^2), ``growth`` (||w_{T+1}||^2 / ||w_0||^2); SGDP the same with prefix ``sgdp_``
    plus ``sgdp_update_sq`` = ||Pi_{w_T} p_T||^2; ``eta`` and ``beta``."""
    model = model_for(params, xp)
    u = xp.asarray(instances["u"])
    w0 = xp.exp(xp.asarray(instances["log_norm"][:, 0]))[:, None] * u
    eta = np.exp(instances["log_eta"][:, 0])
    beta = np.asarray(instances["beta"][:, 0], dtype=float)
    batches = fixed_batches(params, int(params["steps"]), int(u.shape[0]))
    plain = _momentum_run(model, w0, eta, beta, batches, False, xp)
    proj = _momentum_run(model, w0, eta, beta, batches, True, xp)
    out = {k: to_numpy(plain[k]) for k in ("norm_sq", "norm_sq_next", "p_sq", "cross", "growth")}
    out |= {"sgdp_" + k: to_numpy(proj[k]) for k in ("norm_sq", "norm_sq_next", "p_sq", "cross", "growth",
                                                    "update_sq")}
    return out | {"eta": eta, "beta": beta}


# ----------------------------------------------------------------------------- L2 versus decoupled decay


def decoupling_space(params: Mapping[str, Any]) -> Product:
    """(u0, log ||w_0||, log alpha, log lam, preconditioner m): ||w_0|| in [0.5, 4], alpha in [1e-3, 0.3],
    lam (decay per step) in [1e-4, 0.1], m in [0.1, 10]^d (a fixed diagonal preconditioner)."""
    d = int(params["d"])
    return Product(u=Sphere(d), log_norm=_log_box(0.5, 4.0), log_alpha=_log_box(1e-3, 0.3),
                   log_lam=_log_box(1e-4, 0.1), log_m=Box(math.log(0.1), math.log(10.0), d))


LAMBDA_GRID = 33  # log-spaced candidate L2 coefficients for Adam + L2, refined by golden section
GOLDEN_STEPS = 40


def _relative_gap(a: Any, b: Any, xp: Any) -> Any:
    return _norms(a - b, xp) / _norms(b, xp)


def _adam_final(model: ScaleInvariantLogistic, w0: Any, alpha: Any, l2: Any, decoupled: Any, batches: np.ndarray,
                xp: Any, beta1: float, beta2: float, eps: float) -> Any:
    """Adam (per-instance alpha, L2 coefficient l2 and decoupled decay, arrays (N,)) for T steps; final w."""
    w, m, v = w0, xp.zeros_like(w0), xp.zeros_like(w0)
    a, c2, dec = alpha[:, None], l2[:, None], decoupled[:, None]
    for t in range(batches.shape[0]):
        norm = xp.sqrt(xp.sum(w * w, axis=1))[:, None]
        g = model.gradient_at_direction(w / norm, batches[t], xp) / norm + c2 * w
        m = beta1 * m + (1.0 - beta1) * g
        v = beta2 * v + (1.0 - beta2) * g * g
        m_hat, v_hat = m / (1.0 - beta1 ** (t + 1)), v / (1.0 - beta2 ** (t + 1))
        w = w - a * m_hat / (xp.sqrt(v_hat) + eps) - dec * w
    return w


def _sgd_final(model: ScaleInvariantLogistic, w0: Any, alpha: Any, l2: Any, decoupled: Any, batches: np.ndarray,
               xp: Any) -> Any:
    w = w0
    a, c2, dec = alpha[:, None], l2[:, None], decoupled[:, None]
    for t in range(batches.shape[0]):
        norm = xp.sqrt(xp.sum(w * w, axis=1))[:, None]
        g = model.gradient_at_direction(w / norm, batches[t], xp) / norm
        w = w - a * (g + c2 * w) - dec * w
    return w


def best_l2_gap(gap_of: Any, center: np.ndarray, xp: Any) -> np.ndarray:
    """min over lam' >= 0 of gap_of(lam') (arrays (N,)), by a log grid over [1e-3, 1e3] x center (and lam' = 0),
    then golden-section refinement in log lam' between the best grid point's neighbours. Returns (N,)."""
    N = center.size
    logs = np.log(center)[:, None] + np.linspace(math.log(1e-3), math.log(1e3), LAMBDA_GRID)[None, :]
    values = np.stack([to_numpy(gap_of(np.exp(logs[:, k]))) for k in range(LAMBDA_GRID)], axis=1)
    at_zero = to_numpy(gap_of(np.zeros(N)))
    k = np.argmin(values, axis=1)
    idx = np.arange(N)
    lo = logs[idx, np.maximum(k - 1, 0)]
    hi = logs[idx, np.minimum(k + 1, LAMBDA_GRID - 1)]
    best = values[idx, k]
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    x1, x2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    f1, f2 = to_numpy(gap_of(np.exp(x1))), to_numpy(gap_of(np.exp(x2)))
    for _ in range(GOLDEN_STEPS):
        left = f1 < f2
        hi = np.where(left, x2, hi)
        lo = np.where(left, lo, x1)
        x2n = np.where(left, x1, lo + ratio * (hi - lo))
        x1n = np.where(left, hi - ratio * (hi - lo), x2)
        f_new = to_numpy(gap_of(np.exp(np.where(left, x1n, x2n))))
        f1, f2 = np.where(left, f_new, f2), np.where(left, f1, f_new)
        x1, x2 = x1n, x2n
        best = np.minimum(best, np.minimum(f1, f2))
    return np.minimum(best, at_zero)


def evaluate_decoupling(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                        ) -> dict[str, np.ndarray]:
    """L2 penalty against decoupled decay, from the same w_0 on the same minibatches for ``steps`` steps.

    ``gap_sgd``: ||w_T(SGD, L2 lam / alpha) - w_T(SGDW, decay lam)|| / ||w_T(SGDW)||; ``gap_sgd_unscaled`` the
    same with L2 coefficient lam; ``gap_adam_scaled`` and ``gap_adam_best``: Adam + L2 with lam / alpha, and with
    the best lam' found (``best_l2_gap``), against AdamW (decay lam). One step with the fixed preconditioner
    M = diag(m): ``pre_gap_best`` = min_lam' ||alpha M (g + lam' w) - (alpha M g + lam w)|| (by the same search),
    ``pre_gap_scaled`` at lam' = lam / alpha, ``pre_closed`` = lam ||w|| sin angle(w, M w) (both divided by
    ||w||), ``spread`` = max m / min m."""
    model = model_for(params, xp)
    u = xp.asarray(instances["u"])
    norm0 = np.exp(instances["log_norm"][:, 0])
    w0 = xp.asarray(norm0)[:, None] * u
    alpha_np, lam_np = np.exp(instances["log_alpha"][:, 0]), np.exp(instances["log_lam"][:, 0])
    alpha, lam = xp.asarray(alpha_np), xp.asarray(lam_np)
    zero = xp.zeros_like(alpha)
    N = int(u.shape[0])
    batches = fixed_batches(params, int(params["steps"]), N)
    sgdw = _sgd_final(model, w0, alpha, zero, lam, batches, xp)
    gap_sgd = _relative_gap(_sgd_final(model, w0, alpha, lam / alpha, zero, batches, xp), sgdw, xp)
    gap_unscaled = _relative_gap(_sgd_final(model, w0, alpha, lam, zero, batches, xp), sgdw, xp)
    adam = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    adamw = _adam_final(model, w0, alpha, zero, lam, batches, xp, **adam)

    def adam_gap(l2: np.ndarray) -> Any:
        return _relative_gap(_adam_final(model, w0, alpha, xp.asarray(l2), zero, batches, xp, **adam), adamw, xp)

    # one step with a fixed preconditioner (Proposition 2's setting)
    M = xp.exp(xp.asarray(instances["log_m"]))
    g0 = model.gradient(w0, batches[0])
    target = alpha[:, None] * M * g0 + lam[:, None] * w0

    def pre_gap(l2: np.ndarray) -> Any:
        step_l2 = alpha[:, None] * M * (g0 + xp.asarray(l2)[:, None] * w0)
        return _norms(step_l2 - target, xp) / _norms(w0, xp)

    Mw = M * w0
    cos = xp.sum(Mw * w0, axis=1) / (_norms(Mw, xp) * _norms(w0, xp))
    sin = xp.sqrt(xp.clip(1.0 - cos * cos, 0.0, None))
    m_np = np.exp(instances["log_m"])
    return {
        "gap_sgd": to_numpy(gap_sgd),
        "gap_sgd_unscaled": to_numpy(gap_unscaled),
        "gap_adam_scaled": to_numpy(adam_gap(lam_np / alpha_np)),
        "gap_adam_best": best_l2_gap(adam_gap, lam_np / alpha_np, xp),
        "pre_gap_scaled": to_numpy(pre_gap(lam_np / alpha_np)),
        "pre_gap_best": best_l2_gap(pre_gap, lam_np / alpha_np, xp),
        "pre_closed": to_numpy(lam * sin),
        "spread": m_np.max(axis=1) / m_np.min(axis=1),
    }


# ----------------------------------------------------------------------------- equilibrium norm


def equilibrium_config(params: Mapping[str, Any]) -> tuple[float, float]:
    """(eta, lam) of a point given as (eta, lam) or as (eta_lam, ratio) = (eta lam, eta / lam)."""
    if "ratio" in params:
        product, ratio = float(params["eta_lam"]), float(params["ratio"])
        return math.sqrt(product * ratio), math.sqrt(product / ratio)
    return float(params["eta"]), float(params["lam"])


def measure_equilibrium(params: Mapping[str, Any], rng: np.random.Generator, count: int, xp: Any
                        ) -> dict[str, np.ndarray]:
    """SGD with L2 penalty (lam / 2)||w||^2 from a uniform direction at ||w_0|| = 1.

    After ``burn / (eta lam)`` steps, window means over ``window / (eta lam)`` steps of ``norm_sq_mean``
    (||w_t||^2), ``norm4`` (||w_t||^4), ``gt_sq_mean`` (||g~_t||^2, the batch gradient at the unit direction) and
    ``ratio_term`` (||g~_t||^4 / ||w_t||^4)."""
    eta, lam = equilibrium_config(params)
    model = model_for(params, xp)
    n, d, batch = model.n, model.d, int(params["batch"])
    burn = int(math.ceil(float(params["burn"]) / (eta * lam)))
    window = int(math.ceil(float(params["window"]) / (eta * lam)))
    w0 = rng.standard_normal((count, d))
    w0 /= np.linalg.norm(w0, axis=1, keepdims=True)
    state = initial_state(xp.asarray(w0))
    opt = OptimizerConfig("sgd", eta, l2=lam)
    done = 0
    while done < burn:
        size = min(CHUNK, burn - done)
        state, _ = run(model, state, rng.integers(0, n, size=(size, count, batch)), opt)
        done += size
    sums = {k: xp.zeros(count, dtype=state.w.dtype) for k in ("norm_sq_mean", "norm4", "gt_sq_mean", "ratio_term")}
    done = 0
    while done < window:
        size = min(CHUNK, window - done)
        for rows in rng.integers(0, n, size=(size, count, batch)):
            state, stats = step(model, state, rows, opt, ("norm_sq", "gtilde_sq"))
            x, G = stats["norm_sq"], stats["gtilde_sq"]
            sums["norm_sq_mean"] += x
            sums["norm4"] += x * x
            sums["gt_sq_mean"] += G
            sums["ratio_term"] += G * G / (x * x)
        done += size
    return {k: to_numpy(v / window) for k, v in sums.items()}
