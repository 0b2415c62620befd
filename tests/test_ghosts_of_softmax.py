"""Ghosts of Softmax: the nearest-zero solver (solvers/complex_zeros.py) against three independent references
(the two-class closed form, polynomial roots for integer-commensurate rates, a brute-force grid of |F| polished
by mpmath), its certificate, its fallback path, bad input, the same code on array-api-strict, and the
simulation's measurements (radius geometry and both KL divergences) against slow per-instance loops."""

from __future__ import annotations

import math

import array_api_strict
import mpmath as mp
import numpy as np
import pytest
from scipy.ndimage import minimum_filter

from simulations.ghosts_of_softmax import (
    evaluate_kl,
    evaluate_radius,
    kl_space,
    radius_space,
    softmax_step_divergences,
)
from solvers import complex_zeros
from solvers.complex_zeros import nearest_zero


def _random_rows(rng: np.random.Generator, n: int, k: int, logit: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(-logit, logit, (n, k)), rng.uniform(-1.0, 1.0, (n, k))


# ----------------------------------------------------------------------------------------------- references
def polynomial_radius(z: np.ndarray, powers: np.ndarray, gamma: float) -> float:
    """Radius for rates gamma * powers (integers): F(t) = P(e^{gamma t}) with P(w) = sum_k e^{z_k} w^{m_k}, roots
    by mpmath.polyroots at 40 digits; the nearest zero of each root w_j is Log(w_j) / gamma (principal branch)."""
    powers = powers - powers.min()
    coeffs = [mp.mpf(0)] * (int(powers.max()) + 1)
    for zk, mk in zip(z, powers, strict=True):
        coeffs[int(mk)] += mp.exp(mp.mpf(float(zk)))
    with mp.workdps(40):
        roots = mp.polyroots(coeffs[::-1], maxsteps=400, extraprec=400)
        return float(min(abs(mp.log(w)) for w in roots) / gamma)


def brute_force_radius(z: np.ndarray, a: np.ndarray, reach: float, step: float = 0.01) -> float:
    """Nearest zero with |t| <= reach from every local minimum of |F| on a grid of the upper half-disk's box
    (the only interior minima of |F| are zeros), each polished by mpmath.findroot at 30 digits."""
    xs = np.arange(-reach, reach + step, step)
    ys = np.arange(step / 2, reach + step, step)
    grid = xs[None, :] + 1j * ys[:, None]
    L = z[None, None, :] + a[None, None, :] * grid[:, :, None]
    top = L.real.max(axis=-1)
    g = np.log(np.abs(np.exp(L - top[..., None]).sum(axis=-1))) + top
    candidates = grid[g == minimum_filter(g, size=3, mode="nearest")]

    def F(t: mp.mpc) -> mp.mpc:
        return mp.fsum(mp.exp(mp.mpf(float(zk)) + mp.mpf(float(ak)) * t) for zk, ak in zip(z, a, strict=True))

    moduli = []
    with mp.workdps(30):
        for start in candidates:
            try:
                root = mp.findroot(F, mp.mpc(start.real, start.imag), tol=1e-25, maxsteps=100)
            except (ValueError, ZeroDivisionError):
                continue
            scale = mp.fsum(abs(mp.exp(mp.mpf(float(zk)) + mp.mpf(float(ak)) * root)) for zk, ak in zip(z, a,
                                                                                                           strict=True))
            if abs(F(root)) < mp.mpf(10) ** -20 * scale:
                moduli.append(float(abs(root)))
    assert moduli, "the grid found no zero"
    return min(moduli)


# ------------------------------------------------------------------------------------------------- accuracy
def test_two_classes_match_the_closed_form() -> None:
    rng = np.random.default_rng(0)
    z, a = _random_rows(rng, 2000, 2, logit=20.0)
    a[:5] = [[1.0, -1.0], [1e-6, 0.0], [0.3, 0.3 + 1e-9], [-1.0, 1.0], [0.5, -0.5]]
    z[:5, 1] = z[:5, 0]  # balanced rows: the radius is exactly pi / Delta_a
    found = nearest_zero(z, a)
    delta, spread = z[:, 0] - z[:, 1], np.abs(a[:, 0] - a[:, 1])
    expected = np.sqrt(delta**2 + np.pi**2) / spread
    assert np.all(found.converged)
    np.testing.assert_allclose(found.radius, expected, rtol=1e-12)
    # the zero itself: t = (-delta + i pi) / (a_1 - a_2), moved to Im > 0
    t = (-delta + 1j * np.pi) / (a[:, 0] - a[:, 1])
    t = np.where(t.imag < 0, np.conj(t), t)
    np.testing.assert_allclose(found.zero, t, rtol=1e-12)


@pytest.mark.parametrize("k", [3, 5])
def test_commensurate_rates_match_polynomial_roots(k: int) -> None:
    rng = np.random.default_rng(k)
    for _ in range(25):
        powers = rng.integers(0, 5, size=k)
        powers[rng.integers(k)] = 0
        powers[rng.integers(k)] = 4
        gamma = float(rng.uniform(0.05, 0.5))
        z = rng.uniform(-8.0, 8.0, size=k)
        found = nearest_zero(z[None, :], (gamma * powers)[None, :].astype(float))
        assert bool(found.converged[0])
        assert abs(found.radius[0] / polynomial_radius(z, powers, gamma) - 1) < 1e-10


def test_three_classes_match_a_brute_force_grid() -> None:
    rng = np.random.default_rng(3)
    z, a = _random_rows(rng, 6, 3)
    found = nearest_zero(z, a)
    for i in range(6):
        spread = np.ptp(a[i])
        reach = float(found.radius[i] * spread * 1.1)  # the grid covers 10% beyond the zero found (normalised)
        assert reach < 40, "a radius this large is not plausible for logits in [-8, 8] and would blow up the grid"
        reference = brute_force_radius(z[i], (a[i] - a[i].min()) / spread, reach, step=min(0.01, reach / 400))
        assert abs(found.radius[i] * spread / reference - 1) < 1e-10


def test_found_zeros_are_zeros_and_nothing_lies_nearer() -> None:
    """On random rows of every size: F vanishes at the zero found (relative residual), and the argument
    principle counts no zero inside 0.999 |t0| (a finer circle than the solver's own)."""
    rng = np.random.default_rng(11)
    for k in (3, 5, 10):
        z, a = _random_rows(rng, 64, k)
        found = nearest_zero(z, a)
        assert np.all(found.converged)
        terms = np.exp(z + a * found.zero[:, None])
        assert np.all(np.abs(terms.sum(axis=1)) < 1e-10 * np.abs(terms).sum(axis=1))
        spread = np.ptp(a, axis=1)
        b = (a - ((a.max(1) + a.min(1)) / 2)[:, None]) / spread[:, None]
        c = z - z.max(axis=1, keepdims=True)
        inside = complex_zeros._count(c, b, 0.999 * found.radius * spread, np, density=256.0)
        assert np.all(inside == 0)


def test_the_certificate_rejects_an_incomplete_set_of_zeros() -> None:
    """Hand _certify the true zeros without the nearest one: the count exceeds what was found, so it fails."""
    z = np.array([[0.0, -1.0, 0.5]])
    a = np.array([[-0.5, 0.1, 0.5]])
    b, c = a.copy(), z - z.max()
    seeds = complex_zeros._pair_seeds(c, b, np)
    s, good = complex_zeros._newton(c, b, seeds, 40, np)
    assert bool(complex_zeros._certify(c, b, s, good, np)[0])
    nearest = np.abs(np.where(good, s, np.inf)).min()
    without = good & (np.abs(np.abs(s) - nearest) > 1e-9)
    assert not bool(complex_zeros._certify(c, b, s, without, np)[0])


def test_fallback_path_finds_the_same_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seeds that lead nowhere (far up the imaginary axis) fail the certificate; the bracket's seeds recover."""
    rng = np.random.default_rng(5)
    z, a = _random_rows(rng, 40, 5)
    reference = nearest_zero(z, a)
    monkeypatch.setattr(complex_zeros, "_pair_seeds",
                        lambda c, b, xp: xp.full((int(c.shape[0]), 2), 500j, dtype=xp.complex128))
    retried = nearest_zero(z, a)
    assert np.all(retried.retried) and not np.any(reference.retried)
    np.testing.assert_allclose(retried.radius, reference.radius, rtol=1e-12)


def test_rows_without_zeros_have_infinite_radius() -> None:
    z = np.array([[0.0, 1.0, -2.0], [0.3, 0.1, 0.2]])
    a = np.array([[0.5, 0.5, 0.5], [0.0, 1.0, -1.0]])
    found = nearest_zero(z, a)
    assert found.radius[0] == math.inf and bool(found.converged[0])
    assert np.isfinite(found.radius[1])
    one = nearest_zero(np.zeros((3, 1)), np.ones((3, 1)))
    assert np.all(one.radius == math.inf)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"log_weights": np.zeros(3), "rates": np.zeros(3)}, "log_weights must be a 2-D array"),
    ({"log_weights": np.zeros((2, 3)), "rates": np.zeros((2, 4))}, "same shape"),
    ({"log_weights": np.array([[0.0, np.nan]]), "rates": np.zeros((1, 2))}, "log_weights must be finite"),
    ({"log_weights": np.zeros((1, 2)), "rates": np.array([[0.0, np.inf]])}, "rates must be finite"),
    ({"log_weights": np.zeros((1, 0)), "rates": np.zeros((1, 0))}, "at least one term"),
    ({"log_weights": np.zeros((1, 2)), "rates": np.eye(2)[:1], "newton_steps": 0}, "newton_steps must be a positive"),
    ({"log_weights": np.zeros((1, 2)), "rates": np.eye(2)[:1], "bisections": 2.5}, "bisections must be a positive"),
    ({"log_weights": np.zeros((1, 2)), "rates": np.eye(2)[:1], "seeds": -1}, "seeds must be a positive"),
])
def test_bad_input_is_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        nearest_zero(**kwargs)


