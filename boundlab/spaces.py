"""Parametrised instance spaces for sure claims: valid instances by construction, for draws and search alike.

A space maps *search coordinates* ``z`` in a box ``[low, high]^dim`` to a valid instance (:meth:`Space.decode`)
and draws random instances, returned as coordinates (:meth:`Space.sample`). Everything is batched: ``decode``
takes an ``(n, dim)`` array and returns ``n`` instances stacked along the first axis (a dict of such arrays for
:class:`Product`). Because every point of the box decodes to a valid instance, the adversarial search
(:mod:`boundlab.search`) only has to stay inside the box to stay inside the theorem's assumptions, and any
coordinate vector can be replayed.

A space may take a custom ``sampler(rng, n) -> z`` (a paper's realistic instance distribution); it must return
coordinates inside the box, which :meth:`Space.sample` checks.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.linalg import expm

from boundlab.errors import UsageError

Sampler = Callable[[np.random.Generator, int], np.ndarray]


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise UsageError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _finite_interval(low: Any, high: Any, low_name: str, high_name: str) -> tuple[float, float]:
    try:
        lo, hi = float(low), float(high)
    except (TypeError, ValueError):
        raise UsageError(f"{low_name} and {high_name} must be numbers, got {low!r} and {high!r}.") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise UsageError(f"{low_name} and {high_name} must be finite, got {lo!r} and {hi!r}.")
    if not lo < hi:
        raise UsageError(f"{low_name} must be < {high_name}, got {low_name}={lo!r}, {high_name}={hi!r}.")
    return lo, hi


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True, eq=False)
class Space(ABC):
    """Base class: coordinates in the box ``[low, high]`` (arrays of length ``dim``) decode to instances.

    Subclasses set ``low``/``high`` in ``__post_init__`` and implement :meth:`_decode`. The default sampler
    draws coordinates uniformly in the box; pass ``sampler`` for another instance distribution.
    """

    sampler: Sampler | None = field(default=None, kw_only=True)
    low: np.ndarray = field(init=False, repr=False)
    high: np.ndarray = field(init=False, repr=False)

    @property
    def dim(self) -> int:
        return int(self.low.size)

    def _set_box(self, low: np.ndarray, high: np.ndarray) -> None:
        object.__setattr__(self, "low", np.asarray(low, dtype=float).ravel())
        object.__setattr__(self, "high", np.asarray(high, dtype=float).ravel())

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.low.copy(), self.high.copy()

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` random instances as an (n, dim) array of coordinates inside the box."""
        if self.sampler is None:
            return self._default_sample(rng, n)
        z = np.asarray(self.sampler(rng, n), dtype=float).reshape(n, -1)
        if z.shape[1] != self.dim:
            raise UsageError(f"{type(self).__name__}: the sampler returned {z.shape[1]} coordinates, "
                             f"the space has {self.dim}.")
        if np.any(z < self.low) or np.any(z > self.high) or not np.isfinite(z).all():
            raise UsageError(f"{type(self).__name__}: the sampler returned coordinates outside the box "
                             "(clip them to the space's low/high).")
        return z

    def _default_sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size=(n, self.dim))

    def decode(self, z: np.ndarray) -> Any:
        """Instances from an (n, dim) array of coordinates (points outside the box are clipped into it)."""
        z = np.asarray(z, dtype=float)
        if z.ndim != 2 or z.shape[1] != self.dim:
            raise UsageError(f"{type(self).__name__}.decode needs an (n, {self.dim}) array, got {z.shape}.")
        return self._decode(np.clip(z, self.low, self.high))

    @abstractmethod
    def _decode(self, z: np.ndarray) -> Any:
        """Valid instances from coordinates already clipped into the box."""


@dataclass(frozen=True, eq=False)
class Box(Space):
    """The identity: coordinates are the instance, reshaped to ``shape`` (an int or a tuple)."""

    lower: float = 0.0
    upper: float = 1.0
    shape: int | tuple[int, ...] = 1

    def __post_init__(self) -> None:
        lo, hi = _finite_interval(self.lower, self.upper, "lower", "upper")
        shape = (self.shape,) if isinstance(self.shape, (int, np.integer)) else tuple(self.shape)
        for s in shape:
            _positive_int(s, "shape")
        object.__setattr__(self, "shape", tuple(int(s) for s in shape))
        size = math.prod(shape)
        self._set_box(np.full(size, lo), np.full(size, hi))

    def _decode(self, z: np.ndarray) -> np.ndarray:
        return z.reshape(z.shape[0], *self.shape)


@dataclass(frozen=True, eq=False)
class RowStochastic(Space):
    """Matrices with ``rows`` rows in the probability simplex of R^cols: a softmax of each row of logits.

    Logits live in ``[logit_low, logit_high]``, so every entry is at least
    ``1 / (1 + (cols - 1) e^(logit_high - logit_low))``: the space covers the *interior* of the simplex only
    (with the default [-8, 8], entries down to about 1e-7 / cols). Claims that need exact zeros on the
    boundary are not reached.
    """

    rows: int = 1
    cols: int = 2
    logit_low: float = -8.0
    logit_high: float = 8.0

    def __post_init__(self) -> None:
        _positive_int(self.rows, "rows")
        _positive_int(self.cols, "cols")
        lo, hi = _finite_interval(self.logit_low, self.logit_high, "logit_low", "logit_high")
        size = int(self.rows) * int(self.cols)
        self._set_box(np.full(size, lo), np.full(size, hi))

    def _default_sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        # A flat Dirichlet(1) on each row, encoded as clipped log-probabilities.
        p = rng.dirichlet(np.ones(int(self.cols)), size=(n, int(self.rows)))
        z = np.log(np.maximum(p, 1e-300) * int(self.cols)).reshape(n, -1)
        return np.clip(z, self.low, self.high)

    def _decode(self, z: np.ndarray) -> np.ndarray:
        return _softmax(z.reshape(z.shape[0], int(self.rows), int(self.cols)))


