"""Projections onto the simplex and onto the k-sparse simplex, and the two conjugates of the sparsity-constrained
quadratic regulariser (``delta_k`` for the dual, ``max_k`` for the semi-dual), all along the last axis of arrays of
any array-API namespace."""

from __future__ import annotations

from ._arrays import Array, _as_last, _ns, _simplex_theta, _topk_mask, _topk_sorted


# --------------------------------------------------------------------------------------------------------
# projections and conjugates (along the last axis)
# --------------------------------------------------------------------------------------------------------
def projection_simplex(x: Array, z: Array | float = 1.0) -> Array:
    """Euclidean projection of every vector ``x[..., :]`` onto ``{t >= 0, sum t = z}`` (sort-based, exact)."""
    xp = _ns(x)
    zz = _as_last(z, x, xp)
    srt = xp.sort(x, axis=-1, descending=True)
    x = x - srt[..., :1]  # shift by the max (the projection is shift-invariant): exact support on huge inputs
    theta = _simplex_theta(srt - srt[..., :1], zz, xp)
    return xp.maximum(x - theta, xp.zeros_like(x))


def projection_sparse_simplex(x: Array, k: int, z: Array | float = 1.0) -> Array:
    """Projection onto ``{t >= 0, sum t = z, ||t||_0 <= k}`` along the last axis.

    Exact (Kyrillidis et al. 2013): keep the k largest entries, project them onto the simplex, zero the rest.
    """
    xp = _ns(x)
    zz = _as_last(z, x, xp)
    top = _topk_sorted(x, k, xp)
    theta = _simplex_theta(top - top[..., :1], zz, xp)  # shifted by the max: see projection_simplex
    mask = _topk_mask(x, k, xp, top)
    return xp.where(mask, xp.maximum((x - top[..., :1]) - theta, xp.zeros_like(x)), xp.zeros_like(x))


def delta_k(s: Array, gamma: float, k: int) -> tuple[Array, Array]:
    """Dual conjugate ``delta_k(s) = sup_{t >= 0, ||t||_0 <= k} s.t - (gamma/2)||t||^2`` along the last axis.

    Returns ``(value, grad)``: ``value = sum of the k largest [s]_+^2 / (2 gamma)``, ``grad = [s]_+ / gamma`` on
    those k coordinates and 0 elsewhere (POT ``SparsityConstrained.delta_Omega``, without its in-place edit).
    """
    xp = _ns(s)
    sp = xp.maximum(s, xp.zeros_like(s))
    mask = _topk_mask(sp, k, xp)
    g = xp.where(mask, sp, xp.zeros_like(sp)) / gamma
    return xp.sum(g * g, axis=-1) * (gamma / 2.0), g


def max_k(s: Array, scale: Array | float, k: int) -> tuple[Array, Array]:
    """Semi-dual max operator ``max_{t in simplex, ||t||_0 <= k} s.t - (scale/2)||t||^2`` along the last axis.

    ``scale`` (= gamma * b_j) is a scalar or has shape ``s.shape[:-1]``.  Returns ``(value, t*)`` with
    ``t* = P_{simplex cap B_k}(s / scale)``, which is also the gradient of the value with respect to ``s``.

    Constant convention: this is POT's ``SparsityConstrained.max_Omega``.  The official JAX code
    (``vmoe ... _max_l2_top_k``) returns ``<p, x> - (scale/2) <p, p - 1>``, i.e. this value **+ scale/2**;
    summed in the semi-dual that shifts S_k by ``-(gamma/2) ||b||^2``.  Normalise before comparing.
    """
    xp = _ns(s)
    sc = _as_last(scale, s, xp)
    t = projection_sparse_simplex(s / sc, k)
    half = sc / 2.0 if isinstance(sc, float) else sc[..., 0] / 2.0
    return xp.sum(s * t, axis=-1) - half * xp.sum(t * t, axis=-1), t
