r"""Batched first-order optimisers (SGD, SGD with momentum, SGDP, Adam / AdamW) on a scale-invariant model.

The model (:class:`ScaleInvariantLogistic`): data x_i in R^d with labels y_i in {-1, +1} and a fixed scale
s > 0; the loss of a weight vector w != 0 on a minibatch b is

    L_b(w) = (1/|b|) sum_{i in b} log(1 + exp(-y_i s <w / ||w||, x_i>)),

a function of the direction u = w / ||w|| only, as after batch or weight normalisation: L(c w) = L(w) for c > 0.
With G_b(u) = (1/|b|) sum_{i in b} -sigma(-y_i s <u, x_i>) y_i s x_i (the gradient in the unnormalised
argument), the gradient is

    grad L_b(w) = (I - u u^T) G_b(u) / ||w||,

so grad L(c w) = grad L(w) / c and <w, grad L(w)> = 0. ``gradient_at_direction`` is grad L_b at u itself
(the "unit-norm gradient" g~ = ||w|| grad L_b(w)).

The optimisers (:class:`OptimizerConfig`), with g_t = grad L_{b_t}(w_t) + l2 * w_t (an L2 penalty (l2 / 2)||w||^2
added to the loss) and ``decoupled`` the decoupled weight decay of Loshchilov and Hutter (subtracted from w,
not fed to the optimiser's statistics):

* ``sgd``:   w <- w - eta g_t - decoupled w  (decoupled > 0 is SGDW)
* ``sgdm``:  p_t = beta p_{t-1} + g_t, w <- w - eta p_t - decoupled w  (heavy ball, p_{-1} = 0, no dampening)
* ``sgdp``:  as ``sgdm`` but the update is projected onto the tangent space of w wherever
  |cos(w, grad L)| < delta / sqrt(d) (Heo et al., ICLR 2021, SGDP without Nesterov): for scale-invariant
  weights the cosine is 0 and the radial part of p_t is always removed;
* ``adam``:  m_t = beta m_{t-1} + (1 - beta) g_t, v_t = beta2 v_{t-1} + (1 - beta2) g_t^2,
  w <- w - eta m^_t / (sqrt(v^_t) + eps) - decoupled w with bias-corrected m^, v^ (decoupled > 0 is AdamW).

Every function is batched over R replicates (a leading axis) and written against the array API, so the same
code runs on NumPy and array-api-strict. Bad input raises :class:`ValueError` naming the parameter and the rule.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from boundlab.backends import to_numpy

Array = Any
METHODS = ("sgd", "sgdm", "sgdp", "adam")


def _finite_real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}.")
    return float(value)


def _check_finite_array(a: Array, name: str) -> None:
    if not np.all(np.isfinite(to_numpy(a))):
        raise ValueError(f"{name} must be finite (got NaN or inf).")


@dataclass(frozen=True)
class OptimizerConfig:
    """One optimiser's hyperparameters (validated on construction; see the module docstring)."""

    method: str
    eta: float
    l2: float = 0.0
    decoupled: float = 0.0
    beta: float = 0.0
    beta2: float = 0.999
    eps: float = 1e-8
    delta: float = 0.1

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}.")
        if _finite_real(self.eta, "eta") <= 0:
            raise ValueError(f"eta (the step size) must be > 0, got {self.eta!r}.")
        if _finite_real(self.l2, "l2") < 0:
            raise ValueError(f"l2 (the L2 penalty coefficient) must be >= 0, got {self.l2!r}.")
        if not 0 <= _finite_real(self.decoupled, "decoupled") < 1:
            raise ValueError(f"decoupled (the decoupled decay per step) must lie in [0, 1), got {self.decoupled!r}.")
        if not 0 <= _finite_real(self.beta, "beta") < 1:
            raise ValueError(f"beta (the momentum / first-moment decay) must lie in [0, 1), got {self.beta!r}.")
        if not 0 <= _finite_real(self.beta2, "beta2") < 1:
            raise ValueError(f"beta2 (the second-moment decay) must lie in [0, 1), got {self.beta2!r}.")
        if _finite_real(self.eps, "eps") <= 0:
            raise ValueError(f"eps (Adam's denominator offset) must be > 0, got {self.eps!r}.")
        if _finite_real(self.delta, "delta") < 0:
            raise ValueError(f"delta (SGDP's cosine threshold) must be >= 0, got {self.delta!r}.")


