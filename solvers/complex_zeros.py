r"""The nearest complex zero of exponential sums F(t) = sum_k exp(c_k + b_k t), batched over rows.

With real log-weights c_k and real rates b_k, F is entire and positive on the real line; its zeros come in
conjugate pairs. ``nearest_zero`` returns, per row, the zero of smallest modulus (the representative with
Im > 0) and that modulus: the radius of convergence at t = 0 of the Taylor series of log F, whose only
singularities are the zeros of F. The solver knows nothing about any bound on where the zeros lie.

Method (per row, all rows at once):

1. **Normalise.** Zeros do not move when F is multiplied by a zero-free entire function, so rates are
   centred and scaled, s = t (max b - min b), b' = (b - mid b) / spread in [-1/2, 1/2], and c' = c - max c.
   A row whose rates are all equal is one exponential times a constant: no zero, radius +inf. F is always
   evaluated in log-sum-exp form (terms exp(L_k - max_k Re L_k)), so magnitudes never overflow.
2. **Newton from every two-term sub-sum.** For each pair j < k the sum of the two terms alone vanishes at
   s = (c_k - c_j + i pi) / (b_j - b_k); from each such seed Newton's method s <- s - F / F' runs on the
   whole sum (steps damped to length 1). A limit counts as a zero when its relative residual
   |F| / sum_k |term_k| is below 1e-10 and its last step below 1e-12 |s|.
3. **Certify** that no zero was missed: the argument principle counts the zeros inside a circle |s| = R put
   in the first gap of at least 0.2 between the distinct moduli found above the smallest one (at most 0.5
   beyond the modulus below it), from the wrapped phase increments of F at 32 R points (at least 256, a
   power of two). Along the circle each term's phase turns at most R / 2 per radian, so the smooth part of
   the phase moves less than pi / 30 per step and a zero has to come within about 0.01 of the circle to
   upset the count. The row is certified when the count is exactly twice (conjugates) the number of zeros
   found below R; the answer is then the zero found of smallest modulus.
4. **Fallback** for rows that fail the certificate: bracket the nearest modulus by counts (doubling r from 1
   until the count is positive, then ``bisections`` halvings; 16 r points per circle), seed Newton at the
   ``seeds`` deepest local minima of |F| on the upper half of both bracket circles and the one between (by the
   minimum modulus principle the only interior minima of |F| are its zeros), and certify again with all the
   zeros found. Rows that still fail get NaN and ``converged`` False.

Nothing in the method assumes where the zeros lie (in particular no strip or disk free of zeros).

Accuracy (tests/test_ghosts_of_softmax.py): against the two-class closed form sqrt(delta^2 + pi^2) /
|b_1 - b_2| the relative error is below 1e-12 (measured about 4e-16); against the roots of the polynomial
F = P(e^{gamma t}) for integer-commensurate rates (mpmath.polyroots at 40 digits, K = 3 and 5) and against a
brute-force grid of |F| polished by mpmath.findroot (K = 3) the radius agrees to 1e-10 relative; on random
rows with K = 3, 5, 10 a count on a finer circle at 0.999 |t0| finds no zero inside. On 512 random rows per
K in {2, 3, 5, 10} (logits in [-8, 8], rates in [-1, 1]) every row is certified in the first pass, at about
0.5 s for K = 10 (one core).

Bad input raises :class:`ValueError` naming the argument and the rule it broke.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from boundlab.backends import to_numpy

Array = Any

_MIN_POINTS = 256
_MAX_RADIUS = 4096.0  # normalised units (radius x rate spread); beyond it a row is reported as not converged


@dataclass(frozen=True)
class NearestZero:
    """Per row: the nearest zero (Im > 0; its conjugate is a zero too), its modulus, and whether it was
    found and certified. ``radius`` is +inf for rows without zeros (all rates equal) and NaN where the solver
    failed; ``zero`` is NaN in both cases."""

    zero: Array
    radius: Array
    converged: Array
    retried: Array  # rows the first pass could not certify (solved again from the bracket's seeds)


def _check(log_weights: Any, rates: Any, xp: Any) -> tuple[int, int]:
    for name, x in (("log_weights", log_weights), ("rates", rates)):
        if len(x.shape) != 2:
            raise ValueError(f"{name} must be a 2-D array (rows, terms), got shape {tuple(x.shape)}.")
        if not bool(xp.all(xp.isfinite(x))):
            raise ValueError(f"{name} must be finite (got NaN or inf).")
    if tuple(log_weights.shape) != tuple(rates.shape):
        raise ValueError(f"log_weights and rates must have the same shape, got {tuple(log_weights.shape)} and "
                         f"{tuple(rates.shape)}.")
    n, k = (int(v) for v in rates.shape)
    if k < 1:
        raise ValueError("log_weights and rates need at least one term per row.")
    return n, k


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _points(r: float, density: float = 16.0) -> int:
    """Circle samples for radius r (normalised): at least ``density`` r, a power of two, and at least 256."""
    return max(_MIN_POINTS, 1 << math.ceil(math.log2(max(density * r, 1.0))))


def _log_terms(c: Array, b: Array, s: Array, xp: Any) -> tuple[Array, Array]:
    """Terms exp(c + b s) of F at points s (rows, points) as (E, top): E = exp(L - top) (rows, points, K) with
    L = c + b s and top = max_k Re L_k (rows, points)."""
    L = xp.astype(c[:, None, :], xp.complex128) + xp.astype(b[:, None, :], xp.complex128) * s[:, :, None]
    top = xp.max(xp.real(L), axis=2)
    return xp.exp(L - xp.astype(top[:, :, None], xp.complex128)), top


def _winding(c: Array, b: Array, r: Array, m: int, xp: Any) -> Array:
    """Number of zeros of F inside |s| = r (per row), from the wrapped phase increments at m points."""
    theta = xp.arange(m, dtype=xp.float64) * (2.0 * math.pi / m)
    unit = xp.exp(xp.astype(theta, xp.complex128) * 1j)
    s = xp.astype(r[:, None], xp.complex128) * unit[None, :]
    E, _ = _log_terms(c, b, s, xp)
    F = xp.sum(E, axis=2)
    u = F / xp.astype(xp.abs(F), xp.complex128)
    step = xp.roll(u, -1, axis=1) * xp.conj(u)
    total = xp.sum(xp.atan2(xp.imag(step), xp.real(step)), axis=1)
    return xp.astype(xp.round(total / (2.0 * math.pi)), xp.int64)


def _count(c: Array, b: Array, r: Array, xp: Any, density: float = 16.0) -> Array:
    """Zero counts inside |s| = r for every row, rows grouped by the number of circle points they need."""
    r_np = np.asarray(to_numpy(r), dtype=float)
    need = np.array([_points(v, density) for v in r_np], dtype=np.int64)
    out = xp.zeros(r.shape, dtype=xp.int64)
    for m in np.unique(need):
        chosen = need == m
        idx = xp.asarray(np.flatnonzero(chosen))
        sub = _winding(xp.take(c, idx, axis=0), xp.take(b, idx, axis=0), xp.take(r, idx, axis=0), int(m), xp)
        position = xp.asarray(np.where(chosen, np.cumsum(chosen) - 1, 0))  # each row's place in `sub`
        out = xp.where(xp.asarray(chosen), xp.take(sub, position, axis=0), out)
    return out


def _seeds(c: Array, b: Array, r: Array, m: int, count: int, xp: Any) -> Array:
    """The ``count`` deepest local minima of |F| on the upper half of |s| = r (rows, count), complex."""
    theta = (xp.arange(m, dtype=xp.float64) + 0.5) * (math.pi / m)
    unit = xp.exp(xp.astype(theta, xp.complex128) * 1j)
    s = xp.astype(r[:, None], xp.complex128) * unit[None, :]
    E, top = _log_terms(c, b, s, xp)
    g = xp.log(xp.abs(xp.sum(E, axis=2))) + top
    left = xp.concat([g[:, :1] + 1.0, g[:, :-1]], axis=1)
    right = xp.concat([g[:, 1:], g[:, -1:] + 1.0], axis=1)
    minimum = (g < left) & (g <= right)
    ranked = xp.where(minimum, g, xp.asarray(math.inf))
    order = xp.argsort(ranked, axis=1)[:, :count]
    chosen = xp.take_along_axis(s, order, axis=1)
    usable = xp.take_along_axis(ranked, order, axis=1) < math.inf
    # a missing minimum falls back to the circle's top point (a harmless extra seed)
    fallback = xp.astype(r[:, None], xp.complex128) * 1j
    return xp.where(usable, chosen, fallback)


def _pair_seeds(c: Array, b: Array, xp: Any) -> Array:
    """The nearest zero of every two-term sub-sum exp(c_j + b_j s) + exp(c_k + b_k s), j < k, moved to Im > 0:
    s = (c_k - c_j + i pi) / (b_j - b_k) (rows, pairs); pairs with b_j = b_k give the harmless seed s = i."""
    k = int(b.shape[1])
    jj, kk = np.triu_indices(k, 1)
    bj, bk = xp.take(b, xp.asarray(jj), axis=1), xp.take(b, xp.asarray(kk), axis=1)
    cj, ck = xp.take(c, xp.asarray(jj), axis=1), xp.take(c, xp.asarray(kk), axis=1)
    den = bj - bk
    flat = den == 0
    num = xp.astype(ck - cj, xp.complex128) + 1j * math.pi
    s = num / xp.astype(xp.where(flat, 1.0, den), xp.complex128)
    s = xp.where(xp.imag(s) < 0, xp.conj(s), s)
    return xp.where(flat, xp.asarray(1j), s)


def _newton(c: Array, b: Array, s: Array, iterations: int, xp: Any) -> tuple[Array, Array]:
    """Newton's method on F from seeds s (rows, seeds), steps longer than 1 damped to length 1 (the rates lie in
    [-1/2, 1/2], so F varies on that scale). Stops early once every seed has either converged (step below
    1e-14 |s|) or left the disk of 4 times the largest seed modulus of its row. Returns the limits (moved to
    Im >= 0) and a mask of those that are zeros: relative residual |F| / sum_k |term_k| below 1e-10 and a last
    step below 1e-12 |s|."""
    bc = xp.astype(b[:, None, :], xp.complex128)
    cap = 4.0 * xp.max(xp.abs(s), axis=1, keepdims=True) + 1.0
    step = xp.full(s.shape, math.inf, dtype=xp.float64)
    for _ in range(iterations):
        E, _ = _log_terms(c, b, s, xp)
        dF = xp.sum(bc * E, axis=2)
        zero_slope = dF == 0
        delta = xp.sum(E, axis=2) / xp.where(zero_slope, xp.asarray(1.0 + 0j), dF)
        delta = xp.where(zero_slope, xp.asarray(1.0 + 0j), delta)  # a flat point: move off it
        length = xp.abs(delta)
        delta = delta / xp.astype(xp.where(length > 1.0, length, 1.0), xp.complex128)
        s = s - delta
        step = length
        settled = (step <= 1e-14 * xp.maximum(xp.abs(s), 1.0)) | ~xp.isfinite(step) | (xp.abs(s) > cap)
        if bool(xp.all(settled)):
            break
    E, _ = _log_terms(c, b, s, xp)
    residual = xp.abs(xp.sum(E, axis=2)) / xp.sum(xp.abs(E), axis=2)
    good = (residual < 1e-10) & (step <= 1e-12 * xp.maximum(xp.abs(s), 1.0)) & xp.isfinite(xp.abs(s))
    s = xp.where(xp.imag(s) < 0, xp.conj(s), s)
    return s, good & (xp.imag(s) > 0)


def _distinct_moduli(s: Array, good: Array, xp: Any) -> Array:
    """Moduli of the distinct zeros among s[good] per row, ascending, padded with +inf (rows, seeds)."""
    gap = xp.abs(s[:, :, None] - s[:, None, :])
    tol = 1e-7 * xp.maximum(xp.abs(s), 1.0)
    n = int(s.shape[1])
    earlier = xp.asarray(np.tril(np.ones((n, n), dtype=bool), -1))  # j < i
    repeat = xp.any((gap < tol[:, :, None]) & good[:, None, :] & earlier[None, :, :], axis=2)
    modulus = xp.where(good & ~repeat, xp.abs(s), xp.asarray(math.inf))
    return xp.sort(modulus, axis=1)


def _certify(c: Array, b: Array, s: Array, good: Array, xp: Any) -> Array:
    """True where the zeros found are all the zeros of F up to a radius beyond the nearest one.

    Among the distinct moduli found, R is put in the first gap of at least 0.2 (normalised units) above the
    smallest, at most 0.5 above the modulus below it; the certificate is an argument-principle count inside
    |s| = R (32 R points, so the step along the circle is at most 0.2) equal to twice the number of zeros found
    below R (each with its conjugate)."""
    moduli = _distinct_moduli(s, good, xp)
    rows = int(s.shape[0])
    upper = xp.concat([moduli[:, 1:], xp.full((rows, 1), math.inf, dtype=xp.float64)], axis=1)
    finite = xp.isfinite(moduli)
    gaps = xp.where(finite, upper - xp.where(finite, moduli, 0.0), -math.inf)
    wide = gaps >= 0.2
    first = xp.argmax(xp.astype(wide, xp.int64), axis=1)
    found = xp.any(wide, axis=1)
    below = xp.where(found, xp.take_along_axis(moduli, first[:, None], axis=1)[:, 0], 0.0)
    width = xp.where(found, xp.take_along_axis(gaps, first[:, None], axis=1)[:, 0], 2.0)
    R = xp.where(found, below + xp.minimum(width / 2.0, 0.5), 1.0)
    counted = _count(c, b, R, xp, density=32.0)
    return found & (counted == 2 * (first + 1))


def _bracket_seeds(c: Array, b: Array, bisections: int, seeds: int, xp: Any) -> Array:
    """Fallback seeds: bracket the nearest modulus by argument-principle counts (doubling from r = 1, then
    bisection), and take the deepest minima of |F| on the upper half of the two bracket circles and of the
    circle between them (rows, 3 seeds)."""
    n = int(c.shape[0])
    r_lo = xp.zeros((n,), dtype=xp.float64)
    r_hi = xp.full((n,), math.inf, dtype=xp.float64)
    r = xp.ones((n,), dtype=xp.float64)
    open_ = xp.ones((n,), dtype=xp.bool)
    while bool(xp.any(open_)):
        found = (_count(c, b, xp.where(open_, r, 1.0), xp) > 0) & open_
        r_hi = xp.where(found, r, r_hi)
        r_lo = xp.where(open_ & ~found, r, r_lo)
        open_ = open_ & ~found & (r < _MAX_RADIUS)
        r = r * 2.0
    r_hi = xp.where(xp.isfinite(r_hi), r_hi, _MAX_RADIUS)
    for _ in range(bisections):
        mid = (r_lo + r_hi) / 2.0
        inside = _count(c, b, mid, xp) > 0
        r_hi = xp.where(inside, mid, r_hi)
        r_lo = xp.where(inside, r_lo, mid)
    m = _points(float(np.max(to_numpy(r_hi))))
    r_lo = xp.where(r_lo > 0, r_lo, r_hi / 2.0)
    return xp.concat([_seeds(c, b, radius, m, seeds, xp) for radius in (r_lo, (r_lo + r_hi) / 2.0, r_hi)], axis=1)


def nearest_zero(log_weights: Any, rates: Any, *, newton_steps: int = 30, bisections: int = 10,
                 seeds: int = 3) -> NearestZero:
    """The zero of smallest modulus of F(t) = sum_k exp(log_weights[:, k] + rates[:, k] t), per row.

    ``log_weights`` and ``rates`` are (rows, terms) real arrays of any array-API namespace. Newton's method
    runs from the nearest zero of every two-term sub-sum; the answer is certified by an argument-principle
    count (see :func:`_certify`). Rows that fail the certificate are solved again from the seeds of an
    argument-principle bracket (``bisections`` halvings, ``seeds`` minima of |F| per circle) and certified
    again; rows that still fail get NaN and ``converged`` False. Returns a :class:`NearestZero` of arrays in
    the input's namespace.
    """
    xp = array_namespace(log_weights, rates)
    log_weights, rates = xp.asarray(log_weights, dtype=xp.float64), xp.asarray(rates, dtype=xp.float64)
    _check(log_weights, rates, xp)
    newton_steps = _positive_int(newton_steps, "newton_steps")
    bisections = _positive_int(bisections, "bisections")
    seeds = _positive_int(seeds, "seeds")

    hi_b, lo_b = xp.max(rates, axis=1), xp.min(rates, axis=1)
    spread = hi_b - lo_b
    flat = spread == 0
    scale = xp.where(flat, 1.0, spread)
    b = (rates - ((hi_b + lo_b) / 2.0)[:, None]) / scale[:, None]
    c = log_weights - xp.max(log_weights, axis=1)[:, None]
    n = int(rates.shape[0])
    if int(rates.shape[1]) == 1:  # one exponential: no zero anywhere
        inf = xp.full((n,), math.inf, dtype=xp.float64)
        return NearestZero(zero=xp.full((n,), complex(math.nan, math.nan), dtype=xp.complex128), radius=inf,
                           converged=xp.ones((n,), dtype=xp.bool), retried=xp.zeros((n,), dtype=xp.bool))

    s, good = _newton(c, b, _pair_seeds(c, b, xp), newton_steps, xp)
    certified = _certify(c, b, s, good, xp) | flat
    retry = np.flatnonzero(~to_numpy(certified))
    if retry.size:
        idx = xp.asarray(retry)
        cr, br = xp.take(c, idx, axis=0), xp.take(b, idx, axis=0)
        extra, extra_good = _newton(cr, br, _bracket_seeds(cr, br, bisections, seeds, xp), newton_steps, xp)
        sr = xp.concat([xp.take(s, idx, axis=0), extra], axis=1)
        gr = xp.concat([xp.take(good, idx, axis=0), extra_good], axis=1)
        ok_r = _certify(cr, br, sr, gr, xp)
        place = np.where(~to_numpy(certified), np.cumsum(~to_numpy(certified)) - 1, 0)
        width = int(sr.shape[1])
        pad = width - int(s.shape[1])
        s = xp.concat([s, xp.full((int(s.shape[0]), pad), 1j, dtype=xp.complex128)], axis=1)
        good = xp.concat([good, xp.zeros((int(good.shape[0]), pad), dtype=xp.bool)], axis=1)
        mask = xp.asarray(~to_numpy(certified))
        pos = xp.asarray(place)
        s = xp.where(mask[:, None], xp.take(sr, pos, axis=0), s)
        good = xp.where(mask[:, None], xp.take(gr, pos, axis=0), good)
        certified = xp.where(mask, xp.take(ok_r, pos, axis=0), certified)

    ranked = xp.where(good, xp.abs(s), xp.asarray(math.inf))
    best = xp.argmin(ranked, axis=1)
    zero_s = xp.take_along_axis(s, best[:, None], axis=1)[:, 0]
    ok = certified & ~flat
    radius = xp.where(flat, xp.asarray(math.inf), xp.where(ok, xp.abs(zero_s) / scale, xp.asarray(math.nan)))
    zero = xp.where(ok, zero_s / xp.astype(scale, xp.complex128), xp.asarray(complex(math.nan, math.nan)))
    retried = np.zeros(n, dtype=bool)
    retried[retry] = True
    return NearestZero(zero=zero, radius=radius, converged=certified | flat, retried=xp.asarray(retried))
