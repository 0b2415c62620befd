"""The batched optimisers of solvers/sgd.py and the simulation of the scale-invariant weight-decay paper.

References: central finite differences of the loss (the gradient), a slow per-replicate loop written from the
update formulas (every optimiser), an explicit sum over the stored momenta (the cross term), scipy's bounded
scalar minimiser (the best L2 coefficient), the same code on array-api-strict, and ValueErrors for bad input.
"""

from __future__ import annotations

import math

import array_api_strict
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import simulations.scale_invariant_weight_decay as sim
from solvers.sgd import OptimizerConfig, ScaleInvariantLogistic, initial_state, run

PARAMS = {"n": 40, "d": 6, "s": 1.5, "batch": 4, "data_seed": 3, "steps": 7}


def _model(xp=np) -> ScaleInvariantLogistic:
    return sim.model_for(PARAMS, xp)


def _slow_loss(X: np.ndarray, y: np.ndarray, s: float, w: np.ndarray, rows: np.ndarray) -> float:
    u = w / math.sqrt(float(w @ w))
    return float(np.mean([math.log1p(math.exp(-y[i] * s * float(X[i] @ u))) for i in rows]))


def test_gradient_against_finite_differences_and_scale_invariance() -> None:
    model = _model()
    X, y = np.asarray(model.X), np.asarray(model.y)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 6)) * np.array([[0.3], [1.0], [4.0]])
    rows = rng.integers(0, 40, size=(3, 5))
    grad = model.gradient(w, rows)
    h = 1e-6
    for r in range(3):
        fd = np.array([(_slow_loss(X, y, 1.5, w[r] + h * e, rows[r]) - _slow_loss(X, y, 1.5, w[r] - h * e, rows[r]))
                       / (2 * h) for e in np.eye(6)])
        np.testing.assert_allclose(grad[r], fd, rtol=1e-6, atol=1e-8)  # central differences: error O(h^2)
        assert abs(model.loss(w[r:r + 1] * 7.0, rows[r:r + 1])[0] - _slow_loss(X, y, 1.5, w[r], rows[r])) < 1e-12
    np.testing.assert_allclose(np.sum(grad * w, axis=1), 0.0, atol=1e-15)


def _slow_run(X: np.ndarray, y: np.ndarray, s: float, w0: np.ndarray, batches: np.ndarray, opt: OptimizerConfig
              ) -> np.ndarray:
    """One replicate at a time, the textbook update with scalar loops over the batch."""
    out = np.empty_like(w0)
    d = w0.shape[1]
    for r in range(w0.shape[0]):
        w, p, v = w0[r].copy(), np.zeros(d), np.zeros(d)
        for t in range(batches.shape[0]):
            norm = math.sqrt(float(w @ w))
            u = w / norm
            G = np.zeros(d)
            for i in batches[t, r]:
                G += -s * y[i] * X[i] / (1.0 + math.exp(y[i] * s * float(X[i] @ u)))
            G /= batches.shape[2]
            g = (G - (G @ u) * u) / norm + opt.l2 * w
            if opt.method == "sgd":
                upd = opt.eta * g
            elif opt.method in ("sgdm", "sgdp"):
                p = opt.beta * p + g
                upd = opt.eta * p
                if opt.method == "sgdp" and abs(u @ g) / math.sqrt(float(g @ g)) < opt.delta / math.sqrt(d):
                    upd = upd - (upd @ u) * u
            else:
                p = opt.beta * p + (1 - opt.beta) * g
                v = opt.beta2 * v + (1 - opt.beta2) * g * g
                upd = opt.eta * (p / (1 - opt.beta ** (t + 1))) / (np.sqrt(v / (1 - opt.beta2 ** (t + 1))) + opt.eps)
            w = w - upd - opt.decoupled * w
        out[r] = w
    return out