@dataclass(frozen=True)
class ScaleInvariantLogistic:
    """Logistic loss on s <w / ||w||, x>; X (n, d) and y (n,) in {-1, +1} are shared by all replicates."""

    X: Array
    y: Array
    s: float = 1.0
    _Z: Array = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shape = tuple(self.X.shape)
        if len(shape) != 2 or shape[0] < 1 or shape[1] < 2:
            raise ValueError(f"X must have shape (n, d) with n >= 1 and d >= 2, got {shape}.")
        if tuple(self.y.shape) != (shape[0],):
            raise ValueError(f"y must have shape (n,) = ({shape[0]},), got {tuple(self.y.shape)}.")
        _check_finite_array(self.X, "X")
        if not np.all(np.abs(to_numpy(self.y)) == 1):
            raise ValueError("y must contain labels -1 or +1 only.")
        if _finite_real(self.s, "s") <= 0:
            raise ValueError(f"s (the logit scale) must be > 0, got {self.s!r}.")
        xp = array_namespace(self.X)
        # z_i = s y_i x_i: the margin is <u, z_i> and G_b(u) = -(1/|b|) sum_i sigma(-<u, z_i>) z_i.
        object.__setattr__(self, "_Z", self.s * xp.asarray(self.y, dtype=self.X.dtype)[:, None] * self.X)

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        return int(self.X.shape[1])

    def check_rows(self, rows: np.ndarray, replicates: int) -> np.ndarray:
        """Minibatch indices (R, B) of integers in [0, n)."""
        rows = np.asarray(rows)
        if rows.ndim != 2 or rows.shape[0] != replicates or rows.shape[1] < 1:
            raise ValueError(f"rows must have shape (R, B) = ({replicates}, B >= 1), got {rows.shape}.")
        if not np.issubdtype(rows.dtype, np.integer):
            raise ValueError(f"rows must be integer indices, got dtype {rows.dtype}.")
        if rows.min() < 0 or rows.max() >= self.n:
            raise ValueError(f"rows must lie in [0, n) = [0, {self.n}), got [{rows.min()}, {rows.max()}].")
        return rows

    def check_weights(self, w: Array) -> None:
        shape = tuple(w.shape)
        if len(shape) != 2 or shape[1] != self.d:
            raise ValueError(f"w must have shape (R, d) = (R, {self.d}), got {shape}.")
        _check_finite_array(w, "w")
        if not np.all(np.linalg.norm(to_numpy(w), axis=1) > 0):
            raise ValueError("w must be nonzero in every replicate (the loss depends on w / ||w||).")

    def _signed_batch(self, rows: np.ndarray, xp: Any) -> Array:
        """z_i = s y_i x_i of every minibatch row, (R, B, d)."""
        R, B = rows.shape
        flat = xp.asarray(np.reshape(rows, (R * B,)))
        return xp.reshape(xp.take(self._Z, flat, axis=0), (R, B, self.d))

    @staticmethod
    def _gradient_from(Zb: Array, margin: Array, xp: Any) -> Array:
        """G_b = -(1/B) sum_i sigma(-margin_i) z_i, (R, d), from the batch rows and their margins."""
        coef = (-1.0 / margin.shape[1]) / (1.0 + xp.exp(margin))
        return xp.matmul(coef[:, None, :], Zb)[:, 0, :]

    def raw_gradient(self, u: Array, rows: np.ndarray, xp: Any) -> tuple[Array, Array]:
        """(loss, G_b(u)): the batch loss and the gradient in the unnormalised argument at u (no projection)."""
        Zb = self._signed_batch(rows, xp)
        margin = xp.matmul(Zb, u[:, :, None])[:, :, 0]
        loss = xp.mean(xp.log1p(xp.exp(-xp.abs(margin))) + xp.where(margin < 0, -margin, 0.0), axis=1)
        return loss, self._gradient_from(Zb, margin, xp)

    def _raw_gradient(self, u: Array, rows: np.ndarray, xp: Any) -> Array:
        Zb = self._signed_batch(rows, xp)
        return self._gradient_from(Zb, xp.matmul(Zb, u[:, :, None])[:, :, 0], xp)

    def gradient_at_direction(self, u: Array, rows: np.ndarray, xp: Any) -> Array:
        """g~ = grad L_b at the unit vector u: (I - u u^T) G_b(u)."""
        G = self._raw_gradient(u, rows, xp)
        return G - xp.vecdot(G, u, axis=-1)[:, None] * u

    def gradient(self, w: Array, rows: np.ndarray) -> Array:
        """grad L_b(w) = g~(w / ||w||) / ||w||, (R, d)."""
        xp = array_namespace(w)
        self.check_weights(w)
        rows = self.check_rows(rows, int(w.shape[0]))
        norm = xp.sqrt(xp.sum(w * w, axis=1))[:, None]
        return self.gradient_at_direction(w / norm, rows, xp) / norm

    def loss(self, w: Array, rows: np.ndarray) -> Array:
        """L_b(w) per replicate, (R,)."""
        xp = array_namespace(w)
        self.check_weights(w)
        rows = self.check_rows(rows, int(w.shape[0]))
        norm = xp.sqrt(xp.sum(w * w, axis=1))[:, None]
        return self.raw_gradient(w / norm, rows, xp)[0]

    def plain_gradient(self, w: Array, rows: np.ndarray) -> Array:
        """Gradient of the unnormalised logistic loss log(1 + exp(-y s <w, x>)) (not scale invariant)."""
        xp = array_namespace(w)
        self.check_weights(w)
        rows = self.check_rows(rows, int(w.shape[0]))
        return self._raw_gradient(w, rows, xp)


