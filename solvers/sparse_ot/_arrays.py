"""Array-namespace helpers shared by every module of :mod:`solvers.sparse_ot`: the ``Array`` type alias, the
namespace lookup, top-k selection along the last axis (with a NumPy fast path) and the threshold of the Euclidean
projection onto the simplex."""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

Array = Any


# --------------------------------------------------------------------------------------------------------
# array helpers
# --------------------------------------------------------------------------------------------------------
def _ns(*arrays: Array) -> Any:
    return array_api_compat.array_namespace(*arrays)


def _is_numpy(xp: Any) -> bool:
    return array_api_compat.is_numpy_namespace(xp)


def _topk_sorted(x: Array, k: int, xp: Any) -> Array:
    """The k largest entries of ``x`` along the last axis, in decreasing order."""
    m = x.shape[-1]
    if k >= m:
        return xp.sort(x, axis=-1, descending=True)
    if _is_numpy(xp):  # fast path: O(m) selection, then a sort of k entries
        part = -np.partition(-x, k - 1, axis=-1)[..., :k]
        return -np.sort(-part, axis=-1)
    return xp.sort(x, axis=-1, descending=True)[..., :k]


def _topk_mask(x: Array, k: int, xp: Any, top: Array | None = None) -> Array:
    """Boolean mask of exactly min(k, m) largest entries along the last axis (ties: lowest index first)."""
    m = x.shape[-1]
    if k >= m:
        return xp.ones(x.shape, dtype=xp.bool)
    if top is None:
        top = _topk_sorted(x, k, xp)
    vk = top[..., k - 1 : k]
    gt = x > vk
    eq = x == vk
    n_eq = xp.sum(xp.astype(eq, xp.int64), axis=-1, keepdims=True)
    if bool(xp.all(n_eq == 1)):  # no tie at the k-th value: the mask is simply x >= vk
        return gt | eq
    n_gt = xp.sum(xp.astype(gt, xp.int64), axis=-1, keepdims=True)
    rank_eq = xp.cumulative_sum(xp.astype(eq, xp.int64), axis=-1)
    return gt | (eq & (rank_eq <= k - n_gt))


def _simplex_theta(u_sorted: Array, z: Array | float, xp: Any) -> Array:
    """Threshold theta of the simplex projection, from entries sorted in decreasing order (last axis)."""
    K = u_sorted.shape[-1]
    if _is_numpy(xp):  # same formula, without the array-API wrappers (this runs on tiny arrays, very often)
        css = np.cumsum(u_sorted, axis=-1) - z
        cnt = np.count_nonzero(u_sorted - css / np.arange(1, K + 1, dtype=u_sorted.dtype) > 0, axis=-1)
        rho = np.maximum(cnt, 1)[..., None]
        return np.take_along_axis(css, rho - 1, axis=-1) / rho
    css = xp.cumulative_sum(u_sorted, axis=-1) - z
    ind = xp.arange(1, K + 1, dtype=u_sorted.dtype)
    cond = u_sorted - css / ind > 0
    rho = xp.sum(xp.astype(cond, u_sorted.dtype), axis=-1, keepdims=True)
    rho = xp.maximum(rho, xp.ones_like(rho))  # rho >= 1 in exact arithmetic; guards round-off on huge inputs
    picked = xp.where(ind == rho, css, xp.zeros_like(css))
    return xp.sum(picked, axis=-1, keepdims=True) / rho


def _as_last(z: Array | float, x: Array, xp: Any) -> Array | float:
    if isinstance(z, int | float):
        return float(z)
    return xp.reshape(z, tuple(z.shape) + (1,)) if z.ndim == x.ndim - 1 else z
