"""Instances for *On the difficulty of training Recurrent Neural Networks* (Pascanu, Mikolov and Bengio, ICML 2013).

The model (the paper's eq. (2)): x_t = W_rec sigma(x_{t-1}) + W_in u_t + b, here with W_in = I_n and b = 0 (so the
input u_t is the whole drive of step t; a full-rank W_in and any bias give the same set of trajectories). Its
step Jacobian is J_t = d x_t / d x_{t-1} = W_rec diag(sigma'(x_{t-1})) (the paper prints W_rec^T; the transpose does
not change the 2-norm, which is all the bounds use), and the long-term factor is d x_t / d x_k = J_t ... J_{k+1}.

Everything is batched over a leading instance axis and written against the array API (``xp``); the only NumPy
detour is the spectral radius, because the array API has no general (non-symmetric) eigensolver.

* :func:`forward_states`, :func:`step_jacobians`, :func:`prefix_gains`: the exact Jacobian products of a batch
  of trajectories and their 2-norms ||d x_t / d x_0|| at every horizon t.
* :func:`clip_gradient`: Algorithm 1 (norm clipping); :func:`clip_elementwise`: the element-wise clipping of
  Mikolov (2012) that the paper modifies.
* :func:`recurrent_space` / :func:`evaluate_recurrent`: the instance space of the sure claims (a recurrent matrix
  rescaled to largest singular value ``lam`` and a trajectory x_0, ..., x_{L-1}, with the inputs that realise it)
  and its measurements;
  :func:`gradient_space` / :func:`evaluate_clipping`: gradient vectors of norms spread over six decades.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import Box, Product, to_numpy

#: gamma = sup |sigma'| for each activation (the paper: 1 for tanh, 1/4 for the sigmoid; both reached at 0).
ACTIVATIONS: dict[str, float] = {"tanh": 1.0, "sigmoid": 0.25}
#: The states x_0, ..., x_{L-1} of an instance lie in [-STATE, STATE]^n (tanh'(3) = 0.0099, sigmoid'(3) = 0.045:
#: the box reaches from the linear regime at 0 well into saturation).
STATE = 3.0
#: Gradient vectors of the clipping experiment have norms 10^a ||v||, a in [-LOG_SCALE, LOG_SCALE].
LOG_SCALE = 3.0


# ------------------------------------------------------------------------------------------- validation
def _activation(act: Any) -> str:
    if act not in ACTIVATIONS:
        raise ValueError(f"act (the activation) must be one of {sorted(ACTIVATIONS)}, got {act!r}.")
    return str(act)


def _finite(name: str, a: Any) -> None:
    if not np.all(np.isfinite(to_numpy(a))):
        raise ValueError(f"{name} must be finite (got NaN or inf).")


def _positive_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}.")
    return float(value)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _check_trajectory(W: Any, x0: Any, inputs: Any) -> tuple[int, int, int]:
    shape = tuple(W.shape)
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ValueError(f"W must have shape (N, n, n) (N square recurrent matrices), got {shape}.")
    N, n, _ = shape
    if tuple(x0.shape) != (N, n):
        raise ValueError(f"x0 must have shape (N, n) = {(N, n)}, got {tuple(x0.shape)}.")
    if len(inputs.shape) != 3 or inputs.shape[0] != N or inputs.shape[2] != n or inputs.shape[1] < 1:
        raise ValueError(f"inputs must have shape (N, L, n) = ({N}, L, {n}) with L >= 1, got {tuple(inputs.shape)}.")
    for name, a in (("W", W), ("x0", x0), ("inputs", inputs)):
        _finite(name, a)
    return N, int(inputs.shape[1]), n


# ------------------------------------------------------------------------------------------- the recurrence
def sigma_and_derivative(x: Any, act: str, xp: Any) -> tuple[Any, Any]:
    """sigma(x) and sigma'(x), elementwise: tanh (tanh' = 1 / cosh^2) or the logistic sigmoid s (s' = s(x) s(-x)).

    Both derivative forms keep their relative accuracy in saturation, where 1 - tanh^2 and s (1 - s) round to 0.
    """
    act = _activation(act)
    if act == "tanh":
        c = xp.cosh(x)
        return xp.tanh(x), 1.0 / (c * c)
    s = 1.0 / (1.0 + xp.exp(-x))
    return s, s * (1.0 / (1.0 + xp.exp(x)))


def forward_states(W: Any, x0: Any, inputs: Any, act: str, xp: Any) -> Any:
    """States x_0, ..., x_L (N, L + 1, n) of x_t = W sigma(x_{t-1}) + u_t, for inputs u (N, L, n)."""
    N, L, n = _check_trajectory(W, x0, inputs)
    _activation(act)
    states = [x0]
    for t in range(L):  # a loop over time steps; every step is one batched matmul over the N instances
        s, _ = sigma_and_derivative(states[-1], act, xp)
        states.append(xp.matmul(W, s[:, :, None])[:, :, 0] + inputs[:, t, :])
    return xp.stack(states, axis=1)


def step_jacobians(W: Any, states: Any, act: str, xp: Any) -> Any:
    """J_t = d x_t / d x_{t-1} = W diag(sigma'(x_{t-1})) for t = 1..L: (N, L, n, n) from states (N, L + 1, n)."""
    if len(states.shape) != 3 or states.shape[0] != W.shape[0] or states.shape[2] != W.shape[1]:
        raise ValueError(f"states must have shape (N, L + 1, n) matching W {tuple(W.shape)}, "
                         f"got {tuple(states.shape)}.")
    _, d = sigma_and_derivative(states[:, :-1, :], act, xp)
    return W[:, None, :, :] * d[:, :, None, :]


def prefix_gains(J: Any, xp: Any) -> Any:
    """||d x_t / d x_0||_2 for t = 1..L (N, L), from step Jacobians J (N, L, n, n): d x_t / d x_0 = J_t ... J_1.

    Any window d x_t / d x_k of a trajectory is the prefix d x_{t-k} / d x_0 of the same model started at x_k with
    the inputs shifted by k, so a statement about every prefix of every trajectory is one about every window.
    """
    if len(J.shape) != 4 or J.shape[2] != J.shape[3]:
        raise ValueError(f"J must have shape (N, L, n, n), got {tuple(J.shape)}.")
    products = [J[:, 0, :, :]]
    for t in range(1, int(J.shape[1])):  # a loop over time; each product is one batched matmul
        products.append(xp.matmul(J[:, t, :, :], products[-1]))
    return xp.linalg.matrix_norm(xp.stack(products, axis=1), ord=2)


# ------------------------------------------------------------------------------------------- clipping
def _check_gradients(g: Any, threshold: Any) -> float:
    if len(g.shape) != 2 or g.shape[1] < 1:
        raise ValueError(f"g must have shape (N, p) (N gradient vectors), got {tuple(g.shape)}.")
    _finite("g", g)
    return _positive_number("threshold", threshold)


def clip_gradient(g: Any, threshold: float, xp: Any) -> Any:
    """Algorithm 1: g <- (threshold / ||g||) g where ||g|| >= threshold, row by row of g (N, p)."""
    threshold = _check_gradients(g, threshold)
    norm = xp.linalg.vector_norm(g, axis=1, keepdims=True)
    scale = xp.where(norm >= threshold, threshold / xp.where(norm > 0, norm, 1.0), 1.0)
    return scale * g


def clip_elementwise(g: Any, threshold: float, xp: Any) -> Any:
    """Element-wise clipping (Mikolov, 2012): every coordinate clipped to [-threshold, threshold]."""
    threshold = _check_gradients(g, threshold)
    return xp.clip(g, -threshold, threshold)


# ------------------------------------------------------------------------------------------- instance spaces
def _recurrent_params(params: Mapping[str, Any]) -> tuple[int, int, float, str]:
    n = _positive_int("n", params["n"])
    L = _positive_int("L", params["L"])
    lam = _positive_number("lam (the largest singular value of W_rec)", params["lam"])
    act = _activation(params["act"])
    if float(params["gamma"]) != ACTIVATIONS[act]:
        raise ValueError(f"gamma must be sup |sigma'| = {ACTIVATIONS[act]} for act = {act!r}, got {params['gamma']!r}.")
    return n, L, lam, act


def random_directions(rng: np.random.Generator, count: int, n: int) -> np.ndarray:
    """Recurrent matrices before rescaling (count, n, n), entries in [-1, 1], a third each: Gaussian, orthogonal
    (normal: ||W^L|| = ||W||^L) and Gaussian upper-triangular (strongly non-normal: spectral radius well below the
    largest singular value)."""
    family = rng.integers(0, 3, size=count)
    gaussian = rng.standard_normal((count, n, n))
    q, r = np.linalg.qr(rng.standard_normal((count, n, n)))
    orthogonal = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    triangular = np.triu(rng.standard_normal((count, n, n)))
    W = np.where((family == 0)[:, None, None], gaussian,
                 np.where((family == 1)[:, None, None], orthogonal, triangular))
    return W / np.maximum(np.abs(W).max(axis=(1, 2), keepdims=True), 1e-300)


def inputs_for_states(W: Any, states: Any, act: str, xp: Any) -> Any:
    """The inputs (N, L, n) that drive x_t = W sigma(x_{t-1}) + u_t through the given states x_0, ..., x_{L-1}
    (N, L, n): u_t = x_t - W sigma(x_{t-1}) for t < L, and u_L = 0 (x_L does not enter d x_L / d x_0)."""
    s, _ = sigma_and_derivative(states, act, xp)
    drift = xp.matmul(W[:, None, :, :], s[:, :, :, None])[:, :, :, 0]  # W sigma(x_t), t = 0..L-1
    last = xp.zeros_like(states[:, :1, :])
    return xp.concat([states[:, 1:, :] - drift[:, :-1, :], last], axis=1)


def recurrent_space(params: Mapping[str, Any]) -> Product:
    """(W, states): a direction D in [-1, 1]^(n x n) (the evaluator sets W_rec = lam D / ||D||) and the states x_0,
    ..., x_{L-1} in [-STATE, STATE]^n of a trajectory.

    With W_in = I every trajectory is realised by exactly one input sequence (:func:`inputs_for_states`), so
    (W, x_0, u_1, ..., u_L) and (W, x_0, ..., x_{L-1}) describe the same instances; the search moves the states,
    where the equality case of the bounds (x_t = 0, sigma' = gamma) is a point of the box rather than a narrow
    valley of unstable input sequences. Random draws are trajectories of the model: D from
    :func:`random_directions`; a rest point x* (uniform in [-3, 3]^n times a log-uniform scale in [1e-6, 1]) and the
    bias b = x* - W sigma(x*) that makes it a fixed point; x_0 = x* plus a perturbation drawn like x*; inputs b +
    Gaussian noise of a log-uniform scale in [1e-6, 3] per instance; run forward and clipped into the box (a
    clipped trajectory is the trajectory of other inputs). The scales reach from a network near a rest point near 0
    (sigma' ~ gamma: the linear regime, where the bounds are tight even when gamma lambda_1 > 1 makes the rest
    point unstable) to saturation.
    """
    n, L, lam, act = _recurrent_params(params)

    def sample(rng: np.random.Generator, count: int) -> np.ndarray:
        D = random_directions(rng, count, n)
        W = rescaled_recurrent_matrix(D, lam, np)
        rest, shift = (rng.uniform(-STATE, STATE, size=(count, n)) * 10.0 ** rng.uniform(-6.0, 0.0, size=(count, 1))
                       for _ in range(2))
        bias = rest - np.einsum("cij,cj->ci", W, sigma_and_derivative(rest, act, np)[0])
        scale = 10.0 ** rng.uniform(-6.0, np.log10(3.0), size=(count, 1, 1))
        u = bias[:, None, :] + scale * rng.standard_normal((count, L, n))
        x0 = rest + shift
        states = np.clip(forward_states(W, np.clip(x0, -STATE, STATE), u, act, np)[:, :L, :], -STATE, STATE)
        return np.concatenate([D.reshape(count, n * n), states.reshape(count, L * n)], axis=1)

    return Product(sampler=sample, W=Box(-1.0, 1.0, (n, n)), states=Box(-STATE, STATE, (L, n)))


def rescaled_recurrent_matrix(direction: Any, lam: float, xp: Any) -> Any:
    """W = lam D / ||D||_2 for each D of (N, n, n); a zero D gives lam I."""
    norm = xp.linalg.matrix_norm(direction, ord=2)
    n = int(direction.shape[1])
    eye = xp.eye(n, dtype=direction.dtype)
    degenerate = (norm <= 1e-12)[:, None, None]
    D = xp.where(degenerate, eye[None, :, :], direction)
    norm = xp.where(norm <= 1e-12, 1.0, norm)
    return lam * D / norm[:, None, None]


def evaluate_recurrent(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                       ) -> dict[str, np.ndarray]:
    """Per instance: ``gain`` = ||d x_L / d x_0||, ``gain_max`` = max_{1 <= t <= L} ||d x_t / d x_0|| (every
    window, see :func:`prefix_gains`),
    ``lam1`` = ||W||_2 (equal to ``lam`` to rounding), ``rho`` = the spectral radius of W, ``dsig_max`` =
    prod_t max_i |sigma'(x_{t-1,i})| (= prod_t ||diag sigma'(x_{t-1})||) and ``dsig_mean`` = prod_t mean_i
    |sigma'(x_{t-1,i})|."""
    n, L, lam, act = _recurrent_params(params)
    W = rescaled_recurrent_matrix(xp.asarray(instances["W"]), lam, xp)
    target = xp.asarray(instances["states"])
    states = forward_states(W, target[:, 0, :], inputs_for_states(W, target, act, xp), act, xp)
    J = step_jacobians(W, states, act, xp)
    gains = prefix_gains(J, xp)
    _, d = sigma_and_derivative(states[:, :-1, :], act, xp)
    W_np = to_numpy(W)
    return {
        "gain": to_numpy(gains[:, -1]),
        "gain_max": to_numpy(xp.max(gains, axis=1)),
        "lam1": to_numpy(xp.linalg.matrix_norm(W, ord=2)),
        "rho": np.abs(np.linalg.eigvals(W_np)).max(axis=1),  # NumPy: the array API has no general eigensolver
        "dsig_max": to_numpy(xp.prod(xp.max(xp.abs(d), axis=2), axis=1)),
        "dsig_mean": to_numpy(xp.prod(xp.mean(xp.abs(d), axis=2), axis=1)),
    }


def gradient_space(params: Mapping[str, Any]) -> Product:
    """Gradient vectors 10^a v: a in [-LOG_SCALE, LOG_SCALE] (uniform: norms spread over six decades around any
    threshold), v in [-1, 1]^p."""
    p = _positive_int("p", params["p"])
    return Product(log_scale=Box(-LOG_SCALE, LOG_SCALE, 1), direction=Box(-1.0, 1.0, p))


def evaluate_clipping(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                      ) -> dict[str, np.ndarray]:
    """Per gradient g: ``norm`` = ||g||, ``clipped_norm`` = ||clip(g)|| (Algorithm 1), ``cosine`` between the
    clipped and the raw gradient, and ``cosine_elementwise`` for element-wise clipping at the same threshold."""
    threshold = _positive_number("threshold", params["threshold"])
    g = 10.0 ** xp.asarray(instances["log_scale"]) * xp.asarray(instances["direction"])
    norm = xp.linalg.vector_norm(g, axis=1)

    def cosine(h: Any) -> Any:
        return xp.sum(h * g, axis=1) / (xp.linalg.vector_norm(h, axis=1) * norm)

    clipped = clip_gradient(g, threshold, xp)
    return {
        "norm": to_numpy(norm),
        "clipped_norm": to_numpy(xp.linalg.vector_norm(clipped, axis=1)),
        "cosine": to_numpy(cosine(clipped)),
        "cosine_elementwise": to_numpy(cosine(clip_elementwise(g, threshold, xp))),
    }