@dataclass
class OptimizerState:
    """Iterate w (R, d), first buffer p (momentum or Adam's m; plain ``sgd`` has none and leaves it as it
    was), second moment v, steps taken t."""

    w: Array
    p: Array
    v: Array
    t: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def initial_state(w0: Array) -> OptimizerState:
    """Zero buffers at w0."""
    xp = array_namespace(w0)
    return OptimizerState(w=w0, p=xp.zeros_like(w0), v=xp.zeros_like(w0), t=0)


STATS = ("norm_sq", "gtilde_sq", "p_sq", "radial")


def _dot(a: Array, b: Array, xp: Any) -> Array:
    """Row-wise inner products (R,) of (R, d) arrays."""
    return xp.vecdot(a, b, axis=-1)


def step(model: ScaleInvariantLogistic, state: OptimizerState, rows: np.ndarray, opt: OptimizerConfig,
         stats: tuple[str, ...] = STATS) -> tuple[OptimizerState, dict[str, Array]]:
    """One step for every replicate. Returns the new state and the statistics named in ``stats``, measured at
    the step taken: ``norm_sq`` = ||w_t||^2, ``gtilde_sq`` = ||g~_t||^2 (loss gradient at the unit direction),
    ``p_sq`` = ||p_t||^2 (the momentum buffer after its update; the update direction for ``sgd``), ``radial`` =
    <w_t, update_t>."""
    xp = array_namespace(state.w)
    w = state.w
    norm_sq = _dot(w, w, xp)
    if opt.method == "sgd" and set(stats) <= {"norm_sq"}:
        return _plain_sgd_step(model, state, rows, opt, norm_sq, xp), ({"norm_sq": norm_sq} if stats else {})
    norm = xp.sqrt(norm_sq)[:, None]
    u = w / norm
    gt = model.gradient_at_direction(u, rows, xp)
    g = gt / norm + opt.l2 * w if opt.l2 else gt / norm
    p, v, t = state.p, state.v, state.t + 1
    if opt.method == "sgd":
        p = g
        update = opt.eta * g
    elif opt.method in ("sgdm", "sgdp"):
        p = opt.beta * p + g
        update = opt.eta * p
        if opt.method == "sgdp":
            g_norm = xp.sqrt(_dot(g, g, xp))
            cosine = xp.abs(_dot(u, g, xp)) / xp.where(g_norm > 0, g_norm, 1.0)
            project = (cosine < opt.delta / math.sqrt(model.d))[:, None]
            tangent = update - _dot(update, u, xp)[:, None] * u
            update = xp.where(project, tangent, update)
    else:
        p = opt.beta * p + (1.0 - opt.beta) * g
        v = opt.beta2 * v + (1.0 - opt.beta2) * g * g
        m_hat = p / (1.0 - opt.beta**t)
        v_hat = v / (1.0 - opt.beta2**t)
        update = opt.eta * m_hat / (xp.sqrt(v_hat) + opt.eps)
    out: dict[str, Array] = {}
    for name in stats:
        if name == "norm_sq":
            out[name] = norm_sq
        elif name == "gtilde_sq":
            out[name] = _dot(gt, gt, xp)
        elif name == "p_sq":
            out[name] = _dot(p, p, xp)
        elif name == "radial":
            out[name] = _dot(w, update, xp)
    w_new = w - update - opt.decoupled * w if opt.decoupled else w - update
    return replace(state, w=w_new, p=state.p if opt.method == "sgd" else p, v=v, t=t), out


