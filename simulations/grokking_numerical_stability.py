"""Instances for *Grokking at the Edge of Numerical Stability* (Prieto, Barsbey, Mediano, Birdal, ICLR 2025):
cross-entropy on logit vectors whose correct class is ahead by a gap g, in float32 (p = 24) or float64 (p = 53).

Three implementations of the cross-entropy, all array-API code (``xp``), batched over a leading axis of logit
vectors (n, K) with a one-hot target (n, K):

* ``softmax``: NumPy's straightforward softmax, max-shifted: e = exp(z - max z), S = sum(e), p = e / S,
  loss = -log p_c, gradient p - onehot;
* ``logsumexp``: lse = max z + log(sum(exp(z - max z))), loss = lse - z_c, gradient exp(z - lse) - onehot;
* StableMax (the paper's): s(x) = x + 1 for x >= 0 and 1 / (1 - x) for x < 0, q = s(z) / sum s(z),
  loss = -log q_c, correct-class gradient (s'(z_c) / s(z_c)) (q_c - 1) = (q_c - 1) / (1 + |z_c|).

An instance is built from a gap g, offsets d_k >= 0 of the K - 1 wrong classes, the correct class's index c and
its logit b: z_c = b, the wrong logits are b - (g + d_k) (in index order around c), rounded to the dtype once.
The reference quantities are computed from the rounded logits in extended precision (``np.longdouble``, a
64-bit significand on x86-64; float64 evaluation needs it and says so otherwise): r_k = exp(z_k - z_c),
s = sum_k r_k, r_max = max_k r_k, G = max_k |z_k - z_c|, and for StableMax rho = sum_{k != c} s(z_k) / s(z_c).

Collapse of a logit vector: the computed correct-class gradient is exactly 0 and the computed loss is exactly 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from boundlab import Box, Product, to_numpy

#: significand bits (with the implicit bit) of the dtypes checked: the unit roundoff is 2^-p
PRECISIONS = {24: "float32", 53: "float64"}
#: wrong-class offsets d_k lie in [0, OFFSET_MAX]
OFFSET_MAX = 12.0
#: the correct-class logit b has |b| in [1, 2^BASE_OCTAVES] (either sign)
BASE_OCTAVES = 6
#: bisection halvings of the gap bracket (width <= ln(K - 1) + ln 64 + 6): below one ulp of g in float64
BISECTIONS = 60
#: StableMax gaps reach this
STABLEMAX_GAP_MAX = 1000.0

Implementation = Callable[[Any, Any], tuple[Any, Any]]


# ------------------------------------------------------------------------------------------- implementations
def _check_logits(z: Any, onehot: Any) -> Any:
    xp = array_namespace(z, onehot)
    if len(z.shape) != 2 or z.shape[1] < 2:
        raise ValueError(f"z (logits) must have shape (n, K) with K >= 2 classes, got {tuple(z.shape)}.")
    if tuple(onehot.shape) != tuple(z.shape):
        raise ValueError(f"onehot must have the shape of z, {tuple(z.shape)}, got {tuple(onehot.shape)}.")
    if z.dtype not in (xp.float32, xp.float64) or onehot.dtype != z.dtype:
        raise ValueError(f"z and onehot must share a dtype float32 or float64, got {z.dtype} and {onehot.dtype}.")
    zn, on = to_numpy(z), to_numpy(onehot)
    if not np.all(np.isfinite(zn)):
        raise ValueError("z (logits) must be finite (got NaN or inf).")
    if not (np.all((on == 0) | (on == 1)) and np.all(on.sum(axis=1) == 1)):
        raise ValueError("onehot must have exactly one entry 1 per row and zeros elsewhere.")
    return xp


def softmax_cross_entropy(z: Any, onehot: Any) -> tuple[Any, Any]:
    """(loss (n,), gradient (n, K)) of the max-shifted softmax cross-entropy, computed in z's dtype."""
    xp = _check_logits(z, onehot)
    e = xp.exp(z - xp.max(z, axis=1, keepdims=True))
    prob = e / xp.sum(e, axis=1, keepdims=True)
    loss = -xp.log(xp.sum(prob * onehot, axis=1))  # the sum adds zeros to p_c: exact
    return loss, prob - onehot