# ---------------------------------------------------------------------------------------------- simulation
def _decoded(space_of, params: dict, n: int, seed: int) -> dict[str, np.ndarray]:
    space = space_of(params)
    rng = np.random.default_rng(seed)
    z = np.concatenate([space.sample(rng, n), rng.uniform(space.low, space.high, size=(4, space.dim))])
    return space.decode(z)


def test_radius_measurements_are_as_defined() -> None:
    params = {"K": 5}
    instances = _decoded(radius_space, params, 20, 0)
    z, a = instances["z"], instances["a"]
    assert np.all(np.abs(z) <= 8) and np.all(np.abs(a) <= 1)
    out = evaluate_radius(params, instances, np)
    found = nearest_zero(z, a)
    for i in range(z.shape[0]):
        y, c = np.argsort(-z[i])[:2]
        assert out["top2_margin"][i] == z[i, y] - z[i, c]
        assert out["top2_spread"][i] == abs(a[i, y] - a[i, c])
        assert out["spread"][i] == a[i].max() - a[i].min()
        assert out["margin"][i] == z[i, 0] - z[i, 1]
        assert out["radius"][i] == found.radius[i] and out["imag"][i] == abs(found.zero[i].imag)
    assert np.all(out["solved"] == 1.0)


def _slow_divergences(z: np.ndarray, a: np.ndarray, t: float) -> tuple[float, float, float]:
    """KL(p(t) || p(0)), KL(p(0) || p(t)) and t^2 Var_{p(0)}(a) / 2 from the definitions, at 50 digits."""
    with mp.workdps(50):
        w0 = [mp.exp(mp.mpf(float(v))) for v in z]
        wt = [mp.exp(mp.mpf(float(v)) + mp.mpf(t) * mp.mpf(float(ak))) for v, ak in zip(z, a, strict=True)]
        p0 = [w / mp.fsum(w0) for w in w0]
        pt = [w / mp.fsum(wt) for w in wt]
        forward = mp.fsum(q * mp.log(q / p) for q, p in zip(pt, p0, strict=True))
        reverse = mp.fsum(p * mp.log(p / q) for q, p in zip(pt, p0, strict=True))
        mean = mp.fsum(p * mp.mpf(float(ak)) for p, ak in zip(p0, a, strict=True))
        var = mp.fsum(p * (mp.mpf(float(ak)) - mean) ** 2 for p, ak in zip(p0, a, strict=True))
        return float(forward), float(reverse), float(mp.mpf(t) ** 2 * var / 2)


