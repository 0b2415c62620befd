"""The model-collapse simulation (simulations/model_collapse.py): batched OLS against numpy.linalg.lstsq, the whole
retraining chain against a per-replicate loop fed the same random numbers, the same code on array-api-strict, and
the clean-data error against its closed form E||w - w_0||_Sigma^2 = sigma^2 d / (T - d - 1)."""

from __future__ import annotations

import array_api_strict
import numpy as np
import pytest

from simulations.model_collapse import measure_collapse, ols_fit, spectrum

PARAMS = {"d": 4, "T0": 9, "T": 12, "n": 3, "sigma": 0.7, "sigma0": 1.3, "spectrum": "power"}


def test_batched_ols_against_lstsq() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 15, 4)), rng.standard_normal((6, 15))
    w = ols_fit(X, y, np)
    for i in range(6):
        np.testing.assert_allclose(w[i], np.linalg.lstsq(X[i], y[i], rcond=None)[0], rtol=1e-10, atol=1e-12)


def _slow_chain(params: dict, seed: int, count: int) -> np.ndarray:
    """One replicate at a time, with lstsq, drawing the same random numbers in the same order."""
    rng = np.random.default_rng(seed)
    d, eig = params["d"], spectrum(params)
    w0 = rng.standard_normal((count, d))
    w0 /= np.linalg.norm(w0, axis=1, keepdims=True)
    draws = []
    for rows, noise in [(params["T0"], params["sigma0"])] * params["n"] + [(params["T"], params["sigma"])]:
        draws.append((rng.standard_normal((count, rows, d)) * np.sqrt(eig), noise * rng.standard_normal((count, rows))))
    errors = np.empty(count)
    for i in range(count):
        w = w0[i]
        for X, xi in draws:
            w = np.linalg.lstsq(X[i], X[i] @ w + xi[i], rcond=None)[0]
        errors[i] = (w - w0[i]) @ (eig * (w - w0[i]))
    return errors


def test_chain_against_a_per_replicate_loop() -> None:
    fast = measure_collapse(PARAMS, np.random.default_rng(5), 7, np)["test_error"]
    np.testing.assert_allclose(fast, _slow_chain(PARAMS, 5, 7), rtol=1e-9)


def test_same_code_on_array_api_strict() -> None:
    strict = measure_collapse(PARAMS, np.random.default_rng(2), 5, array_api_strict)["test_error"]
    plain = measure_collapse(PARAMS, np.random.default_rng(2), 5, np)["test_error"]
    np.testing.assert_allclose(strict, plain, rtol=1e-12)


def test_clean_data_error_matches_the_inverse_wishart_mean() -> None:
    params = {**PARAMS, "n": 0, "T": 30, "d": 5}
    errors = measure_collapse(params, np.random.default_rng(1), 40000, np)["test_error"]
    expected = params["sigma"] ** 2 * 5 / (30 - 5 - 1)
    assert abs(errors.mean() - expected) < 4 * errors.std() / np.sqrt(errors.size)


def test_unknown_spectrum_is_rejected() -> None:
    with pytest.raises(ValueError, match="spectrum"):
        spectrum({**PARAMS, "spectrum": "flat"})
