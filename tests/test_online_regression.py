"""Tests for solvers/online_regression.py (batched online ridge / FTRL with squared loss).

Tolerance policy. The batched kernels (Sherman-Morrison, blocked Cholesky) and the reference
(``np.linalg.solve`` per step) are different backward-stable algorithms, so they agree to about
``cond(lam I + G_t) * eps * |x| |theta|``. On these instances (lam >= 0.3, T <= 120, |x|^2 ~ d) that is
< 1e-12 relative; observed differences are 1e-15..1e-13. We use ``1e-9`` relative to the magnitude of the
compared quantity: >= 1000x above rounding, yet any algorithmic slip (an off-by-one step, a missed or
doubled update, a peek at y_t) changes predictions by >= 1e-3 and fails by orders of magnitude.
"""

from __future__ import annotations

import math

import array_api_compat
import array_api_strict as xps
import numpy as np
import pytest

from simulations.online_glm_regression import gaussian_instance
from solvers.online_regression import (
    OnlineRidge,
    array_stream,
    hindsight_least_squares,
    online_ridge_reference,
    run_online_ridge,
)

RTOL = 1e-9


def make_instance(seed: int, R: int, T: int, d: int, sigma: float = 1.0):
    """The simulation's own instances (x ~ N(0, I/d), unit theta*, y = <x, theta*> + sigma N(0, 1)) from a seed."""
    return gaussian_instance(np.random.default_rng(seed), R, T, d, sigma)


