"""The RNN Jacobian products, Algorithm 1 and the instance spaces of the Pascanu-Mikolov-Bengio checks, against
independent references: slow per-instance loops, central finite differences of the forward map, closed forms
(orthogonal recurrences at rest, a nilpotent counterexample), NumPy's eigensolver; and the same code on
array-api-strict."""

from __future__ import annotations

import array_api_strict
import numpy as np
import pytest

from simulations.rnn_gradient_difficulty import (
    ACTIVATIONS,
    STATE,
    clip_elementwise,
    clip_gradient,
    evaluate_clipping,
    evaluate_recurrent,
    forward_states,
    gradient_space,
    inputs_for_states,
    prefix_gains,
    random_directions,
    recurrent_space,
    rescaled_recurrent_matrix,
    sigma_and_derivative,
    step_jacobians,
)


def _sigma(x: np.ndarray, act: str) -> np.ndarray:
    return np.tanh(x) if act == "tanh" else 1.0 / (1.0 + np.exp(-x))


def slow_states(W: np.ndarray, x0: np.ndarray, u: np.ndarray, act: str) -> np.ndarray:
    """One instance at a time, one step at a time, with explicit sums."""
    N, L, n = u.shape
    out = np.zeros((N, L + 1, n))
    for i in range(N):
        x = x0[i].copy()
        out[i, 0] = x
        for t in range(L):
            s = _sigma(x, act)
            x = np.array([sum(W[i, a, b] * s[b] for b in range(n)) for a in range(n)]) + u[i, t]
            out[i, t + 1] = x
    return out


def finite_difference_factor(W: np.ndarray, x0: np.ndarray, u: np.ndarray, act: str, t: int,
                             h: float = 1e-6) -> np.ndarray:
    """d x_t / d x_0 of one instance by central differences of the forward map (inputs held fixed)."""
    n = x0.size
    columns = []
    for j in range(n):
        e = np.zeros(n)
        e[j] = h
        plus = forward_states(W[None], (x0 + e)[None], u[None], act, np)[0, t]
        minus = forward_states(W[None], (x0 - e)[None], u[None], act, np)[0, t]
        columns.append((plus - minus) / (2 * h))
    return np.stack(columns, axis=1)


def random_instance(rng: np.random.Generator, N: int, n: int, L: int, lam: float, scale: float = 0.5
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    W = rescaled_recurrent_matrix(random_directions(rng, N, n), lam, np)
    return W, rng.uniform(-1, 1, size=(N, n)), scale * rng.standard_normal((N, L, n))


# ------------------------------------------------------------------------------------------- the recurrence
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_forward_map_against_a_slow_loop(act: str) -> None:
    W, x0, u = random_instance(np.random.default_rng(0), 5, 3, 6, 1.7)
    np.testing.assert_allclose(forward_states(W, x0, u, act, np), slow_states(W, x0, u, act), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_activation_constants_are_the_sup_of_the_derivative(act: str) -> None:
    x = np.linspace(-20, 20, 400001)
    _, d = sigma_and_derivative(x, act, np)
    assert abs(d.max() - ACTIVATIONS[act]) < 1e-12 and np.all(d > 0)
    h = 1e-6
    np.testing.assert_allclose(d[::1000], (_sigma(x + h, act) - _sigma(x - h, act))[::1000] / (2 * h), atol=1e-9)
    exact = 1 / np.cosh(x) ** 2 if act == "tanh" else np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))) ** 2
    np.testing.assert_allclose(d, exact, rtol=1e-12)  # relative accuracy kept in saturation


@pytest.mark.parametrize("act,lam", [("tanh", 0.8), ("tanh", 2.5), ("sigmoid", 6.0)])
def test_jacobian_products_against_finite_differences(act: str, lam: float) -> None:
    rng = np.random.default_rng(1)
    W, x0, u = random_instance(rng, 4, 4, 7, lam)
    states = forward_states(W, x0, u, act, np)
    J = step_jacobians(W, states, act, np)
    gains = prefix_gains(J, np)
    for i in range(4):
        P = np.eye(4)
        for t in range(1, 8):
            P = J[i, t - 1] @ P
            fd = finite_difference_factor(W[i], x0[i], u[i], act, t)
            scale = max(np.abs(P).max(), 1e-3)
            assert np.abs(fd - P).max() <= 1e-6 * scale, (i, t)
            assert abs(gains[i, t - 1] - np.linalg.norm(fd, 2)) <= 1e-6 * max(np.linalg.norm(fd, 2), 1e-3)


