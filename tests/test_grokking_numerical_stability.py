"""simulations.grokking_numerical_stability against independent references.

* The float model itself: fl(1 + 2^-p) = 1 (ties to even), fl(1 + next float above 2^-p) = 1 + 2^(1-p), in float32
  and float64.
* The three cross-entropies against a slow per-row loop in extended precision (np.longdouble, 64-bit significand)
  on moderate logits: float64 to 1e-12 relative, float32 to 1e-5; StableMax's gradient formula
  (q_c - 1)/(1 + |z_c|) against a central difference of its loss in extended precision.
* NumPy's summation order as the module docstring states it (it decides where the onset lands between the
  sandwich's ends): three classes, two wrong terms of 0.6 u each, collapse when the correct class is first, not
  when it is last.
* The sandwich on hand-made vectors: one wrong term at u (1 - 1e-3) collapses, at u (1 + 1e-3) does not.
* The batched bisection against a slow per-instance scan of the same implementation on a fine grid.
* Instance spaces decode to valid instances; the same code on array-api-strict gives bit-identical outputs;
  bad input is named.
"""

from __future__ import annotations

import array_api_strict
import numpy as np
import pytest

from simulations.grokking_numerical_stability import (
    absorption_space,
    bisect_onset,
    build_logits,
    collapsed_at,
    decode_base,
    decode_position,
    evaluate_absorption,
    evaluate_onset,
    evaluate_stablemax,
    logsumexp_cross_entropy,
    onehot_of,
    onset_space,
    precision,
    softmax_cross_entropy,
    stablemax_cross_entropy,
    stablemax_space,
)

DTYPES = {24: np.float32, 53: np.float64}
TOL = {24: 1e-5, 53: 1e-12}


@pytest.mark.parametrize("p", [24, 53])
def test_absorption_at_the_unit_roundoff(p: int) -> None:
    one, u = DTYPES[p](1), DTYPES[p](2.0**-p)
    assert one + u == one  # the tie rounds to even (1)
    above = np.nextafter(u, one)
    assert one + above == one + 2 * u
    assert one - u / 2 == one and one - np.nextafter(u / 2, one) < one  # spacing below 1 is u


# ------------------------------------------------------------------------------------------ slow references
def slow_softmax(z: np.ndarray, c: int) -> tuple[float, np.ndarray]:
    zl = z.astype(np.longdouble)
    e = [np.exp(x - zl.max()) for x in zl]
    total = sum(e, np.longdouble(0))
    prob = np.array([x / total for x in e])
    grad = prob.copy()
    grad[c] -= 1
    return float(-np.log(prob[c])), grad.astype(float)


def slow_stablemax_loss(z: np.ndarray, c: int) -> np.longdouble:
    sz = [x + 1 if x >= 0 else 1 / (1 - x) for x in z.astype(np.longdouble)]
    return -np.log(sz[c] / sum(sz, np.longdouble(0)))


@pytest.mark.parametrize("p", [24, 53])
def test_cross_entropies_against_slow_loops(p: int) -> None:
    rng = np.random.default_rng(3)
    n, K = 40, 7
    z = (3 * rng.standard_normal((n, K))).astype(DTYPES[p])
    c = rng.integers(0, K, size=n)
    onehot = onehot_of(c, K, p)
    loss_s, grad_s = softmax_cross_entropy(z, onehot)
    loss_l, grad_l = logsumexp_cross_entropy(z, onehot)
    loss_m, grad_m = stablemax_cross_entropy(z, onehot)
    for i in range(n):
        loss, grad = slow_softmax(z[i], int(c[i]))
        for got_loss, got_grad in ((loss_s[i], grad_s[i]), (loss_l[i], grad_l[i])):
            assert abs(got_loss - loss) <= TOL[p] * max(1.0, abs(loss))
            np.testing.assert_allclose(got_grad, grad, rtol=TOL[p], atol=TOL[p] * 1e-3)
        assert abs(loss_m[i] - float(slow_stablemax_loss(z[i], int(c[i])))) <= TOL[p] * max(1.0, abs(loss_m[i]))
        step = np.longdouble(1e-7)
        up, down = z[i].astype(np.longdouble), z[i].astype(np.longdouble)
        up[c[i]] += step
        down[c[i]] -= step
        fd = float((slow_stablemax_loss(up, int(c[i])) - slow_stablemax_loss(down, int(c[i]))) / (2 * step))
        assert abs(grad_m[i] - fd) <= 1e3 * TOL[p] * abs(fd) + 1e-9  # central difference: ~1e-10 error


def test_numpy_sums_left_to_right_below_eight_terms() -> None:
    u = np.float32(2.0**-24)
    first = np.array([[1, 0.6 * u, 0.6 * u]], dtype=np.float32)
    last = first[:, ::-1].copy()
    assert first.sum(axis=1)[0] == 1  # (1 + 0.6u) + 0.6u: each term absorbed
    assert last.sum(axis=1)[0] == 1 + 2 * u  # (0.6u + 0.6u) + 1 = 1 + 1.2u rounds up
    onehot = np.array([[1, 0, 0]], dtype=np.float32)
    z = np.log(first)  # correct class first, s = 1.2 u > u: NumPy still collapses
    _, grad = softmax_cross_entropy(z, onehot)
    assert grad[0, 0] == 0