def reference_predictions(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    return np.stack([online_ridge_reference(x[r], y[r], lam) for r in range(x.shape[0])])


def assert_close(actual, expected, scale: float, what: str) -> None:
    err = float(np.max(np.abs(np.asarray(actual) - np.asarray(expected))))
    tol = RTOL * max(1.0, scale)
    assert err <= tol, f"{what}: max abs error {err:.3e} > tolerance {tol:.3e}"


# ----------------------------------------------------------------------------- learner vs reference


@pytest.mark.parametrize("method", ["sm", "block"])
@pytest.mark.parametrize("d", [1, 3, 7])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_learner_matches_reference(seed: int, d: int, method: str) -> None:
    R, T = 4, 60
    x, y, _ = make_instance(seed, R, T, d)
    lam = float(np.random.default_rng(100 + seed).uniform(0.3, 2.0))
    ref = reference_predictions(x, y, lam)
    scale = float(np.max(np.abs(ref)))

    # step API: predict before the label, then update
    step = OnlineRidge(R, d, lam, method=method)
    preds = []
    for t in range(T):
        preds.append(step.predict(x[:, t, :]))
        step.update(x[:, t, :], y[:, t])
    assert_close(np.stack(preds, axis=1), ref, scale, "predict/update")

    # block API over uneven pieces (block_size 5 does not divide the pieces)
    blk = OnlineRidge(R, d, lam, method=method, block_size=5)
    cuts = [0, 1, 8, 31, 32, T]
    got = np.concatenate(
        [blk.predict_update(x[:, a:b, :], y[:, a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)], axis=1
    )
    assert_close(got, ref, scale, "predict_update")

    # final state against the closed form
    A = lam * np.eye(d) + np.einsum("rtd,rte->rde", x, x)
    theta = np.linalg.solve(A, np.einsum("rtd,rt->rd", x, y)[:, :, None])[:, :, 0]
    for learner in (step, blk):
        assert_close(learner.theta, theta, float(np.max(np.abs(theta))), "theta_T")
        assert_close(learner.inverse, np.linalg.inv(A), 1.0, "inverse")
        assert_close(learner.gram, A - lam * np.eye(d), float(np.max(A)), "gram")


@pytest.mark.parametrize("method", ["sm", "block"])
def test_prediction_does_not_see_current_or_future_labels(method: str) -> None:
    R, T, d, t0 = 3, 40, 4, 17
    x, y, _ = make_instance(5, R, T, d)
    y2 = y.copy()
    y2[:, t0] += 10.0
    p1 = OnlineRidge(R, d, 1.0, method=method, block_size=8).predict_update(x, y)
    p2 = OnlineRidge(R, d, 1.0, method=method, block_size=8).predict_update(x, y2)
    # identical up to and including step t0 (bitwise: same operations on the same numbers)...
    np.testing.assert_array_equal(p1[:, : t0 + 1], p2[:, : t0 + 1])
    # ...and the label change does reach later predictions
    assert np.min(np.abs(p1[:, t0 + 1] - p2[:, t0 + 1])) > 1e-6


# ----------------------------------------------------------------------------- driver accumulators


def direct_regrets(x, y, f, yhat, checkpoints):
    cum = lambda a: np.cumsum(a, axis=1)[:, np.asarray(checkpoints) - 1]  # noqa: E731
    learner = cum((yhat - y) ** 2)
    oracle = cum((f - y) ** 2)
    return {
        "learner_loss": learner,
        "oracle_loss": oracle,
        "regret": learner - oracle,
        "pseudo_regret": cum((yhat - f) ** 2),
    }


def lstsq_min(x: np.ndarray, y: np.ndarray) -> float:
    theta, *_ = np.linalg.lstsq(x, y, rcond=None)
    return float(np.sum((x @ theta - y) ** 2))


@pytest.mark.parametrize("method", ["sm", "block"])
@pytest.mark.parametrize("d", [1, 3, 7])
def test_driver_accumulators_match_direct_computation(d: int, method: str) -> None:
    R, T, lam = 5, 120, 0.8
    x, y, f = make_instance(10 + d, R, T, d)
    checkpoints = [1, 2, 5, 13, 64, 65, 100, T]  # includes t < d (interpolation) and chunk edges
    res = run_online_ridge(
        array_stream(x, y, f), T, lam, checkpoints, chunk_size=13, method=method, block_size=4,
        return_predictions=True,
    )
    ref = reference_predictions(x, y, lam)
    assert_close(res.predictions, ref, float(np.max(np.abs(ref))), "driver predictions")

    scale = float(np.max(np.sum(y**2, axis=1)))  # every accumulated quantity is O(sum y^2)
    for name, expected in direct_regrets(x, y, f, ref, checkpoints).items():
        assert_close(getattr(res, name), expected, scale, name)

    hind = np.array([[lstsq_min(x[r, :t], y[r, :t]) for t in checkpoints] for r in range(R)])
    assert_close(res.hindsight_loss, hind, scale, "hindsight_loss vs lstsq")
    assert_close(res.hindsight_regret, res.learner_loss - hind, scale, "hindsight_regret")
    # OLS in hindsight is at least as good as theta* (f* is linear here): hindsight regret >= regret
    assert np.all(res.hindsight_loss <= res.oracle_loss + RTOL * scale)
    assert res.checkpoints == tuple(checkpoints)
    assert np.all(res.inverse_drift < 1e-12) and np.all(res.theta_drift < 1e-12)


def test_hindsight_regularised_and_rank_deficient() -> None:
    rng = np.random.default_rng(3)
    R, T, d = 3, 30, 5
    x = rng.standard_normal((R, T, d))
    x[:, :, 4] = x[:, :, 0] - 2.0 * x[:, :, 1]  # exactly rank-deficient design (rank 4)
    y = rng.standard_normal((R, T))
    gram, moment, syy = np.einsum("rtd,rte->rde", x, x), np.einsum("rtd,rt->rd", x, y), np.sum(y**2, axis=1)
    scale = float(np.max(syy))
    expected = [lstsq_min(x[r], y[r]) for r in range(R)]
    assert_close(hindsight_least_squares(gram, moment, syy), expected, scale, "OLS, rank-deficient")

    # only one non-zero coordinate: G is exactly diagonal, eigh returns exact zero eigenvalues with
    # exactly zero V^T b (0/0 without the null-space cutoff)
    x0 = np.zeros((R, 3, d))
    x0[:, :, 0] = x[:, :3, 0]
    g0, m0, s0 = np.einsum("rtd,rte->rde", x0, x0), np.einsum("rtd,rt->rd", x0, y[:, :3]), np.sum(y[:, :3] ** 2, 1)
    expected0 = [lstsq_min(x0[r], y[r, :3]) for r in range(R)]
    assert_close(hindsight_least_squares(g0, m0, s0), expected0, float(np.max(s0)), "OLS, zero column")

    reg = 0.7
    theta = np.linalg.solve(gram + reg * np.eye(d), moment[:, :, None])[:, :, 0]
    ridge = np.sum((np.einsum("rtd,rd->rt", x, theta) - y) ** 2, axis=1) + reg * np.sum(theta**2, axis=1)
    assert_close(hindsight_least_squares(gram, moment, syy, reg=reg), ridge, scale, "ridge objective")


def test_stream_is_called_once_per_consecutive_chunk() -> None:
    R, T, d = 2, 50, 3
    x, y, f = make_instance(7, R, T, d)
    calls: list[tuple[int, int]] = []
    inner = array_stream(x, y, f)

    def stream(t0: int, t1: int):
        calls.append((t0, t1))
        return inner(t0, t1)

    run_online_ridge(stream, T, 1.0, [7, 20], chunk_size=16)
    assert calls == [(0, 16), (16, 32), (32, 48), (48, 50)]


# ----------------------------------------------------------------------------- drift


@pytest.mark.parametrize("method", ["sm", "block"])
def test_sherman_morrison_drift_at_T_20000(method: str) -> None:
    """Drift of the maintained inverse/iterate against a direct solve after 20000 rank-one updates.

    Measured ~1e-14 (a random walk in rounding, ~sqrt(T) eps); 1e-11 leaves 1000x margin while any error
    in the update formula (e.g. a wrong denominator) gives O(1) relative drift.
    """
    R, T, d = 4, 20_000, 5
    x, y, f = make_instance(11, R, T, d)
    res = run_online_ridge(array_stream(x, y, f), T, 1.0, [1000, T], chunk_size=2048, method=method)
    assert np.all(res.inverse_drift < 1e-11), res.inverse_drift
    assert np.all(res.theta_drift < 1e-11), res.theta_drift
    # independent check of the final iterate against np.linalg.solve on the raw data
    A = np.eye(d) + np.einsum("rtd,rte->rde", x, x)
    theta = np.linalg.solve(A, np.einsum("rtd,rt->rd", x, y)[:, :, None])[:, :, 0]
    assert_close(res.theta, theta, float(np.max(np.abs(theta))), "theta_T")
    assert math.isnan(res.refresh_drift)  # no refresh requested


@pytest.mark.parametrize("method", ["sm", "block"])
def test_refresh_keeps_results(method: str) -> None:
    R, T, d = 3, 90, 4
    x, y, f = make_instance(12, R, T, d)
    plain = run_online_ridge(array_stream(x, y, f), T, 0.5, [30, T], chunk_size=7, method=method)
    fresh = run_online_ridge(
        array_stream(x, y, f), T, 0.5, [30, T], chunk_size=7, method=method, refresh_every=20,
        return_predictions=True,
    )
    ref = reference_predictions(x, y, 0.5)
    assert_close(fresh.predictions, ref, float(np.max(np.abs(ref))), "predictions with refresh")
    assert_close(fresh.regret, plain.regret, float(np.max(np.sum(y**2, axis=1))), "regret with refresh")
    assert 0.0 <= fresh.refresh_drift < 1e-12


@pytest.mark.parametrize("method", ["sm", "block"])
def test_refresh_removes_float32_drift(method: str) -> None:
    """In float32 Sherman-Morrison drifts measurably (~1e-6 relative after a few thousand steps);
    ``refresh()`` must report that drift and install the direct solve (drift 0 afterwards)."""
    R, T, d = 4, 3000, 6
    x, y, _ = make_instance(13, R, T, d)
    learner = OnlineRidge(R, d, 1.0, dtype=np.float32, method=method)
    learner.predict_update(x.astype(np.float32), y.astype(np.float32))
    before = learner.drift()
    assert 1e-8 < max(before) < 1e-3, before
    assert learner.refresh() == before
    assert learner.drift() == (0.0, 0.0)
    assert learner.theta.dtype == np.float32


# ----------------------------------------------------------------------------- array API


@pytest.mark.parametrize("method", ["sm", "block"])
def test_array_api_strict_matches_numpy(method: str) -> None:
    R, T, d = 3, 40, 3
    x, y, f = make_instance(21, R, T, d)
    kw = dict(chunk_size=9, method=method, block_size=4, return_predictions=True)
    res_np = run_online_ridge(array_stream(x, y, f), T, 0.9, [3, 20, T], **kw)
    sx, sy, sf = (xps.asarray(a) for a in (x, y, f))
    res_st = run_online_ridge(array_stream(sx, sy, sf), T, 0.9, [3, 20, T], **kw)
    for arr in (res_st.regret, res_st.hindsight_loss, res_st.theta, res_st.predictions):
        assert array_api_compat.is_array_api_strict_namespace(array_api_compat.array_namespace(arr))
    scale = float(np.max(np.sum(y**2, axis=1)))
    for name in ("predictions", "learner_loss", "oracle_loss", "regret", "pseudo_regret", "hindsight_loss",
                 "hindsight_regret", "theta"):
        assert_close(np.asarray(getattr(res_st, name)), getattr(res_np, name), scale, name)


def test_array_api_strict_step_api() -> None:
    R, T, d = 2, 15, 3
    x, y, _ = make_instance(22, R, T, d)
    learner = OnlineRidge(R, d, 1.0, xp=xps)
    preds = []
    for t in range(T):
        preds.append(np.asarray(learner.predict(xps.asarray(x[:, t, :]))))
        learner.update(xps.asarray(x[:, t, :]), xps.asarray(y[:, t]))
    ref = reference_predictions(x, y, 1.0)
    assert_close(np.stack(preds, axis=1), ref, float(np.max(np.abs(ref))), "strict step API")


# ----------------------------------------------------------------------------- validation


def _poison(a: np.ndarray, value: float) -> np.ndarray:
    a = a.copy()
    a[(0,) * a.ndim] = value
    return a


def _ok_stream(R: int = 2, T: int = 10, d: int = 3):
    return array_stream(*make_instance(0, R, T, d))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lam=0.0), r"lam must be finite and > 0"),
        (dict(lam=-1.0), r"lam must be finite and > 0"),
        (dict(lam=float("nan")), r"lam must be finite and > 0"),
        (dict(lam=float("inf")), r"lam must be finite and > 0"),
        (dict(T=0), r"T must be an integer >= 1"),
        (dict(checkpoints=[]), r"checkpoints must be non-empty"),
        (dict(checkpoints=[5, 5]), r"checkpoints must be strictly increasing"),
        (dict(checkpoints=[6, 3]), r"checkpoints must be strictly increasing"),
        (dict(checkpoints=[11]), r"checkpoints must lie in \[1, T\] = \[1, 10\]"),
        (dict(checkpoints=[0, 4]), r"checkpoints must lie in \[1, T\]"),
        (dict(checkpoints=[2.5]), r"checkpoints must be integers"),
        (dict(chunk_size=0), r"chunk_size must be an integer >= 1"),
        (dict(method="newton"), r"method must be one of"),
        (dict(hindsight_reg=-0.1), r"hindsight_reg must be finite and >= 0"),
    ],
)
def test_driver_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    args = dict(stream=_ok_stream(), T=10, lam=1.0, checkpoints=[5, 10]) | kwargs
    with pytest.raises(ValueError, match=match):
        run_online_ridge(**args)