def test_step_jacobian_is_w_times_diag_derivative() -> None:
    rng = np.random.default_rng(2)
    W, x0, u = random_instance(rng, 3, 3, 4, 1.2)
    states = forward_states(W, x0, u, "tanh", np)
    J = step_jacobians(W, states, "tanh", np)
    for i in range(3):
        for t in range(4):
            np.testing.assert_allclose(J[i, t], W[i] @ np.diag(1 - np.tanh(states[i, t]) ** 2), rtol=1e-14)


def test_orthogonal_recurrence_at_rest_reaches_the_bound_exactly() -> None:
    """x_0 = 0 with zero inputs stays at 0 for tanh, where sigma' = gamma: d x_L / d x_0 = (gamma W)^L and, for W
    = lam Q with Q orthogonal, its norm is (gamma lam)^L."""
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.standard_normal((2, 5, 5)))
    for lam in (0.5, 1.0, 2.0):
        W = lam * q
        states = forward_states(W, np.zeros((2, 5)), np.zeros((2, 12, 5)), "tanh", np)
        gains = prefix_gains(step_jacobians(W, states, "tanh", np), np)
        np.testing.assert_allclose(gains, lam ** np.arange(1, 13)[None, :] * np.ones((2, 1)), rtol=1e-12)


def test_nilpotent_counterexample_to_the_eigenvalue_reading() -> None:
    """W = [[8, 8], [-8, -8]] is nilpotent (spectral radius 0); with b chosen so that x* = (0, artanh(1/2)) is a
    fixed point of tanh's recurrence, every step Jacobian is J = [[8, 6], [-8, -6]], J^2 = 2 J, so ||d x_L / d x_0||
    = 2^(L-1) ||J||: the long-term factor explodes although 'the largest eigenvalue' is 0."""
    W = np.array([[[8.0, 8.0], [-8.0, -8.0]]])
    xs = np.array([0.0, np.arctanh(0.5)])
    b = xs - W[0] @ np.tanh(xs)
    L = 12
    states = forward_states(W, xs[None], np.tile(b, (1, L, 1)), "tanh", np)
    np.testing.assert_allclose(states[0], np.tile(xs, (L + 1, 1)), atol=1e-9)  # unstable: rounding grows 2^t
    gains = prefix_gains(step_jacobians(W, states, "tanh", np), np)[0]
    J = np.array([[8.0, 6.0], [-8.0, -6.0]])
    np.testing.assert_allclose(gains, 2.0 ** np.arange(L) * np.linalg.norm(J, 2), rtol=1e-9)
    assert np.abs(np.linalg.eigvals(W[0])).max() < 1e-6
    assert np.linalg.norm(W[0], 2) == pytest.approx(16.0)  # the singular-value condition gamma lambda_1 > 1 holds


# ------------------------------------------------------------------------------------------- instance space
def test_rescaling_sets_the_largest_singular_value() -> None:
    rng = np.random.default_rng(4)
    D = random_directions(rng, 30, 4)
    assert np.all(np.abs(D) <= 1)
    W = rescaled_recurrent_matrix(D, 2.5, np)
    np.testing.assert_allclose(np.linalg.norm(W, 2, axis=(1, 2)), 2.5, rtol=1e-13)
    np.testing.assert_allclose(rescaled_recurrent_matrix(np.zeros((1, 3, 3)), 0.7, np)[0], 0.7 * np.eye(3))