@dataclass(frozen=True, eq=False, init=False)
class Simplex(RowStochastic):
    """Probability vectors of R^n (the interior of the simplex; see :class:`RowStochastic`): decodes to (N, n)."""

    def __init__(self, n: int, logit_low: float = -8.0, logit_high: float = 8.0, *,
                 sampler: Sampler | None = None) -> None:
        super().__init__(rows=1, cols=_positive_int(n, "n"), logit_low=logit_low, logit_high=logit_high,
                         sampler=sampler)

    @property
    def n(self) -> int:
        return int(self.cols)

    def _decode(self, z: np.ndarray) -> np.ndarray:
        return _softmax(z)


@dataclass(frozen=True, eq=False)
class Sphere(Space):
    """Vectors of norm ``radius`` in R^d: ``radius z / ||z||`` for z in [-1, 1]^d.

    z = 0 (where the direction is undefined) decodes to ``radius e_1``. The default sampler is uniform on the
    sphere (a Gaussian direction scaled into the box).
    """

    d: int = 2
    radius: float = 1.0

    def __post_init__(self) -> None:
        _positive_int(self.d, "d")
        if not (isinstance(self.radius, (int, float, np.floating)) and math.isfinite(self.radius)
                and self.radius > 0):
            raise UsageError(f"radius must be a positive finite number, got {self.radius!r}.")
        self._set_box(-np.ones(int(self.d)), np.ones(int(self.d)))

    def _default_sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        g = rng.standard_normal((n, int(self.d)))
        return g / np.maximum(np.abs(g).max(axis=1, keepdims=True), 1e-300)

    def _decode(self, z: np.ndarray) -> np.ndarray:
        norm = np.linalg.norm(z, axis=1, keepdims=True)
        e1 = np.zeros_like(z)
        e1[:, 0] = 1.0
        tiny = norm <= 1e-300
        direction = np.where(tiny, e1, z / np.where(tiny, 1.0, norm))
        return float(self.radius) * direction


@dataclass(frozen=True, eq=False)
class PSD(Space):
    """Symmetric d x d matrices with spectrum in [eig_low, eig_high]: ``Q diag(lambda) Q^T``.

    Coordinates: d numbers u in [0, 1] give the eigenvalues ``eig_low + (eig_high - eig_low) u``; d(d-1)/2
    numbers in [-pi, pi] fill the strict upper triangle of a skew-symmetric S, and ``Q = expm(S)`` (a rotation;
    every rotation is the exponential of a skew matrix of spectral norm <= pi, whose entries lie in [-pi, pi],
    so the map is onto). The default sampler is uniform in these coordinates (not Haar-distributed rotations).
    Requires 0 <= eig_low < eig_high.
    """

    d: int = 2
    eig_low: float = 0.0
    eig_high: float = 1.0

    def __post_init__(self) -> None:
        d = _positive_int(self.d, "d")
        lo, hi = _finite_interval(self.eig_low, self.eig_high, "eig_low", "eig_high")
        if lo < 0:
            raise UsageError(f"eig_low must be >= 0 for a positive semidefinite space, got {lo!r}.")
        k = d * (d - 1) // 2
        self._set_box(np.concatenate([np.zeros(d), np.full(k, -np.pi)]),
                      np.concatenate([np.ones(d), np.full(k, np.pi)]))

    def _decode(self, z: np.ndarray) -> np.ndarray:
        d, n = int(self.d), z.shape[0]
        lam = float(self.eig_low) + (float(self.eig_high) - float(self.eig_low)) * z[:, :d]
        S = np.zeros((n, d, d))
        iu = np.triu_indices(d, 1)
        S[:, iu[0], iu[1]] = z[:, d:]
        S = S - np.swapaxes(S, 1, 2)
        Q = expm(S) if d > 1 else np.ones((n, 1, 1))
        A = np.einsum("nij,nj,nkj->nik", Q, lam, Q)
        return 0.5 * (A + np.swapaxes(A, 1, 2))


@dataclass(frozen=True, eq=False, init=False)
class Product(Space):
    """Named spaces side by side: coordinates are concatenated in the order given, decode gives a dict.

    Sampling draws each component in that order from the same generator (its own sampler, if any); a
    ``sampler`` on the product replaces them all.
    """

    parts: dict[str, Space] = field(default_factory=dict)

    def __init__(self, *, sampler: Sampler | None = None, **parts: Space) -> None:
        if not parts:
            raise UsageError("Product needs at least one named space.")
        for name, part in parts.items():
            if not isinstance(part, Space):
                raise UsageError(f"Product: {name!r} must be a Space, got {type(part).__name__}.")
        object.__setattr__(self, "sampler", sampler)
        object.__setattr__(self, "parts", dict(parts))
        self._set_box(np.concatenate([p.low for p in parts.values()]),
                      np.concatenate([p.high for p in parts.values()]))

    def _slices(self) -> dict[str, slice]:
        out, start = {}, 0
        for name, part in self.parts.items():
            out[name] = slice(start, start + part.dim)
            start += part.dim
        return out

    def _default_sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.concatenate([p.sample(rng, n) for p in self.parts.values()], axis=1)

    def _decode(self, z: np.ndarray) -> dict[str, Any]:
        return {name: self.parts[name].decode(z[:, s]) for name, s in self._slices().items()}