@pytest.mark.parametrize("opt", [
    OptimizerConfig("sgd", 0.3, l2=0.05),
    OptimizerConfig("sgd", 0.3, decoupled=0.01),
    OptimizerConfig("sgdm", 0.2, beta=0.9, l2=0.01),
    OptimizerConfig("sgdp", 0.2, beta=0.9, decoupled=0.001),
    OptimizerConfig("adam", 0.01, beta=0.9, l2=0.1),
    OptimizerConfig("adam", 0.01, beta=0.9, decoupled=0.01),
], ids=["sgd-l2", "sgdw", "sgdm", "sgdp", "adam-l2", "adamw"])
def test_batched_optimisers_against_a_slow_loop(opt: OptimizerConfig) -> None:
    model = _model()
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((5, 6))
    batches = rng.integers(0, 40, size=(12, 5, 4))
    fast = run(model, initial_state(w0), batches, opt)[0].w
    np.testing.assert_allclose(fast, _slow_run(np.asarray(model.X), np.asarray(model.y), 1.5, w0, batches, opt),
                               rtol=1e-11, atol=1e-13)


def test_plain_sgd_closed_form_step_matches_the_general_step() -> None:
    """run() takes the closed-form sgd step when only ||w_t||^2 is kept, and the general one when a statistic
    needs g~: both give the same iterates (to rounding) and the same kept norms."""
    model = _model()
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((7, 6))
    batches = rng.integers(0, 40, size=(30, 7, 4))
    for opt in (OptimizerConfig("sgd", 0.3, l2=0.05), OptimizerConfig("sgd", 0.2, l2=0.1, decoupled=0.01)):
        fast, kept_fast = run(model, initial_state(w0), batches, opt, keep=("norm_sq",))
        general, kept_general = run(model, initial_state(w0), batches, opt, keep=("norm_sq", "radial"))
        np.testing.assert_allclose(fast.w, general.w, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(kept_fast["norm_sq"], kept_general["norm_sq"], rtol=1e-13)
        assert fast.t == general.t == 30
        np.testing.assert_array_equal(fast.p, general.p)  # plain sgd keeps no buffer on either path


def test_momentum_cross_term_against_stored_momenta() -> None:
    space = sim.momentum_space(PARAMS)
    inst = space.decode(space.sample(np.random.default_rng(2), 4))
    out = sim.evaluate_momentum(PARAMS, inst, np)
    model = _model()
    batches = sim.fixed_batches(PARAMS, PARAMS["steps"], 4)
    for r in range(4):
        eta, beta = out["eta"][r], out["beta"][r]
        w = math.exp(inst["log_norm"][r, 0]) * inst["u"][r]
        p, ps, norms = np.zeros(6), [], []
        for t in range(PARAMS["steps"]):
            norms.append(float(w @ w))
            p = beta * p + model.gradient(w[None], batches[t][r:r + 1])[0]
            ps.append(float(p @ p))
            w = w - eta * p
        T = PARAMS["steps"] - 1
        cross = sum(beta ** (T - k) * ps[k] for k in range(T))
        np.testing.assert_allclose([out["norm_sq"][r], out["norm_sq_next"][r], out["p_sq"][r], out["cross"][r]],
                                   [norms[T], float(w @ w), ps[T], cross], rtol=1e-12)


def test_best_l2_coefficient_against_scipy() -> None:
    params = {**PARAMS, "steps": 3}
    space = sim.decoupling_space(params)
    inst = space.decode(space.sample(np.random.default_rng(4), 3))
    out = sim.evaluate_decoupling(params, inst, np)
    model = _model()
    batches = sim.fixed_batches(params, 3, 1)
    for r in range(3):
        alpha, lam = math.exp(inst["log_alpha"][r, 0]), math.exp(inst["log_lam"][r, 0])
        w0 = (math.exp(inst["log_norm"][r, 0]) * inst["u"][r])[None]
        target = run(model, initial_state(w0), batches, OptimizerConfig("adam", alpha, beta=0.9, decoupled=lam))[0].w

        def gap(log_l2: float, w0=w0, alpha=alpha, target=target) -> float:
            opt = OptimizerConfig("adam", alpha, beta=0.9, l2=math.exp(log_l2))
            final = run(model, initial_state(w0), batches, opt)[0].w
            return float(np.linalg.norm(final - target) / np.linalg.norm(target))

        centre = math.log(lam / alpha)
        grid = np.linspace(centre - 7, centre + 7, 200)
        start = grid[int(np.argmin([gap(x) for x in grid]))]
        ref = minimize_scalar(gap, bounds=(start - 0.1, start + 0.1), method="bounded", options={"xatol": 1e-10})
        # the batched search may only be better than scipy's, and not by more than scipy's own tolerance
        assert out["gap_adam_best"][r] <= ref.fun * (1 + 1e-6)
        assert out["gap_adam_best"][r] >= ref.fun * (1 - 1e-3)
        assert out["gap_adam_scaled"][r] >= out["gap_adam_best"][r]


def test_equilibrium_measure_against_a_slow_loop() -> None:
    params = {**PARAMS, "eta": 0.5, "lam": 0.2, "burn": 1.0, "window": 2.0}  # 10 and 20 steps
    out = sim.measure_equilibrium(params, np.random.default_rng(5), 3, np)
    rng = np.random.default_rng(5)
    w = rng.standard_normal((3, 6))
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    model = _model()
    burn, window = rng.integers(0, 40, size=(10, 3, 4)), rng.integers(0, 40, size=(20, 3, 4))
    opt = OptimizerConfig("sgd", 0.5, l2=0.2)
    w = _slow_run(np.asarray(model.X), np.asarray(model.y), 1.5, w, burn, opt)
    xs, gs = [], []
    for t in range(20):
        xs.append(np.sum(w * w, axis=1))
        gs.append(np.array([float(np.sum(model.gradient(w[r:r + 1], window[t][r:r + 1]) ** 2)) for r in range(3)])
                  * xs[-1])
        w = _slow_run(np.asarray(model.X), np.asarray(model.y), 1.5, w, window[t:t + 1], opt)
    xs, gs = np.array(xs), np.array(gs)
    np.testing.assert_allclose(out["norm_sq_mean"], xs.mean(0), rtol=1e-12)
    np.testing.assert_allclose(out["norm4"], (xs**2).mean(0), rtol=1e-12)
    np.testing.assert_allclose(out["gt_sq_mean"], gs.mean(0), rtol=1e-10)
    np.testing.assert_allclose(out["ratio_term"], (gs**2 / xs**2).mean(0), rtol=1e-10)


def test_same_code_on_array_api_strict() -> None:
    rng = np.random.default_rng(6)
    for space_of, evaluate in [(sim.scaling_space, sim.evaluate_scaling), (sim.decay_step_space,
                               sim.evaluate_decay_step), (sim.momentum_space, sim.evaluate_momentum),
                               (sim.decoupling_space, sim.evaluate_decoupling)]:
        space = space_of({**PARAMS, "steps": 3})
        inst = space.decode(space.sample(rng, 3))
        plain = evaluate({**PARAMS, "steps": 3}, inst, np)
        strict = evaluate({**PARAMS, "steps": 3}, inst, array_api_strict)
        for k in plain:
            np.testing.assert_allclose(strict[k], plain[k], rtol=1e-10, atol=1e-15)
    params = {**PARAMS, "eta": 0.5, "lam": 0.2, "burn": 1.0, "window": 1.0}
    plain = sim.measure_equilibrium(params, np.random.default_rng(7), 4, np)
    strict = sim.measure_equilibrium(params, np.random.default_rng(7), 4, array_api_strict)
    for k in plain:
        np.testing.assert_allclose(strict[k], plain[k], rtol=1e-12)
    model = _model(array_api_strict)
    w0 = array_api_strict.asarray(rng.standard_normal((2, 6)))
    batches = rng.integers(0, 40, size=(3, 2, 4))
    for opt in (OptimizerConfig("sgdp", 0.1, beta=0.9), OptimizerConfig("adam", 0.01, decoupled=0.01),
                OptimizerConfig("sgd", 0.1, l2=0.1)):
        strict_w = run(model, initial_state(w0), batches, opt)[0].w
        plain_w = run(_model(), initial_state(np.asarray(w0)), batches, opt)[0].w
        np.testing.assert_allclose(np.asarray(strict_w), plain_w, rtol=1e-12)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"method": "rmsprop", "eta": 0.1}, "method"),
    ({"method": "sgd", "eta": 0.0}, "eta"),
    ({"method": "sgd", "eta": -1.0}, "eta"),
    ({"method": "sgd", "eta": float("nan")}, "eta"),
    ({"method": "sgd", "eta": True}, "eta"),
    ({"method": "sgd", "eta": 0.1, "l2": -0.1}, "l2"),
    ({"method": "sgd", "eta": 0.1, "decoupled": 1.0}, "decoupled"),
    ({"method": "sgdm", "eta": 0.1, "beta": 1.0}, "beta"),
    ({"method": "adam", "eta": 0.1, "beta2": -0.1}, "beta2"),
    ({"method": "adam", "eta": 0.1, "eps": 0.0}, "eps"),
    ({"method": "sgdp", "eta": 0.1, "delta": -1.0}, "delta"),
])
def test_bad_optimizer_settings_are_rejected(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        OptimizerConfig(**kwargs)


def test_bad_model_and_run_inputs_are_rejected() -> None:
    X, y = np.ones((5, 3)), np.ones(5)
    with pytest.raises(ValueError, match="X must have shape"):
        ScaleInvariantLogistic(np.ones(5), y)
    with pytest.raises(ValueError, match="y must have shape"):
        ScaleInvariantLogistic(X, np.ones(4))
    with pytest.raises(ValueError, match="X must be finite"):
        ScaleInvariantLogistic(np.full((5, 3), np.nan), y)
    with pytest.raises(ValueError, match="y must contain labels"):
        ScaleInvariantLogistic(X, np.zeros(5))
    with pytest.raises(ValueError, match="s "):
        ScaleInvariantLogistic(X, y, s=0.0)
    model = ScaleInvariantLogistic(X, y)
    opt = OptimizerConfig("sgd", 0.1)
    good = np.ones((2, 3))
    with pytest.raises(ValueError, match="w must have shape"):
        model.gradient(np.ones((2, 4)), np.zeros((2, 1), dtype=int))
    with pytest.raises(ValueError, match="w must be nonzero"):
        model.gradient(np.zeros((2, 3)), np.zeros((2, 1), dtype=int))
    with pytest.raises(ValueError, match="w must be finite"):
        model.gradient(np.full((2, 3), np.inf), np.zeros((2, 1), dtype=int))
    with pytest.raises(ValueError, match="rows must lie"):
        model.gradient(good, np.full((2, 1), 5))
    with pytest.raises(ValueError, match="rows must have shape"):
        model.gradient(good, np.zeros((3, 1), dtype=int))
    with pytest.raises(ValueError, match="batches must have shape"):
        run(model, initial_state(good), np.zeros((4, 3, 1), dtype=int), opt)
    with pytest.raises(ValueError, match="batches must be integer"):
        run(model, initial_state(good), np.zeros((4, 2, 1)), opt)
    with pytest.raises(ValueError, match="batches must lie"):
        run(model, initial_state(good), np.full((4, 2, 1), -1), opt)
    with pytest.raises(ValueError, match="opt must be"):
        run(model, initial_state(good), np.zeros((4, 2, 1), dtype=int), {"method": "sgd"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="keep must name"):
        run(model, initial_state(good), np.zeros((4, 2, 1), dtype=int), opt, keep=("loss",))


def test_simulation_momentum_runs_match_the_solver() -> None:
    """The simulation's per-instance (eta, beta) heavy-ball loop equals solvers.sgd's SGDM and SGDP."""
    model = _model()
    rng = np.random.default_rng(8)
    w0 = rng.standard_normal((3, 6))
    batches = np.ascontiguousarray(sim.fixed_batches(PARAMS, 7, 3))
    for project, method in ((False, "sgdm"), (True, "sgdp")):
        ours = sim._momentum_run(model, w0, np.full(3, 0.2), np.full(3, 0.9), batches, project, np)
        state, _ = run(model, initial_state(w0), batches, OptimizerConfig(method, 0.2, beta=0.9))
        np.testing.assert_allclose(ours["norm_sq_next"], np.sum(state.w**2, axis=1), rtol=1e-13)
