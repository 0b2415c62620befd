"""Tabular MDPs, batched over instances (a leading axis) and written against the Python array API.

Conventions (those of Schulman et al., *Trust Region Policy Optimization*, ICML 2015):

* ``P``: transition kernels, shape (N, S, A, S), ``P[n, s, a, s']`` = P(s' | s, a), each row in the simplex;
* ``r``: rewards, (N, S) for state rewards r(s) or (N, S, A) for r(s, a);
* ``pi``: policies, (N, S, A), ``pi[n, s, a]`` = pi(a | s);
* ``mu0``: initial-state distributions, (N, S); ``gamma``: a discount factor in [0, 1).

For a policy pi the value is V = (I - gamma P_pi)^{-1} r_pi, with P_pi[s, s'] = sum_a pi(a|s) P(s'|s, a) and
r_pi(s) = sum_a pi(a|s) r(s, a); Q(s, a) = r(s, a) + gamma sum_s' P(s'|s, a) V(s'); A = Q - V. The expected
discounted return is eta = mu0 . V, and the *unnormalised* discounted visitation rho(s) = sum_t gamma^t
P(s_t = s) is the solution of rho^T (I - gamma P_pi) = mu0^T (it sums to 1 / (1 - gamma); ``normalised=True``
multiplies it by 1 - gamma). Every value is an exact linear solve, one batched ``linalg.solve`` per call.

Bad input raises :class:`ValueError` naming the argument and the rule it broke (a kernel whose rows are not
distributions, gamma outside [0, 1), NaN rewards, mismatched shapes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from boundlab.backends import to_numpy

#: Rows of kernels and policies must sum to one within this (relative to float64 rounding of sums of S terms).
SIMPLEX_TOL = 1e-9


@dataclass(frozen=True)
class Evaluation:
    """Exact evaluation of a batch of policies: V (N, S), Q and A (N, S, A), rho (N, S), eta (N,)."""

    V: Any
    Q: Any
    A: Any
    rho: Any
    eta: Any


def _host(x: Any) -> np.ndarray:
    """A NumPy copy of an array of any backend (for validation only)."""
    return to_numpy(x)


def _check_distributions(x: Any, name: str, xp: Any) -> None:
    as_np = _host(x)
    if not np.all(np.isfinite(as_np)):
        raise ValueError(f"{name} must be finite (got NaN or inf).")
    if np.any(as_np < 0):
        raise ValueError(f"{name} must be non-negative: it holds probabilities (min {as_np.min():.3g}).")
    sums = as_np.sum(axis=-1)
    if np.any(np.abs(sums - 1.0) > SIMPLEX_TOL):
        worst = float(np.max(np.abs(sums - 1.0)))
        raise ValueError(f"{name} must have rows summing to one along its last axis (largest error {worst:.3g}).")


def check_mdp(P: Any, r: Any, gamma: Any, pi: Any | None = None, mu0: Any | None = None) -> tuple[int, int, int]:
    """Validate a batch of MDPs (and optionally policies and initial distributions): returns (N, S, A)."""
    shape = tuple(P.shape)
    if len(shape) != 4 or shape[1] != shape[3]:
        raise ValueError(f"P must have shape (N, S, A, S) (kernels P[n, s, a, s']), got {shape}.")
    n, s, a, _ = shape
    _check_distributions(P, "P", None)
    r_shape = tuple(r.shape)
    if r_shape not in ((n, s), (n, s, a)):
        raise ValueError(f"r must have shape (N, S) = {(n, s)} or (N, S, A) = {(n, s, a)}, got {r_shape}.")
    if not np.all(np.isfinite(_host(r))):
        raise ValueError("r must be finite (got NaN or inf).")
    g = _host(gamma).astype(float)
    if g.ndim > 1 or (g.ndim == 1 and g.shape[0] != n):
        raise ValueError(f"gamma must be a number or an array of N = {n} numbers, got shape {g.shape}.")
    if not np.all((g >= 0) & (g < 1)):
        raise ValueError(f"gamma must lie in [0, 1), got {g.tolist()}.")
    if pi is not None:
        if tuple(pi.shape) != (n, s, a):
            raise ValueError(f"pi must have shape (N, S, A) = {(n, s, a)}, got {tuple(pi.shape)}.")
        _check_distributions(pi, "pi", None)
    if mu0 is not None:
        if tuple(mu0.shape) != (n, s):
            raise ValueError(f"mu0 must have shape (N, S) = {(n, s)}, got {tuple(mu0.shape)}.")
        _check_distributions(mu0, "mu0", None)
    return n, s, a


def _gamma(gamma: Any, n: int, xp: Any, dtype: Any) -> Any:
    g = xp.asarray(gamma, dtype=dtype)
    return xp.reshape(g, (1,)) * xp.ones((n,), dtype=dtype) if g.ndim == 0 else g


def _rewards(r: Any, a: int, xp: Any) -> Any:
    """r(s, a), (N, S, A), from state or state-action rewards."""
    return xp.broadcast_to(r[:, :, None], (r.shape[0], r.shape[1], a)) if r.ndim == 2 else r


def policy_kernel(P: Any, pi: Any) -> Any:
    """P_pi[n, s, s'] = sum_a pi(a|s) P(s'|s, a)."""
    xp = array_namespace(P, pi)
    return xp.matmul(pi[:, :, None, :], P)[:, :, 0, :]


def evaluate(P: Any, r: Any, pi: Any, gamma: Any, mu0: Any, *, normalised: bool = False, check: bool = True
             ) -> Evaluation:
    """Exact V, Q, A, discounted visitation rho and return eta of policies ``pi`` (see the module docstring)."""
    xp = array_namespace(P, r, pi, mu0)
    n, s, a = check_mdp(P, r, gamma, pi, mu0) if check else (P.shape[0], P.shape[1], P.shape[2])
    g = _gamma(gamma, n, xp, P.dtype)
    r_sa = _rewards(r, a, xp)
    P_pi = policy_kernel(P, pi)
    system = xp.eye(s, dtype=P.dtype)[None, :, :] - g[:, None, None] * P_pi
    r_pi = xp.sum(pi * r_sa, axis=2)
    V = xp.linalg.solve(system, r_pi[:, :, None])[:, :, 0]
    Q = r_sa + g[:, None, None] * xp.matmul(P, V[:, None, :, None])[:, :, :, 0]
    A = Q - V[:, :, None]
    rho = xp.linalg.solve(xp.permute_dims(system, (0, 2, 1)), mu0[:, :, None])[:, :, 0]
    if normalised:
        rho = rho * (1.0 - g[:, None])
    eta = xp.sum(mu0 * V, axis=1)
    return Evaluation(V, Q, A, rho, eta)


def surrogate(P: Any, r: Any, pi_old: Any, pi_new: Any, gamma: Any, mu0: Any) -> tuple[Any, Evaluation]:
    """TRPO's local approximation L_{pi_old}(pi_new) = eta(pi_old) + sum_s rho_old(s) sum_a pi_new(a|s)
    A_old(s, a), with rho_old unnormalised; returns (L, evaluation of pi_old)."""
    xp = array_namespace(pi_old, pi_new)
    old = evaluate(P, r, pi_old, gamma, mu0)
    L = old.eta + xp.sum(old.rho * xp.sum(pi_new * old.A, axis=2), axis=1)
    return L, old


def tv_per_state(p: Any, q: Any) -> Any:
    """Total variation 1/2 sum_a |p(a|s) - q(a|s)| per state, (N, S)."""
    xp = array_namespace(p, q)
    return 0.5 * xp.sum(xp.abs(p - q), axis=-1)


def kl_per_state(p: Any, q: Any) -> Any:
    """KL(p(.|s) || q(.|s)) per state, (N, S); terms with p = 0 contribute 0, q = 0 < p gives +inf."""
    xp = array_namespace(p, q)
    positive = p > 0
    safe_p = xp.where(positive, p, xp.ones_like(p))
    ratio = xp.where(positive, safe_p / q, xp.ones_like(p))
    return xp.sum(xp.where(positive, p * xp.log(ratio), xp.zeros_like(p)), axis=-1)


def value_iteration(P: Any, r: Any, gamma: Any, *, tol: float = 1e-12, max_iter: int = 100_000) -> Any:
    """V* by value iteration until the sup-norm change is below ``tol`` (1 - gamma) / gamma (so that
    ||V - V*|| <= tol); returns V (N, S)."""
    xp = array_namespace(P, r)
    n, s, a = check_mdp(P, r, gamma)
    g = _gamma(gamma, n, xp, P.dtype)
    r_sa = _rewards(r, a, xp)
    V = xp.zeros((n, s), dtype=P.dtype)
    gmax = float(np.max(_host(gamma).astype(float)))
    threshold = tol * (1.0 - gmax) / max(gmax, 1e-300)
    for _ in range(max_iter):
        new = xp.max(r_sa + g[:, None, None] * xp.matmul(P, V[:, None, :, None])[:, :, :, 0], axis=2)
        change = float(xp.max(xp.abs(new - V)))
        V = new
        if change <= threshold:
            return V
    raise RuntimeError(f"value_iteration did not reach tol={tol:g} in {max_iter} iterations.")


def greedy(Q: Any) -> Any:
    """The deterministic policy greedy in Q (ties to the lowest action), as (N, S, A) probabilities."""
    xp = array_namespace(Q)
    best = xp.argmax(Q, axis=2)
    return xp.astype(best[:, :, None] == xp.arange(Q.shape[2])[None, None, :], Q.dtype)


def policy_iteration(P: Any, r: Any, gamma: Any, mu0: Any, *, max_iter: int = 1000) -> tuple[Any, Any]:
    """An optimal deterministic policy and V* by policy iteration (exact evaluation); returns (pi, V)."""
    xp = array_namespace(P, r, mu0)
    n, s, a = check_mdp(P, r, gamma, mu0=mu0)
    pi = xp.zeros((n, s, a), dtype=P.dtype) + xp.astype(xp.arange(a)[None, None, :] == 0, P.dtype)
    for _ in range(max_iter):
        ev = evaluate(P, r, pi, gamma, mu0, check=False)
        # keep the current action unless another is better by more than rounding, so that PI terminates
        current = xp.sum(pi * ev.Q, axis=2)
        improve = xp.max(ev.Q, axis=2) > current + 1e-12 * (1.0 + xp.abs(current))
        new = xp.where(improve[:, :, None], greedy(ev.Q), pi)
        if not bool(xp.any(improve)):
            return pi, ev.V
        pi = new
    raise RuntimeError(f"policy_iteration did not stabilise in {max_iter} iterations.")


def softmax_policy(logits: Any) -> Any:
    """pi(a|s) proportional to exp(logits[n, s, a])."""
    xp = array_namespace(logits)
    z = logits - xp.max(logits, axis=2, keepdims=True)
    e = xp.exp(z)
    return e / xp.sum(e, axis=2, keepdims=True)


def mirror_descent_step(pi: Any, Q: Any, eta: float) -> Any:
    """The KL mirror-descent (exponentiated-Q) update pi'(a|s) proportional to pi(a|s) exp(eta Q(s, a))."""
    if not (np.isfinite(eta) and eta > 0):
        raise ValueError(f"eta (the step size) must be a finite number > 0, got {eta!r}.")
    xp = array_namespace(pi, Q)
    return softmax_policy(xp.log(pi) + eta * Q)