def logsumexp_cross_entropy(z: Any, onehot: Any) -> tuple[Any, Any]:
    """(loss (n,), gradient (n, K)) of lse(z) - z_c, lse = max z + log sum exp(z - max z), gradient
    exp(z - lse) - onehot, computed in z's dtype."""
    xp = _check_logits(z, onehot)
    m = xp.max(z, axis=1, keepdims=True)
    lse = m + xp.log(xp.sum(xp.exp(z - m), axis=1, keepdims=True))
    loss = lse[:, 0] - xp.sum(z * onehot, axis=1)
    return loss, xp.exp(z - lse) - onehot


def stablemax(z: Any) -> Any:
    """s(z) elementwise: z + 1 for z >= 0, 1 / (1 - z) for z < 0."""
    xp = array_namespace(z)
    return xp.where(z >= 0, z + 1, 1 / (1 - xp.where(z >= 0, xp.zeros_like(z), z)))


def stablemax_cross_entropy(z: Any, onehot: Any) -> tuple[Any, Any]:
    """(loss (n,), correct-class gradient (n,)) of -log q_c, q = s(z) / sum s(z), in z's dtype; the gradient is
    (q_c - 1) / (1 + |z_c|), since s'(x) / s(x) = 1 / (1 + |x|) on both branches."""
    xp = _check_logits(z, onehot)
    sz = stablemax(z)
    q_c = xp.sum(sz * onehot, axis=1) / xp.sum(sz, axis=1)
    z_c = xp.sum(z * onehot, axis=1)
    return -xp.log(q_c), (q_c - 1) / (1 + xp.abs(z_c))


IMPLEMENTATIONS: dict[str, Implementation] = {"softmax": softmax_cross_entropy,
                                              "logsumexp": logsumexp_cross_entropy}


def implementation(name: str) -> Implementation:
    if name not in IMPLEMENTATIONS:
        raise ValueError(f"impl must be one of {sorted(IMPLEMENTATIONS)}, got {name!r}.")
    return IMPLEMENTATIONS[name]


def precision(params: Mapping[str, Any]) -> int:
    p = int(params["p"])
    if p not in PRECISIONS:
        raise ValueError(f"p (significand bits) must be 24 (float32) or 53 (float64), got {p}.")
    if p == 53 and np.finfo(np.longdouble).nmant < 63:
        raise RuntimeError("float64 references need np.longdouble with a 64-bit significand (x86-64); this "
                           f"platform has {np.finfo(np.longdouble).nmant + 1} bits.")
    return p


def classes(params: Mapping[str, Any]) -> int:
    K = int(params["K"])
    if K < 2:
        raise ValueError(f"K (classes) must be >= 2, got {K}.")
    return K


# ------------------------------------------------------------------------------------------------ instances
def build_logits(gap: np.ndarray, offsets: np.ndarray, position: np.ndarray, base: np.ndarray, p: int
                 ) -> np.ndarray:
    """Logits (n, K) in the dtype of precision p: z_c = b at index c, the wrong ones b - (g + d_k) in index order
    around c (computed in float64, then rounded to the dtype once)."""
    gap, base = np.asarray(gap, float), np.asarray(base, float)
    offsets, position = np.asarray(offsets, float), np.asarray(position)
    n, K1 = offsets.shape
    if gap.shape != (n,) or base.shape != (n,) or position.shape != (n,):
        raise ValueError(f"gap, base and position must have shape (n,) = ({n},), got {gap.shape}, {base.shape}, "
                         f"{position.shape}.")
    if np.any(gap <= 0) or np.any(offsets < 0):
        raise ValueError("gap must be > 0 and offsets >= 0 (the correct class is strictly ahead).")
    cols = np.arange(K1 + 1)[None, :]
    c = position.astype(int)[:, None]
    if np.any(c < 0) or np.any(c > K1):
        raise ValueError(f"position must be a class index in [0, {K1}].")
    wrong = base[:, None] - (gap[:, None] + offsets)
    slot = np.clip(np.where(cols < c, cols, cols - 1), 0, K1 - 1)
    z = np.where(cols == c, base[:, None], np.take_along_axis(wrong, slot, axis=1))
    return z.astype(PRECISIONS[p])


def onehot_of(position: np.ndarray, K: int, p: int) -> np.ndarray:
    return (np.arange(K)[None, :] == np.asarray(position).astype(int)[:, None]).astype(PRECISIONS[p])


