"""Instances for the Monge gap (Uscidda and Cuturi, ICML 2023): a reference cloud of n points and a map T, with
the empirical Monge gap of T on that cloud computed exactly (solvers.uniform_ot, enumeration over the n!
permutations, batched) or entropically (batched log-domain Sinkhorn).

Cost: ``c(x, y) = ||x - y||^2`` (OTT-JAX's default ``SqEuclidean``). Every space keeps its instances valid by
construction: points in [-1, 1]^d, and map parameters in boxes (the PSD part of a convex potential through
boundlab.spaces.PSD, softplus weights in [0, 2], so the potential is convex for every coordinate vector).

Map families:

* ``mlp``: ``T(x) = A x + b + U tanh(V x + w)``, A in [-2, 2]^{d x d}, hidden width 2 (any map, no structure);
* ``affine``: ``T(x) = A x + b``, A in [-2, 2]^{d x d} (not symmetric in general);
* ``convex``: ``T = grad phi``, ``phi(x) = x^T S x / 2 + b^T x + sum_k a_k softplus(u_k^T x + c_k)``, S PSD with
  spectrum in [0, 2], a_k in [0, 2]: ``T(x) = S x + b + sum_k a_k sigmoid(u_k^T x + c_k) u_k``;
* ``rotation``: ``T(x) = R_theta x + b`` in the plane, theta in [pi/2, pi].
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import PSD, Box, Product, to_numpy
from solvers import uniform_ot

Params = Mapping[str, Any]
HIDDEN = 2  # hidden units of the mlp maps
BUMPS = 2  # softplus terms of the convex potentials


def _dims(params: Params) -> tuple[int, int]:
    return int(params["n"]), int(params["d"])


def mlp_space(params: Params) -> Product:
    n, d = _dims(params)
    return Product(points=Box(-1.0, 1.0, (n, d)), A=Box(-2.0, 2.0, (d, d)), b=Box(-1.0, 1.0, d),
                   U=Box(-2.0, 2.0, (d, HIDDEN)), V=Box(-2.0, 2.0, (HIDDEN, d)), w=Box(-1.0, 1.0, HIDDEN))


def affine_space(params: Params) -> Product:
    n, d = _dims(params)
    return Product(points=Box(-1.0, 1.0, (n, d)), A=Box(-2.0, 2.0, (d, d)), b=Box(-1.0, 1.0, d))


def convex_space(params: Params) -> Product:
    n, d = _dims(params)
    return Product(points=Box(-1.0, 1.0, (n, d)), S=PSD(d, 0.0, 2.0), b=Box(-1.0, 1.0, d),
                   a=Box(0.0, 2.0, BUMPS), u=Box(-2.0, 2.0, (BUMPS, d)), c=Box(-1.0, 1.0, BUMPS))


def rotation_space(params: Params) -> Product:
    n = int(params["n"])
    return Product(points=Box(-1.0, 1.0, (n, 2)), theta=Box(math.pi / 2, math.pi, 1), b=Box(-1.0, 1.0, 2))


def pairs_space(params: Params) -> Product:
    """Two clouds X and Y = T(X) of n points: with distinct x_i, every Y is the image of some map."""
    n, d = _dims(params)
    return Product(points=Box(-1.0, 1.0, (n, d)), images=Box(-1.0, 1.0, (n, d)))


def _t(M: Any, xp: Any) -> Any:
    return xp.permute_dims(M, (0, 2, 1))


def mlp_map(inst: Mapping[str, Any], xp: Any) -> Any:
    X, A, b = inst["points"], inst["A"], inst["b"]
    hidden = xp.tanh(X @ _t(inst["V"], xp) + inst["w"][:, None, :])
    return X @ _t(A, xp) + b[:, None, :] + hidden @ _t(inst["U"], xp)


def affine_map(inst: Mapping[str, Any], xp: Any) -> Any:
    return inst["points"] @ _t(inst["A"], xp) + inst["b"][:, None, :]


def convex_gradient_map(inst: Mapping[str, Any], xp: Any) -> Any:
    """grad phi for phi(x) = x^T S x / 2 + b^T x + sum_k a_k softplus(u_k^T x + c_k)."""
    X, u = inst["points"], inst["u"]
    z = X @ _t(u, xp) + inst["c"][:, None, :]  # (N, n, K)
    sig = 1.0 / (1.0 + xp.exp(-z))
    return X @ inst["S"] + inst["b"][:, None, :] + (sig * inst["a"][:, None, :]) @ u


def rotation_map(inst: Mapping[str, Any], xp: Any) -> Any:
    theta = inst["theta"][:, 0]
    c, s = xp.cos(theta), xp.sin(theta)
    X = inst["points"]
    x0, x1 = X[:, :, 0], X[:, :, 1]
    rotated = xp.stack([c[:, None] * x0 - s[:, None] * x1, s[:, None] * x0 + c[:, None] * x1], axis=2)
    return rotated + inst["b"][:, None, :]


MAPS = {"mlp": mlp_map, "affine": affine_map, "convex": convex_gradient_map, "rotation": rotation_map}


def _arrays(instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, Any]:
    return {k: xp.asarray(np.asarray(v, dtype=np.float64)) for k, v in instances.items()}


def best_swap_gain(C: Any, xp: Any) -> Any:
    """(1/n) max(0, max_{i,j} C_ii + C_jj - C_ij - C_ji): the saving of the best single transposition."""
    n = int(C.shape[1])
    eye = xp.eye(n, dtype=C.dtype)
    diag = xp.sum(C * eye, axis=2)
    G = diag[:, :, None] + diag[:, None, :] - C - _t(C, xp)
    return xp.maximum(xp.max(xp.reshape(G, (G.shape[0], n * n)), axis=1), 0.0) / n


def _evaluator(family: str) -> Any:
    def evaluate(params: Params, instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, np.ndarray]:
        inst = _arrays(instances, xp)
        X = inst["points"]
        result = uniform_ot.monge_gap(X, MAPS[family](inst, xp), "sqeuclidean", None, xp)
        out = {"gap": result.gap, "disp": result.displacement, "swap": best_swap_gain(result.C, xp)}
        if family == "rotation":
            diff = X[:, :, None, :] - X[:, None, :, :]
            sq = xp.reshape(xp.sum(diff * diff, axis=3), (X.shape[0], X.shape[1] ** 2))
            out["ctheta"] = xp.cos(inst["theta"][:, 0])
            out["diam2"] = xp.max(sq, axis=1)
        return {k: to_numpy(v) for k, v in out.items()}

    evaluate.__name__ = f"evaluate_{family}"
    evaluate.__doc__ = (f"Per instance ({family} maps): the exact Monge gap ``gap``, the displacement cost ``disp`` "
                        "and the best transposition's saving ``swap``" +
                        (", with cos(theta) and the squared diameter of the cloud." if family == "rotation" else "."))
    return evaluate


evaluate_mlp = _evaluator("mlp")
evaluate_affine = _evaluator("affine")
evaluate_convex = _evaluator("convex")
evaluate_rotation = _evaluator("rotation")


def evaluate_entropic(params: Params, instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, np.ndarray]:
    """Per instance: the exact gap ``gap``, the entropic gap ``gap_eps`` (KL convention) and its bias
    ``bias = gap - gap_eps = W_{c,eps} - W_c``, with the Sinkhorn marginal error ``marginal``."""
    inst = _arrays(instances, xp)
    X, Y = inst["points"], inst["images"]
    exact = uniform_ot.monge_gap(X, Y, "sqeuclidean", None, xp)
    ent = uniform_ot.entropic_cost(exact.C, float(params["eps"]), xp)
    gap_eps = exact.displacement - ent.value
    return {"gap": to_numpy(exact.gap), "gap_eps": to_numpy(gap_eps), "bias": to_numpy(exact.gap - gap_eps),
            "marginal": to_numpy(ent.marginal_error)}