def natural_policy_gradient(P: Any, r: Any, gamma: Any, mu0: Any, eta: float, iterations: int,
                            pi0: Any | None = None) -> Any:
    """Exact softmax natural policy gradient (Agarwal, Kakade, Lee, Mahajan, JMLR 2021, Eq. (20)): theta <- theta
    + eta / (1 - gamma) A^{pi_theta}, i.e. the mirror-descent step pi'(a|s) proportional to pi(a|s)
    exp(eta / (1 - gamma) Q(s, a)) (MDPO's exact tabular update with step eta / (1 - gamma)). Starts from
    ``pi0`` (default uniform); returns the policy after ``iterations`` steps, (N, S, A)."""
    if not (np.isfinite(eta) and eta > 0):
        raise ValueError(f"eta (the step size) must be a finite number > 0, got {eta!r}.")
    if int(iterations) != iterations or iterations < 0:
        raise ValueError(f"iterations must be an integer >= 0, got {iterations!r}.")
    xp = array_namespace(P, r, mu0)
    n, s, a = check_mdp(P, r, gamma, pi0, mu0)
    g = float(np.max(_host(gamma).astype(float)))
    if _host(gamma).ndim:
        raise ValueError("natural_policy_gradient needs one gamma for the batch (the step is eta / (1 - gamma)).")
    # the softmax parameters theta accumulate the steps (theta_0 = log pi0), so no log of an underflowed 0 is taken
    theta = xp.zeros((n, s, a), dtype=P.dtype) if pi0 is None else xp.log(pi0)
    pi = softmax_policy(theta)
    for _ in range(int(iterations)):
        Q = evaluate(P, r, pi, g, mu0, check=False).Q
        theta = theta + (eta / (1.0 - g)) * Q
        pi = softmax_policy(theta)
    return pi
