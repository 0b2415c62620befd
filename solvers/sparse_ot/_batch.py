"""Batch data and compaction: the per-instance data of a (sub)batch, ``_Data``, and the boolean-mask helpers with
which every iterative stage evaluates only its unconverged instances and writes their results back to the
full-batch outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._arrays import Array, _ns


# --------------------------------------------------------------------------------------------------------
# batch data and compaction (only unconverged instances are evaluated; results are written back by mask)
# --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Data:
    """Per-instance data of a (sub)batch: ``a`` (B, m), ``b`` (B, n), transposed cost ``Ct`` (B, n, m)."""

    a: Array
    b: Array
    Ct: Array
    gamma: float
    k: int
    xp: Any

    def take(self, mask: Array | None) -> _Data:
        """The instances selected by the boolean ``mask`` (``None``: all of them, no copy)."""
        if mask is None:
            return self
        return _Data(self.a[mask], self.b[mask], self.Ct[mask], self.gamma, self.k, self.xp)


def _all(mask: Array, xp: Any) -> bool:
    return bool(mask.shape[0] > 0) and bool(xp.all(mask))


def _put(out: Array, mask: Array, values: Array, xp: Any = None) -> None:
    """``out[mask] = values`` (boolean mask over the leading axis; skipped when nothing is selected)."""
    if bool((xp or _ns(mask)).any(mask)):
        out[mask] = values


def _expand(outer: Array, inner: Array) -> Array:
    """Full-size mask of the rows of ``outer`` selected by ``inner`` (a mask over ``outer``'s True rows)."""
    xp = _ns(outer)
    full = xp.zeros(outer.shape, dtype=xp.bool)
    _put(full, outer, inner)
    return full


def _ifull(like: Array, value: int) -> Array:
    xp = _ns(like)
    return xp.full(like.shape, value, dtype=xp.int64)


def _vdot(x: Array, y: Array, xp: Any) -> Array:
    return xp.vecdot(x, y, axis=-1)