@pytest.mark.parametrize(
    ("corrupt", "match"),
    [
        (lambda x, y, f: (x[:, :, 0], y, f), r"x must have shape \(R, 4, d\)"),
        (lambda x, y, f: (x, y[:, :-1], f), r"y must have shape \(R, t1-t0\)"),
        (lambda x, y, f: (x, y, f[:1]), r"f_star must have shape \(R, t1-t0\)"),
        (lambda x, y, f: (x, y), r"must return a tuple \(x, y, f_star\)"),
        (lambda x, y, f: (_poison(x, np.nan), y, f), r"x must not contain NaN or inf"),
        (lambda x, y, f: (x, _poison(y, np.inf), f), r"y must not contain NaN or inf"),
        (lambda x, y, f: (x, y, _poison(f, np.nan)), r"f_star must not contain NaN or inf"),
        (lambda x, y, f: (x.astype(np.float32), y, f), r"x must have dtype float64 \(as the first chunk\)"),
        (lambda x, y, f: (x, np.round(y).astype(np.int64), f), r"y must have dtype float64"),
        (lambda x, y, f: (x, y, list(f)), r"must be arrays of one array-API namespace"),
    ],
)
def test_driver_rejects_bad_stream_output(corrupt, match: str) -> None:
    good = _ok_stream(R=3, T=12, d=3)

    def stream(t0: int, t1: int):
        out = good(t0, t1)
        return corrupt(*out) if t0 == 4 else out  # first chunk fine: later chunks are checked too

    with pytest.raises(ValueError, match=r"stream\(4, 8\).*" + match):
        run_online_ridge(stream, 12, 1.0, [12], chunk_size=4)


