"""Statements: LaTeX, numeric evaluation and exponents all derive from the one sympy expression."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from boundlab import Asymptotic, Expectation, Limit, Relation, UsageError
from boundlab.calibration import PAPER, RATE
from boundlab.claims import ExpectationClaim, LimitClaim, RateClaim, SureClaim, reconstructed

T, d, sigma, k = sp.symbols("T d sigma k", positive=True)
R = sp.Function("R")


@pytest.mark.parametrize(
    ("shape", "variable", "expected"),
    [
        (sigma**2 * d * sp.log(T), "T", (0.0, 1.0)),
        (sigma**2 * d * sp.log(T), "sigma", (2.0, 0.0)),
        (sigma**2 * d * sp.log(T), "d", (1.0, 0.0)),
        (sp.sqrt(T) * sp.log(T) ** 2, "T", (0.5, 2.0)),
        (d * sp.log(1 + T / d), "T", (0.0, 1.0)),
        (T**sp.Rational(3, 4), "d", (0.0, 0.0)),
    ],
)
def test_exponents_derived_from_shape(shape: sp.Expr, variable: str, expected: tuple[float, float]) -> None:
    a, b = Asymptotic(R(T), "O", shape).exponents(variable)
    assert (a, b) == pytest.approx(expected)


def test_relation_evaluates_measured_functions_and_parameters() -> None:
    statement = Relation(sp.Le(R(T), 4 * sigma**2 * d * sp.log(1 + T / d)))
    lhs, rhs = statement.evaluate({"R": np.array([1.0, 2.0]), "T": 100, "d": 5, "sigma": 0.5})
    np.testing.assert_allclose(lhs, [1.0, 2.0])
    assert float(rhs) == pytest.approx(4 * 0.25 * 5 * np.log(21))
    assert statement.op == "<="
    assert r"\leq" in statement.latex()


def test_expectation_prints_and_evaluates_per_replicate() -> None:
    statement = Relation(sp.Ge(Expectation(R(T)), d))
    assert statement.is_expectation
    assert r"\mathbb{E}" in statement.latex()
    lhs, rhs = statement.evaluate({"R": np.arange(3.0), "d": 2})
    np.testing.assert_allclose(lhs, [0, 1, 2])


def test_limit_distance_and_latex() -> None:
    S, target = sp.symbols("S_k OT_gamma")
    statement = Limit(S, target, k, sp.oo, scale=sp.Abs(target))
    np.testing.assert_allclose(statement.distance({"S_k": np.array([1.1, 0.9]), "OT_gamma": 1.0}), [0.1, 0.1])
    assert r"\lim" in statement.latex() and r"\infty" in statement.latex()


def test_digest_tracks_the_statement() -> None:
    a = Asymptotic(R(T), "O", sp.log(T))
    assert a.digest() == Asymptotic(R(T), "O", sp.log(T)).digest()
    assert a.digest() != Asymptotic(R(T), "Theta", sp.log(T)).digest()
    assert a.digest() != Asymptotic(R(T), "O", sp.sqrt(T)).digest()


def test_missing_quantity_is_a_clear_error() -> None:
    from boundlab.errors import MeasurementError

    with pytest.raises(MeasurementError, match="no value for R"):
        Relation(sp.Le(R(T), 1)).evaluate({"T": 3})


def test_claims_reject_statements_of_the_wrong_form() -> None:
    Q = sp.Symbol("Q")
    with pytest.raises(UsageError, match="Asymptotic"):
        RateClaim("bad", PAPER, Relation(sp.Le(Q, 1)), RATE, reconstructed("x"), variable="n", exponent_margin=0.1)
    with pytest.raises(UsageError, match="expectation"):
        SureClaim("bad", PAPER, Relation(sp.Le(Expectation(Q), 1)), RATE, reconstructed("x"), rtol=0.0, atol=0.0)
    for kind, given in ((SureClaim, {"rtol": 0.0}), (LimitClaim, {"tol": 1e-6}), (ExpectationClaim, {}),
                        (RateClaim, {"exponent_margin": 0.1})):
        # what decides a verdict has no silent default: a missing tolerance or margin is an error naming it
        with pytest.raises(TypeError, match="missing .*required keyword-only argument"):
            kind("x", PAPER, Relation(sp.Le(Q, 1)), RATE, reconstructed("x"), **given)
    with pytest.raises(UsageError, match="kebab-case"):
        RateClaim("Bad_Name", PAPER, Asymptotic(Q, "O", T), RATE, reconstructed("x"), variable="n", exponent_margin=0.1)
    with pytest.raises(UsageError, match="order"):
        Asymptotic(Q, "BigO", T)  # type: ignore[arg-type]