@pytest.mark.parametrize("p", [24, 53])
@pytest.mark.parametrize("impl_fn", [softmax_cross_entropy, logsumexp_cross_entropy])
def test_one_wrong_class_on_either_side_of_u(p: int, impl_fn) -> None:  # type: ignore[no-untyped-def]
    # b = 1: h(1) = u, so logsumexp absorbs log S <= u into b, and S = 1 + 2u (log S = 2u) is not absorbed
    u = 2.0**-p
    gaps = np.array([-np.log(u * (1 - 1e-3)), -np.log(u * (1 + 1e-3))])
    z = build_logits(gaps, np.zeros((2, 1)), np.zeros(2, int), np.ones(2), p)
    loss, grad = impl_fn(z, onehot_of(np.zeros(2, int), 2, p))
    assert grad[0, 0] == 0 and loss[0] == 0  # r = u (1 - 1e-3): collapsed
    assert grad[1, 0] != 0 and loss[1] != 0  # r = u (1 + 1e-3): live
    assert np.all(grad[:, 1] > 0)  # the wrong class keeps its gradient ~ e^-g


def test_bisection_against_a_slow_scan() -> None:
    rng = np.random.default_rng(5)
    params = {"p": 24, "K": 10, "impl": "softmax", "position": "any"}
    inst = onset_space(params).decode(onset_space(params).sample(rng, 6))
    out = evaluate_onset(params, inst, np)
    c = decode_position(inst["position"][:, 0], 10, "any")
    base = decode_base(inst["base"][:, 0]).astype(np.float32).astype(float)
    for i in range(6):
        grid = np.arange(out["g_on"][i] - 0.02, out["g_on"][i] + 0.02, 2e-5)
        n = len(grid)
        dead = [bool(collapsed_at("softmax", np.array([g]), inst["offsets"][i:i + 1], c[i:i + 1], base[i:i + 1],
                                  24, np)[0]) for g in grid]
        first = grid[int(np.argmax(dead))]
        assert any(dead) and not dead[0] and all(dead[int(np.argmax(dead)):]) and n > 100
        assert abs(first - out["g_on"][i]) <= 2e-5


def test_bisection_reports_a_bad_bracket() -> None:
    offsets, c, base = np.zeros((1, 1)), np.zeros(1, int), np.ones(1)
    assert np.isnan(bisect_onset("softmax", offsets, c, base, 24, np, np.array([30.0]), np.array([40.0]))[0])


# ---------------------------------------------------------------------------------- spaces and backends
@pytest.mark.parametrize("K", [2, 10])
def test_instances_are_valid(K: int) -> None:
    rng = np.random.default_rng(0)
    for space in (absorption_space({"p": 24, "K": K}), onset_space({"p": 24, "K": K}),
                  stablemax_space({"p": 24, "K": K})):
        z = np.concatenate([space.sample(rng, 50), rng.uniform(space.low, space.high, size=(20, space.dim))])
        inst = space.decode(z)
        assert np.all(inst["offsets"] >= 0)
        c = decode_position(inst["position"][:, 0], K, "any")
        assert np.all((c >= 0) & (c < K))
        if "base" in inst:
            magnitude = np.abs(decode_base(inst["base"][:, 0]))
            assert np.all((magnitude >= 1) & (magnitude <= 64))


def test_array_api_strict_gives_identical_bits() -> None:
    rng = np.random.default_rng(2)
    for impl in ("softmax", "logsumexp"):
        for p in (24, 53):
            params = {"p": p, "K": 10, "impl": impl, "position": "any"}
            inst = absorption_space(params).decode(absorption_space(params).sample(rng, 64))
            a, b = evaluate_absorption(params, inst, np), evaluate_absorption(params, inst, array_api_strict)
            assert all(np.array_equal(a[k], b[k]) for k in a)
            inst = onset_space(params).decode(onset_space(params).sample(rng, 8))
            a, b = evaluate_onset(params, inst, np), evaluate_onset(params, inst, array_api_strict)
            assert all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)
    params = {"p": 24, "K": 10}
    inst = stablemax_space(params).decode(stablemax_space(params).sample(rng, 64))
    a, b = evaluate_stablemax(params, inst, np), evaluate_stablemax(params, inst, array_api_strict)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_bad_input_is_named() -> None:
    z = np.zeros((2, 3), dtype=np.float32)
    onehot = onehot_of(np.zeros(2, int), 3, 24)
    with pytest.raises(ValueError, match="z .logits. must have shape"):
        softmax_cross_entropy(np.zeros(3, dtype=np.float32), onehot[0])
    with pytest.raises(ValueError, match="onehot must have the shape"):
        softmax_cross_entropy(z, onehot[:, :2])
    with pytest.raises(ValueError, match="share a dtype"):
        logsumexp_cross_entropy(z.astype(np.float64), onehot)
    with pytest.raises(ValueError, match="finite"):
        stablemax_cross_entropy(np.full((2, 3), np.nan, dtype=np.float32), onehot)
    with pytest.raises(ValueError, match="exactly one entry 1"):
        softmax_cross_entropy(z, 2 * onehot)
    with pytest.raises(ValueError, match="gap must be > 0"):
        build_logits(np.array([-1.0]), np.zeros((1, 2)), np.zeros(1, int), np.ones(1), 24)
    with pytest.raises(ValueError, match="position must be a class index"):
        build_logits(np.array([1.0]), np.zeros((1, 2)), np.array([5]), np.ones(1), 24)
    with pytest.raises(ValueError, match=r"p \(significand bits\)"):
        precision({"p": 11})
    with pytest.raises(ValueError, match="impl must be one of"):
        evaluate_absorption({"p": 24, "K": 2, "impl": "sparsemax"},
                            absorption_space({"p": 24, "K": 2}).decode(np.full((1, 4), 0.5) + [[20, 0, 0, 0]]), np)
    with pytest.raises(ValueError, match="K .classes. must be >= 2"):
        absorption_space({"p": 24, "K": 1})
    with pytest.raises(ValueError, match="position must be 'any'"):
        decode_position(np.zeros(2), 3, "middle")