def test_inputs_realise_the_given_states() -> None:
    rng = np.random.default_rng(5)
    W = rescaled_recurrent_matrix(random_directions(rng, 6, 4), 3.0, np)
    target = rng.uniform(-STATE, STATE, size=(6, 9, 4))
    for act in ACTIVATIONS:
        states = forward_states(W, target[:, 0], inputs_for_states(W, target, act, np), act, np)
        np.testing.assert_allclose(states[:, :9], target, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(states[:, 9], np.einsum("nij,nj->ni", W, _sigma(target[:, 8], act)), rtol=1e-12)


@pytest.mark.parametrize("act,lam", [("tanh", 2.0), ("sigmoid", 4.0)])
def test_evaluator_against_slow_per_instance_computations(act: str, lam: float) -> None:
    params = {"n": 4, "L": 6, "lam": lam, "act": act, "gamma": ACTIVATIONS[act]}
    space = recurrent_space(params)
    rng = np.random.default_rng(6)
    z = np.concatenate([space.sample(rng, 8), rng.uniform(space.low, space.high, size=(4, space.dim))])
    assert np.all(z >= space.low) and np.all(z <= space.high)
    instances = space.decode(z)
    out = evaluate_recurrent(params, instances, np)
    W = rescaled_recurrent_matrix(instances["W"], lam, np)
    for i in range(len(z)):
        x = instances["states"][i]
        P, dmax, dmean, gains = np.eye(4), 1.0, 1.0, []
        for t in range(6):
            s = _sigma(x[t], act)
            d = 1 - np.tanh(x[t]) ** 2 if act == "tanh" else s * (1 - s)  # |x| <= 3: no cancellation
            P = W[i] @ np.diag(d) @ P
            gains.append(np.linalg.norm(P, 2))
            dmax, dmean = dmax * d.max(), dmean * d.mean()
        assert out["gain"][i] == pytest.approx(gains[-1], rel=1e-10, abs=1e-300)
        assert out["gain_max"][i] == pytest.approx(max(gains), rel=1e-10)
        assert out["dsig_max"][i] == pytest.approx(dmax, rel=1e-10)
        assert out["dsig_mean"][i] == pytest.approx(dmean, rel=1e-10)
        assert out["rho"][i] == pytest.approx(np.abs(np.linalg.eigvals(W[i])).max(), rel=1e-10)
    np.testing.assert_allclose(out["lam1"], lam, rtol=1e-12)
    assert np.all(out["rho"] <= out["lam1"] * (1 + 1e-12))


def test_sampler_draws_trajectories_of_the_model() -> None:
    """Unclipped draws are forward trajectories of their own inputs; the draws reach both regimes."""
    params = {"n": 4, "L": 10, "lam": 2.0, "act": "tanh", "gamma": 1.0}
    space = recurrent_space(params)
    z = space.sample(np.random.default_rng(7), 256)
    out = evaluate_recurrent(params, space.decode(z), np)
    ratio = out["gain"] / 2.0**10
    assert np.all(ratio <= 1 + 1e-9)
    assert ratio.min() < 1e-6 and ratio.max() > 0.1  # saturated (vanishing) and near-linear draws


@pytest.mark.parametrize("act,lam", [("tanh", 0.5), ("tanh", 3.0), ("sigmoid", 4.0), ("sigmoid", 9.0)])
def test_bounds_hold_on_random_instances(act: str, lam: float) -> None:
    gamma = ACTIVATIONS[act]
    params = {"n": 5, "L": 8, "lam": lam, "act": act, "gamma": gamma}
    space = recurrent_space(params)
    rng = np.random.default_rng(8)
    z = np.concatenate([space.sample(rng, 200), rng.uniform(space.low, space.high, size=(200, space.dim))])
    out = evaluate_recurrent(params, space.decode(z), np)
    assert np.all(out["gain"] <= lam**8 * out["dsig_max"] * (1 + 1e-9))
    assert np.all(lam**8 * out["dsig_max"] <= (gamma * lam) ** 8 * (1 + 1e-12))
    if gamma * lam <= 1:
        assert np.all(out["gain_max"] <= 1 + 1e-9)


# ------------------------------------------------------------------------------------------- clipping
def slow_clip(g: np.ndarray, threshold: float) -> np.ndarray:
    """Algorithm 1, one vector at a time."""
    out = []
    for row in g:
        norm = float(np.sqrt(sum(v * v for v in row)))
        out.append(row * (threshold / norm) if norm >= threshold else row.copy())
    return np.array(out)


def test_clipping_against_algorithm_1() -> None:
    rng = np.random.default_rng(9)
    g = rng.standard_normal((50, 7)) * 10.0 ** rng.uniform(-2, 2, size=(50, 1))
    g[0] *= 3.0 / np.linalg.norm(g[0])  # exactly at the threshold (to rounding)
    for threshold in (0.5, 3.0, 40.0):
        np.testing.assert_allclose(clip_gradient(g, threshold, np), slow_clip(g, threshold), rtol=1e-14)
        np.testing.assert_array_equal(clip_elementwise(g, threshold, np), np.clip(g, -threshold, threshold))
    np.testing.assert_array_equal(clip_gradient(np.zeros((1, 3)), 1.0, np), np.zeros((1, 3)))


def test_clipping_evaluator() -> None:
    params = {"p": 20, "threshold": 6.0}
    space = gradient_space(params)
    instances = space.decode(space.sample(np.random.default_rng(10), 300))
    out = evaluate_clipping(params, instances, np)
    g = 10.0 ** instances["log_scale"] * instances["direction"]
    np.testing.assert_allclose(out["norm"], np.linalg.norm(g, axis=1), rtol=1e-14)
    clipped = slow_clip(g, 6.0)
    np.testing.assert_allclose(out["clipped_norm"], np.linalg.norm(clipped, axis=1), rtol=1e-13)
    assert (out["norm"] > 6).any() and (out["norm"] < 6).any()
    elem = np.clip(g, -6, 6)
    cos = np.sum(elem * g, axis=1) / (np.linalg.norm(elem, axis=1) * np.linalg.norm(g, axis=1))
    np.testing.assert_allclose(out["cosine_elementwise"], cos, rtol=1e-13)


# ------------------------------------------------------------------------------------------- array API
def test_same_code_on_array_api_strict() -> None:
    rng = np.random.default_rng(11)
    for act, lam in (("tanh", 2.0), ("sigmoid", 4.0)):
        params = {"n": 4, "L": 7, "lam": lam, "act": act, "gamma": ACTIVATIONS[act]}
        space = recurrent_space(params)
        instances = space.decode(space.sample(rng, 16))
        plain = evaluate_recurrent(params, instances, np)
        strict = evaluate_recurrent(params, {k: array_api_strict.asarray(v) for k, v in instances.items()},
                                    array_api_strict)
        for name, values in plain.items():
            np.testing.assert_allclose(strict[name], values, rtol=1e-12, atol=1e-300)
    params = {"p": 20, "threshold": 1.0}
    space = gradient_space(params)
    instances = space.decode(space.sample(rng, 40))
    plain = evaluate_clipping(params, instances, np)
    strict = evaluate_clipping(params, {k: array_api_strict.asarray(v) for k, v in instances.items()},
                               array_api_strict)
    for name, values in plain.items():
        np.testing.assert_allclose(strict[name], values, rtol=1e-14)


# ------------------------------------------------------------------------------------------- bad input
def test_bad_input_is_named() -> None:
    W, x0, u = np.ones((2, 3, 3)), np.ones((2, 3)), np.ones((2, 4, 3))
    with pytest.raises(ValueError, match="act .* must be one of"):
        forward_states(W, x0, u, "relu", np)
    with pytest.raises(ValueError, match="W must have shape"):
        forward_states(np.ones((2, 3, 4)), x0, u, "tanh", np)
    with pytest.raises(ValueError, match="x0 must have shape"):
        forward_states(W, np.ones((2, 4)), u, "tanh", np)
    with pytest.raises(ValueError, match="inputs must have shape"):
        forward_states(W, x0, np.ones((2, 0, 3)), "tanh", np)
    with pytest.raises(ValueError, match="W must be finite"):
        forward_states(np.full((2, 3, 3), np.nan), x0, u, "tanh", np)
    with pytest.raises(ValueError, match="inputs must be finite"):
        forward_states(W, x0, np.full((2, 4, 3), np.inf), "tanh", np)
    with pytest.raises(ValueError, match="states must have shape"):
        step_jacobians(W, np.ones((2, 5, 4)), "tanh", np)
    with pytest.raises(ValueError, match="J must have shape"):
        prefix_gains(np.ones((2, 4, 3)), np)
    g = np.ones((3, 5))
    for bad in (0.0, -1.0, float("nan"), float("inf"), True):
        with pytest.raises(ValueError, match="threshold must be a finite number > 0"):
            clip_gradient(g, bad, np)
    with pytest.raises(ValueError, match="g must have shape"):
        clip_gradient(np.ones(5), 1.0, np)
    with pytest.raises(ValueError, match="g must be finite"):
        clip_elementwise(np.full((1, 2), np.nan), 1.0, np)
    params = {"n": 4, "L": 10, "lam": 2.0, "act": "sigmoid", "gamma": 1.0}
    with pytest.raises(ValueError, match="gamma must be sup"):
        recurrent_space(params)
    with pytest.raises(ValueError, match="lam .* must be a finite number > 0"):
        recurrent_space({**params, "gamma": 0.25, "lam": 0.0})
    with pytest.raises(ValueError, match="L must be a positive integer"):
        recurrent_space({**params, "gamma": 0.25, "L": 2.5})
    with pytest.raises(ValueError, match="p must be a positive integer"):
        gradient_space({"p": 0})