def test_driver_rejects_replicate_count_change() -> None:
    good = _ok_stream(R=3, T=12, d=3)

    def stream(t0: int, t1: int):
        x, y, f = good(t0, t1)
        return (x[:2], y[:2], f[:2]) if t0 else (x, y, f)

    with pytest.raises(ValueError, match=r"x must have shape \(R, t1-t0, d\) = \(3, 4, 3\)"):
        run_online_ridge(stream, 12, 1.0, [12], chunk_size=4)


def test_state_accessors_return_copies() -> None:
    x, y, _ = make_instance(4, 2, 3, 2)
    for method in ("sm", "block"):
        learner = OnlineRidge(2, 2, 1.0, method=method)
        learner.update(x[:, 0, :], y[:, 0])
        theta, inverse = learner.theta, learner.inverse
        theta_copy, inverse_copy = theta.copy(), inverse.copy()
        learner.update(x[:, 1, :], y[:, 1])
        np.testing.assert_array_equal(theta, theta_copy)
        np.testing.assert_array_equal(inverse, inverse_copy)
        assert np.max(np.abs(learner.theta - theta)) > 1e-6


def test_learner_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"lam must be finite and > 0"):
        OnlineRidge(2, 3, 0.0)
    with pytest.raises(ValueError, match=r"dim must be an integer >= 1"):
        OnlineRidge(2, 0, 1.0)
    learner = OnlineRidge(2, 3, 1.0)
    with pytest.raises(ValueError, match=r"x must have shape \(R, d\) = \(2, 3\), got \(2, 4\)"):
        learner.predict(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"y must have shape \(R,\) = \(2,\)"):
        learner.update(np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"y must not contain NaN or inf"):
        learner.update(np.zeros((2, 3)), np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match=r"y must have shape \(R, n\) = \(2, 5\)"):
        learner.predict_update(np.zeros((2, 5, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"x must not contain NaN or inf"):
        learner.predict_update(np.full((2, 5, 3), np.inf), np.zeros((2, 5)))
    assert learner.n_steps == 0  # rejected calls leave the state untouched
    with pytest.raises(ValueError, match=r"lam must be finite and > 0"):
        online_ridge_reference(np.zeros((4, 2)), np.zeros(4), -1.0)
    with pytest.raises(ValueError, match=r"x must have shape \(T, d\)"):
        online_ridge_reference(np.zeros((4, 2)), np.zeros(5), 1.0)