def _plain_sgd_step(model: ScaleInvariantLogistic, state: OptimizerState, rows: np.ndarray, opt: OptimizerConfig,
                    norm_sq: Array, xp: Any) -> OptimizerState:
    """The ``sgd`` step in closed form, with fewer passes over (R, d) arrays. With u = w / ||w||,

        w - eta (g~ / ||w|| + l2 w) - decoupled w = a w - (eta / ||w||) G_b(u),
        a = 1 - eta l2 - decoupled + eta <G_b(u), w> / ||w||^3,

    since g~ = G_b(u) - <G_b(u), u> u; the margins are <w, z_i> / ||w||. Same numbers as the general path up to
    rounding."""
    w = state.w
    norm = xp.sqrt(norm_sq)
    Zb = model._signed_batch(rows, xp)
    margin = xp.matmul(Zb, w[:, :, None])[:, :, 0] / norm[:, None]
    G = model._gradient_from(Zb, margin, xp)
    a = (1.0 - opt.eta * opt.l2 - opt.decoupled) + opt.eta * _dot(G, w, xp) / (norm_sq * norm)
    w_new = a[:, None] * w - (opt.eta / norm)[:, None] * G
    return replace(state, w=w_new, p=state.p, v=state.v, t=state.t + 1)


def run(model: ScaleInvariantLogistic, state: OptimizerState, batches: np.ndarray, opt: OptimizerConfig,
        keep: tuple[str, ...] = ()) -> tuple[OptimizerState, dict[str, Array]]:
    """``T = batches.shape[0]`` steps from ``state``; ``batches[t]`` (R, B) are the minibatch indices of step t.

    Returns the final state and, for each name in ``keep`` (from ``STATS``), a (T, R) array of that statistic
    at every step."""
    if not isinstance(opt, OptimizerConfig):
        raise ValueError(f"opt must be an OptimizerConfig, got {type(opt).__name__}.")
    unknown = set(keep) - set(STATS)
    if unknown:
        raise ValueError(f"keep must name statistics from {STATS}, got {sorted(unknown)}.")
    model.check_weights(state.w)
    batches = np.asarray(batches)
    R = int(state.w.shape[0])
    if batches.ndim != 3 or batches.shape[1] != R or batches.shape[2] < 1:
        raise ValueError(f"batches must have shape (T, R, B) = (T, {R}, B), got {batches.shape}.")
    if not np.issubdtype(batches.dtype, np.integer):
        raise ValueError(f"batches must be integer indices, got dtype {batches.dtype}.")
    if batches.size and (batches.min() < 0 or batches.max() >= model.n):
        raise ValueError(f"batches must lie in [0, n) = [0, {model.n}), got [{batches.min()}, {batches.max()}].")
    xp = array_namespace(state.w)
    kept: dict[str, list[Array]] = {k: [] for k in keep}
    for t in range(batches.shape[0]):
        state, stats = step(model, state, batches[t], opt, keep)
        for k in keep:
            kept[k].append(stats[k])
    return state, {k: xp.stack(v, axis=0) for k, v in kept.items() if v}