def reference(z: np.ndarray, position: np.ndarray) -> dict[str, np.ndarray]:
    """Extended-precision quantities of the rounded logits: r (n, K) with r_c = 0, s, r_max, G."""
    n, K = z.shape
    zl = z.astype(np.longdouble)
    c = np.asarray(position).astype(int)
    diff = zl - zl[np.arange(n), c][:, None]
    wrong = np.arange(K)[None, :] != c[:, None]
    r = np.where(wrong, np.exp(np.where(wrong, diff, 0)), 0)
    return {"r": r, "s": r.sum(axis=1), "r_max": r.max(axis=1), "G": np.abs(diff).max(axis=1)}


def half_spacing(base: np.ndarray) -> np.ndarray:
    """h(b) = (next float above b - b) / 2 in b's dtype: log S is absorbed by b + log S when below it."""
    b = np.asarray(base)
    return (np.nextafter(b, np.array(np.inf, dtype=b.dtype)) - b).astype(float) / 2


def decode_position(t: np.ndarray, K: int, mode: str) -> np.ndarray:
    """The correct class's index: from a coordinate t in [0, 1] (``any``), or fixed first / last."""
    if mode == "any":
        return np.minimum(np.floor(np.asarray(t) * K), K - 1).astype(int)
    if mode in ("first", "last"):
        return np.full(np.shape(t), 0 if mode == "first" else K - 1, dtype=int)
    raise ValueError(f"position must be 'any', 'first' or 'last', got {mode!r}.")


def decode_base(t: np.ndarray) -> np.ndarray:
    """b = +-2^(BASE_OCTAVES |t|) for t in [-1, 1]: |b| log-uniform in [1, 64], both signs."""
    t = np.asarray(t, float)
    return np.where(t >= 0, 1.0, -1.0) * np.exp2(BASE_OCTAVES * np.abs(t))


def gap_range(p: int, K: int) -> tuple[float, float]:
    """Gaps around both absorption thresholds: from -ln u - ln 64 - 2 (logsumexp absorbs into |b| <= 64) to
    -ln u + ln(K - 1) + 2 (every wrong class at the gap)."""
    lnu = p * math.log(2.0)
    return lnu - math.log(64.0) - 2.0, lnu + math.log(K - 1) + 2.0


def _offset_families(rng: np.random.Generator, n: int, K1: int) -> np.ndarray:
    """Four families (a quarter each): all wrong logits equal; uniform offsets; one dominant wrong class with the
    rest far below; offsets clustered near 0 (D U^3)."""
    family = rng.integers(0, 4, size=(n, 1))
    uniform = rng.uniform(0.0, OFFSET_MAX, size=(n, K1))
    dominant = rng.uniform(OFFSET_MAX / 2, OFFSET_MAX, size=(n, K1))
    dominant[np.arange(n), rng.integers(0, K1, size=n)] = 0.0
    clustered = OFFSET_MAX * rng.uniform(size=(n, K1)) ** 3
    return np.select([family == 0, family == 1, family == 2], [np.zeros((n, K1)), uniform, dominant], clustered)


def absorption_space(params: Mapping[str, Any]) -> Product:
    """(gap, offsets, position, base): gap in :func:`gap_range`, offsets in [0, OFFSET_MAX]^(K-1), position and
    base coordinates (see :func:`decode_position`, :func:`decode_base`)."""
    p, K = precision(params), classes(params)
    lo, hi = gap_range(p, K)

    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        return np.concatenate([rng.uniform(lo, hi, size=(n, 1)), _offset_families(rng, n, K - 1),
                               rng.uniform(0, 1, size=(n, 1)), rng.uniform(-1, 1, size=(n, 1))], axis=1)

    return Product(sampler=sample, gap=Box(lo, hi, 1), offsets=Box(0.0, OFFSET_MAX, K - 1),
                   position=Box(0.0, 1.0, 1), base=Box(-1.0, 1.0, 1))


def onset_space(params: Mapping[str, Any]) -> Product:
    """(offsets, position, base): the gap is not a coordinate, it is found by bisection."""
    K = classes(params)

    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        return np.concatenate([_offset_families(rng, n, K - 1), rng.uniform(0, 1, size=(n, 1)),
                               rng.uniform(-1, 1, size=(n, 1))], axis=1)

    return Product(sampler=sample, offsets=Box(0.0, OFFSET_MAX, K - 1), position=Box(0.0, 1.0, 1),
                   base=Box(-1.0, 1.0, 1))