def test_kl_measurements_match_the_definitions() -> None:
    params = {"K": 4}
    instances = _decoded(kl_space, params, 30, 1)
    out = evaluate_kl(params, instances, np)
    z, a, x = instances["z"], instances["a"], instances["x"][:, 0]
    assert np.all((x >= 1e-3) & (x <= 4))
    for i in range(z.shape[0]):
        t = x[i] / np.ptp(a[i])
        forward, reverse, quadratic = _slow_divergences(z[i], a[i], t)
        assert out["step"][i] == pytest.approx(t, rel=1e-15)
        # the remainders are of order x^3 Delta^3 / 31: an absolute error 1e-16 x is far below rtol 1e-6 of them
        assert abs(out["kl_remainder"][i] - abs(forward - quadratic)) <= 1e-9 * abs(forward - quadratic) + 1e-17
        assert abs(out["bregman_remainder"][i] - abs(reverse - quadratic)) <= 1e-9 * abs(reverse - quadratic) + 1e-17


def test_kl_directions_are_not_swapped() -> None:
    """KL(p(t) || p(0)) = t K'(t) - (K(t) - K(0)) and the Bregman form K(t) - K(0) - t K'(0) = KL(p(0) || p(t))."""
    z, a, t = np.array([[0.3, -1.0, 2.0]]), np.array([[0.7, -0.2, 0.1]]), 1.3
    d = softmax_step_divergences(z, t * a, np)
    forward, reverse, _ = _slow_divergences(z[0], a[0], t)
    assert abs(d["kl_forward"][0] - forward) < 1e-14 and abs(d["kl_reverse"][0] - reverse) < 1e-14
    assert abs(forward - reverse) > 1e-3


def test_same_code_on_array_api_strict() -> None:
    rng = np.random.default_rng(8)
    z, a = _random_rows(rng, 12, 4)
    plain = nearest_zero(z, a)
    strict = nearest_zero(array_api_strict.asarray(z), array_api_strict.asarray(a))
    np.testing.assert_allclose(np.asarray(strict.radius), plain.radius, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(strict.zero), plain.zero, rtol=1e-13)
    for space_of, evaluate, params in ((radius_space, evaluate_radius, {"K": 3}), (kl_space, evaluate_kl, {"K": 3})):
        instances = _decoded(space_of, params, 6, 2)
        fast = evaluate(params, instances, np)
        strict_out = evaluate(params, instances, array_api_strict)
        for name, value in fast.items():
            np.testing.assert_allclose(strict_out[name], value, rtol=1e-12, err_msg=name)