# ---------------------------------------------------------------------------------------------- measurement
def run_implementation(impl: str, z: np.ndarray, onehot: np.ndarray, xp: Any
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(loss, correct-class gradient, probabilities p_k = gradient + onehot) as NumPy arrays."""
    loss, grad = implementation(impl)(xp.asarray(z), xp.asarray(onehot))
    grad = to_numpy(grad)
    return to_numpy(loss), (grad * onehot).sum(axis=1), grad + onehot


def _absorption_half_spacing(impl: str, z: np.ndarray, c: np.ndarray) -> np.ndarray:
    return half_spacing(z[np.arange(len(c)), c]) if impl == "logsumexp" else np.zeros(len(c))


def evaluate_absorption(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                        ) -> dict[str, np.ndarray]:
    """Per logit vector, from the implementation ``impl`` in precision p: which of loss and correct-class gradient
    are exactly 0, the reference s, r_max, G, |b|, h, and the statement's views of them (module docstring of
    theorems.grokking_numerical_stability): s_live / s_dead / rmax_dead, the wrong classes' relative error and
    their smallest computed gradient on collapsed vectors."""
    p, K, impl = precision(params), classes(params), str(params["impl"])
    c = decode_position(instances["position"][:, 0], K, str(params.get("position", "any")))
    base = decode_base(instances["base"][:, 0])
    z = build_logits(instances["gap"][:, 0], instances["offsets"], c, base, p)
    onehot = onehot_of(c, K, p)
    loss, grad_c, prob = run_implementation(impl, z, onehot, xp)
    ref = reference(z, c)
    zero_grad, zero_loss = grad_c == 0, loss == 0
    collapsed = zero_grad & zero_loss
    any_zero = zero_grad | zero_loss
    wrong = onehot == 0
    exact = ref["r"] / (1 + ref["s"][:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(wrong, np.abs(prob.astype(np.longdouble) / np.where(wrong, exact, 1) - 1), 0)
    smallest = np.where(wrong, prob, np.inf).min(axis=1)
    s, r_max = ref["s"].astype(float), ref["r_max"].astype(float)
    return {
        "s": s,
        "r_max": r_max,
        "G": ref["G"].astype(float),
        "base_abs": np.abs(z[np.arange(len(c)), c]).astype(float),
        "h": _absorption_half_spacing(impl, z, c),
        "zero_grad": zero_grad.astype(float),
        "zero_loss": zero_loss.astype(float),
        "s_live": np.where(collapsed, np.inf, s),
        "s_dead": np.where(any_zero, s, 0.0),
        "rmax_dead": np.where(any_zero, r_max, 0.0),
        "wrong_err": rel.max(axis=1).astype(float),
        "wrong_dead": np.where(collapsed, smallest, 0.0).astype(float),
    }


def collapsed_at(impl: str, gap: np.ndarray, offsets: np.ndarray, c: np.ndarray, base: np.ndarray, p: int,
                 xp: Any) -> np.ndarray:
    """Whether the computed correct-class gradient is exactly 0 at these gaps (one batched evaluation)."""
    z = build_logits(gap, offsets, c, base, p)
    _, grad_c, _ = run_implementation(impl, z, onehot_of(c, z.shape[1], p), xp)
    return grad_c == 0


def bisect_onset(impl: str, offsets: np.ndarray, c: np.ndarray, base: np.ndarray, p: int, xp: Any,
                 lo: np.ndarray, hi: np.ndarray, halvings: int = BISECTIONS) -> np.ndarray:
    """The smallest collapsed gap found by bisection on [lo, hi] (lo must be live, hi collapsed), batched over
    instances; NaN where the bracket is not live/collapsed at its ends. Returns the final collapsed end."""
    lo, hi = np.array(lo, float), np.array(hi, float)
    ok = ~collapsed_at(impl, lo, offsets, c, base, p, xp) & collapsed_at(impl, hi, offsets, c, base, p, xp)
    for _ in range(halvings):
        mid = 0.5 * (lo + hi)
        dead = collapsed_at(impl, mid, offsets, c, base, p, xp)
        hi, lo = np.where(dead, mid, hi), np.where(dead, lo, mid)
    return np.where(ok, hi, np.nan)


def evaluate_onset(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                   ) -> dict[str, np.ndarray]:
    """Per offset configuration: the measured onset gap g_on (bisection on g of the correct-class gradient being
    exactly 0), and what the float model needs to predict it: ln sum_k e^-d_k, min_k d_k, the largest
    |z_k - z_c| at the onset (G = g_on + max d_k), |b| and h."""
    p, K, impl = precision(params), classes(params), str(params["impl"])
    offsets = np.asarray(instances["offsets"], float)
    c = decode_position(instances["position"][:, 0], K, str(params.get("position", "any")))
    base = decode_base(instances["base"][:, 0]).astype(PRECISIONS[p]).astype(float)
    lo, hi = gap_range(p, K)
    log_sum = np.log(np.exp(-offsets.astype(np.longdouble)).sum(axis=1)).astype(float)
    d_min = offsets.min(axis=1)
    # brackets from the float model with room to spare (the claims check where the onset lands inside them)
    g_on = bisect_onset(impl, offsets, c, base, p, xp, np.maximum(lo - 2.0 - d_min, 0.05), hi + 2.0 + log_sum,
                        BISECTIONS)
    return {
        "g_on": g_on,
        "log_sum": log_sum,
        "d_min": d_min,
        "G": g_on + offsets.max(axis=1),
        "base_abs": np.abs(base),
        "h": half_spacing(base.astype(PRECISIONS[p])) if impl == "logsumexp" else np.zeros(len(c)),
    }


# --------------------------------------------------------------------------------------------------- StableMax
def stablemax_space(params: Mapping[str, Any]) -> Product:
    """(log gap, offsets, position, lam): the gap g = e^t from just past softmax's collapse,
    ln((K - 1) 2^p) + 1/2, to STABLEMAX_GAP_MAX; z_c = lam g with lam in [-1, 2] (StableMax is not
    shift-invariant; lam = 1/2 centres the logits, its worst case), wrong logits z_c - g - d_k."""
    p, K = precision(params), classes(params)
    lo = math.log(p * math.log(2.0) + math.log(K - 1) + 0.5)

    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        return np.concatenate([rng.uniform(lo, math.log(STABLEMAX_GAP_MAX), size=(n, 1)),
                               _offset_families(rng, n, K - 1), rng.uniform(0, 1, size=(n, 1)),
                               rng.uniform(-1, 2, size=(n, 1))], axis=1)

    return Product(sampler=sample, log_gap=Box(lo, math.log(STABLEMAX_GAP_MAX), 1),
                   offsets=Box(0.0, OFFSET_MAX, K - 1), position=Box(0.0, 1.0, 1), lam=Box(-1.0, 2.0, 1))


def stablemax_reference(z: np.ndarray, c: np.ndarray) -> dict[str, np.ndarray]:
    """Extended precision: rho = sum_{k != c} s(z_k) / s(z_c) and the exact |gradient| rho / ((1 + rho)(1 + |z_c|))."""
    zl = z.astype(np.longdouble)
    sz = np.where(zl >= 0, zl + 1, 1 / (1 - np.minimum(zl, 0)))
    rows = np.arange(len(c))
    s_c = sz[rows, c]
    rho = (sz.sum(axis=1) - s_c) / s_c
    return {"rho": rho, "grad": rho / ((1 + rho) * (1 + np.abs(zl[rows, c])))}


def evaluate_stablemax(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                       ) -> dict[str, np.ndarray]:
    """Per logit vector past softmax's collapse: StableMax's computed |correct-class gradient| and its exact value,
    rho, the gap, and softmax's |correct-class gradient| on the same logits."""
    p, K = precision(params), classes(params)
    gap = np.exp(instances["log_gap"][:, 0])
    c = decode_position(instances["position"][:, 0], K, "any")
    z = build_logits(gap, instances["offsets"], c, instances["lam"][:, 0] * gap, p)
    onehot = onehot_of(c, K, p)
    _, grad = stablemax_cross_entropy(xp.asarray(z), xp.asarray(onehot))
    _, softmax_grad, _ = run_implementation("softmax", z, onehot, xp)
    ref = stablemax_reference(z, c)
    return {
        "sm_grad": np.abs(to_numpy(grad)).astype(float),
        "sm_exact": ref["grad"].astype(float),
        "rho": ref["rho"].astype(float),
        "gap": gap,
        "softmax_grad": np.abs(softmax_grad).astype(float),
    }
