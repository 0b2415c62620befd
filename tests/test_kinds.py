"""Claim kinds as plug-ins: the registry's contract, no kind branches in the engine, the results or the report,
and the high-probability kind (its decision on synthetic data, its load-time checks, a user module through
``boundlab.verify``)."""

from __future__ import annotations

import ast
import importlib
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from scipy.stats import binom

import boundlab
from boundlab.errors import UsageError
from boundlab.kinds import KINDS, kind_of
from boundlab.kinds.base import Claim
from boundlab.kinds.high_probability import (
    ExceedanceEvidence,
    HighProbabilityClaim,
    decide_high_probability,
    detectable_probability,
)
from boundlab.statements import Probability, Relation
from tests.conftest import ROOT

PACKAGE = ROOT / "boundlab"


def test_every_registered_kind_has_its_hooks() -> None:
    assert set(KINDS) == {"sure", "expectation", "rate", "limit", "high-probability"}
    for name, cls in KINDS.items():
        assert kind_of(name) is cls and cls.kind == name
        assert "decide" not in getattr(cls, "__abstractmethods__", set()), name
        assert cls.figure is not Claim.figure, name  # each kind draws its own figure
        assert callable(cls.headline)
        module, _, function = cls.calibration_cases.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), (name, cls.calibration_cases)
    with pytest.raises(KeyError, match="Unknown claim kind"):
        kind_of("nope")


def test_every_kind_decide_declares_searched() -> None:
    import inspect

    for cls in KINDS.values():
        assert "searched" in inspect.signature(cls.decide).parameters, cls.kind


KIND_CLASSES = {cls.__name__ for cls in KINDS.values()} | {"Claim"}


def _kind_branches(path: Path) -> list[str]:
    """``isinstance(x, SureClaim)``-style checks and comparisons of ``.kind`` with a kind's name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance":
            names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
            names |= {n.attr for n in ast.walk(node.args[1]) if isinstance(n, ast.Attribute)}
            if names & KIND_CLASSES:
                found.append(f"{path.name}:{node.lineno} isinstance on {sorted(names & KIND_CLASSES)}")
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            kind_attr = any(isinstance(s, ast.Attribute) and s.attr == "kind" for s in sides)
            literal = any(isinstance(s, ast.Constant) and s.value in KINDS for s in sides)
            if kind_attr and literal:
                found.append(f"{path.name}:{node.lineno} compares .kind with a kind name")
    return found


def test_engine_results_and_report_do_not_branch_on_kinds() -> None:
    files = [PACKAGE / "engine.py", PACKAGE / "results.py", PACKAGE / "work.py",
             *sorted((PACKAGE / "report").glob("*.py"))]
    assert all(f.is_file() for f in files)
    found = [hit for f in files for hit in _kind_branches(f)]
    assert found == []


def test_the_kind_branch_scan_can_fail(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def f(c, r):\n    if isinstance(c, SureClaim):\n        pass\n    return r.kind == 'limit'\n")
    assert len(_kind_branches(probe)) == 2


# ------------------------------------------------------------------------------ the high-probability decision


def _evidence(truth: float, delta: float, n: int, points: int, seed: int) -> list[ExceedanceEvidence]:
    rng = np.random.default_rng(seed)
    return [ExceedanceEvidence({"i": i}, rng.uniform(size=n) < truth, delta) for i in range(points)]


def test_high_probability_clearly_violated_and_clearly_consistent() -> None:
    bad = decide_high_probability(_evidence(0.1, 0.05, 2000, 3, 0), 0.25, 0.05)
    assert bad.verdict == "violated" and bad.counterexample["exceedances"] > 150
    assert all(p["rejected"] for p in bad.points)
    good = decide_high_probability(_evidence(0.01, 0.05, 2000, 3, 1), 0.25, 0.05)
    assert good.verdict == "consistent"
    assert all(p["ci"][1] <= 0.05 * 1.25 for p in good.points)
    assert good.tightness == pytest.approx(max(p["estimate"] for p in good.points) / 0.05)


def test_high_probability_at_the_boundary_is_never_consistent_with_a_tight_margin() -> None:
    # true P = delta exactly: the upper bound sits above delta (1 + 0.05) at 2000 replicates, so no pass
    verdicts = [decide_high_probability(_evidence(0.05, 0.05, 2000, 3, s), 0.05, 0.05).verdict for s in range(40)]
    assert "consistent" not in verdicts
    assert verdicts.count("violated") <= 6  # size 0.05 over 40 seeds: 6 or more has probability < 0.02
    assert verdicts.count("inconclusive") >= 30


def test_high_probability_counts_and_exact_p_value() -> None:
    one = [ExceedanceEvidence({}, np.array([True] + [False] * 99), 0.001)]
    d = decide_high_probability(one, 0.5, 0.05)
    assert d.points[0]["exceedances"] == 1 and d.points[0]["estimate"] == pytest.approx(0.01)
    assert d.points[0]["p_value"] == pytest.approx(1 - 0.999**100)  # P(X >= 1 | delta = 0.001, n = 100) = 0.095
    assert d.verdict == "inconclusive"  # not significant, and the upper bound (0.047) is far above delta
    two = [ExceedanceEvidence({}, np.array([True] * 2 + [False] * 98), 0.001)]
    assert decide_high_probability(two, 0.5, 0.05).verdict == "violated"  # P(X >= 2) = 0.0046


def test_high_probability_resolution_is_exact_finite_and_decreasing() -> None:
    level = 0.05 / 3
    reach = [detectable_probability(n, 0.05, level) for n in (100, 400, 1600, 6400)]
    assert all(np.isfinite(reach)) and all(a > b for a, b in zip(reach, reach[1:], strict=False))
    assert reach[-1] > 0.05
    for n, p in zip((100, 400, 1600, 6400), reach, strict=True):
        c = int(np.flatnonzero(binom.sf(np.arange(n + 1) - 1, n, 0.05) <= level)[0])
        assert binom.sf(c - 1, n, p) == pytest.approx(0.8, abs=1e-9)  # power 0.8 exactly at the resolution
        assert binom.sf(c - 2, n, 0.05) > level  # one count fewer would not reject
    assert detectable_probability(5, 0.5, 0.01) == float("inf")  # 5 of 5 at delta 0.5: p = 0.03 > 0.01


# ------------------------------------------------------------------------------ load-time checks

Q = sp.Symbol("Q", real=True)
delta = sp.Symbol("delta", positive=True)


def _claim(statement: Probability, mutants: tuple[boundlab.Mutant, ...], **kw: object) -> HighProbabilityClaim:
    budget = boundlab.Budget(boundlab.grid(delta=[0.05, 0.1]), replicates=kw.pop("replicates", 500))
    experiment = boundlab.Experiment("e", "", {"quick": budget, "standard": budget, "full": budget},
                                     measure=lambda p, rng, size, xp: {"Q": rng.standard_normal(size)},
                                     outputs=("Q",))
    paper = boundlab.Paper("p", "t", ("a",), "v", 2026, "none")
    return HighProbabilityClaim("c", paper, statement, experiment, boundlab.reconstructed("x"),
                                mutants=mutants, **{"relative_margin": 0.25, **kw})


def test_high_probability_load_time_checks() -> None:
    event = Relation(sp.Gt(Q, 1))
    good = boundlab.Mutant("small-delta", Probability(event, delta / 2), "d")
    assert _claim(Probability(event, delta), (good,)).kind == "high-probability"
    assert _claim(Probability(event, delta), (boundlab.Mutant("low-bound", Probability(Relation(sp.Gt(Q, 0.5)),
                                                                                     delta), "d"),))
    with pytest.raises(UsageError, match="relative_margin"):
        _claim(Probability(event, delta), (good,), relative_margin=0)
    with pytest.raises(TypeError):
        HighProbabilityClaim("c", None, Probability(event, delta), None, None)  # margin is required
    with pytest.raises(UsageError, match=r"delta must lie in \(0, 1\)"):
        _claim(Probability(event, 1 + delta), (good,))
    with pytest.raises(UsageError, match="needs a mutant on the side where it can fail"):
        _claim(Probability(event, delta), ())
    with pytest.raises(UsageError, match="implied by the claim"):
        _claim(Probability(event, delta), (good, boundlab.Mutant("looser", Probability(event, 2 * delta), "d")))
    with pytest.raises(UsageError, match="implied by the claim"):  # a larger bound for Q > B says less
        _claim(Probability(event, delta), (good, boundlab.Mutant("high-bound", Probability(Relation(sp.Gt(Q, 2)),
                                                                                            delta), "d")))
    with pytest.raises(UsageError, match="could never be consistent"):
        _claim(Probability(event, delta), (good,), replicates=20)
    with pytest.raises(UsageError, match="Probability statement"):
        _claim(Relation(sp.Le(Q, 1)), (good,))


def test_probability_statement_typesets_and_digests() -> None:
    s = Probability(Relation(sp.Gt(Q, 1)), delta)
    assert s.latex() == r"\mathbb{P}\left[Q > 1\right] \le \delta"
    assert s.text() == "P[Q > 1] <= delta"
    assert s.digest() != Probability(Relation(sp.Ge(Q, 1)), delta).digest()
    with pytest.raises(UsageError):
        Probability(Relation(sp.Eq(Q, 1)), delta)


# ------------------------------------------------------------------------------ through verify

USER_MODULE = '''
import numpy as np
import sympy as sp
from scipy.stats import norm

from boundlab import (Budget, Experiment, HighProbabilityClaim, Mutant, Paper, Probability, Relation, grid,
                      reconstructed)

PAPER = Paper("user-hp", "A user's high-probability bound", ("U",), "none", 2026, "none")
Z = sp.Symbol("Z", real=True)
delta = sp.Symbol("delta", positive=True)


def measure(params, rng, size, xp):
    return {"Z": rng.standard_normal(size), "T": np.full(size, norm.isf(params["delta"]))}


T = sp.Symbol("T", real=True)  # the exact (1 - delta) quantile, measured alongside
BUDGET = Budget(grid(delta=[0.02, 0.1]), replicates=3000, block=1000)
EXPERIMENT = Experiment("normal-tail", "Z standard normal", {"quick": BUDGET, "standard": BUDGET, "full": BUDGET},
                        measure=measure, outputs=("Z", "T"))
CLAIMS = [
    HighProbabilityClaim(
        "tail-below-quantile", PAPER, Probability(Relation(sp.Gt(Z, T + 0.5)), delta), EXPERIMENT,
        reconstructed("a shifted Gaussian quantile"), relative_margin=0.5,
        mutants=(Mutant("at-the-quantile-a-quarter-delta", Probability(Relation(sp.Gt(Z, T)), delta / 4),
                        "the exact quantile's tail is delta, not delta/4"),),
    ),
]
'''


def test_user_high_probability_claim_through_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "user_hp_module.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        results = {r.claim: r for r in boundlab.verify("user-hp", extra_modules=["user_hp_module"], mutants=True,
                                                        store=":memory:")}
    finally:
        sys.modules.pop("user_hp_module", None)
    claim = results["user-hp/tail-below-quantile"]
    mutant = results["user-hp/tail-below-quantile~at-the-quantile-a-quarter-delta"]
    assert claim.kind == "high-probability" and claim.verdict == "consistent", claim.reason
    assert mutant.verdict == "violated", mutant.reason
    assert claim.headline().startswith("frequency ") and "vs delta" in claim.headline()
    assert set(claim.resolution) >= {"exceedance_probability", "relative_to_delta", "power"}
    assert {p["replicates"] for p in claim.points} == {3000}
    assert r"\mathbb{P}" in claim.statement["latex"]
    # the mutant's frequency at each point is the exact tail delta, within its interval
    for p in mutant.points:
        assert p["ci"][0] <= 4 * p["bound"] <= p["ci"][1]


def test_synthetic_high_probability_claim_and_mutants() -> None:
    results = {r.claim: r for r in boundlab.verify("synthetic-calibration/mean-within-hoeffding", mutants=True,
                                                    extra_modules=["boundlab.calibration"], store=":memory:")}
    assert results["synthetic-calibration/mean-within-hoeffding"].verdict == "consistent"
    for name in ("delta-over-twenty", "bound-halved"):
        assert results[f"synthetic-calibration/mean-within-hoeffding~{name}"].verdict == "violated"


def test_high_probability_figure_draws() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from boundlab.report.figures import draw

    result = boundlab.verify("synthetic-calibration/mean-within-hoeffding", extra_modules=["boundlab.calibration"],
                             store=":memory:")[0]
    axes = list(Figure().subplots(1, 2))
    draw(result, axes)
    assert len(axes[0].lines) >= 2 and axes[1].get_ylabel() == "ratio to delta"


def test_bound_gap_that_cancels_is_still_simplified() -> None:
    """The mutant-side check skips simplification only for a bound difference that really varies with the measured
    quantities; one whose measured terms cancel (only after simplifying) still goes to sympy."""
    from boundlab.kinds.high_probability import _varies_with_measured

    n = sp.Symbol("n", positive=True)
    kl, bias = sp.symbols("kl bias", positive=True)
    point = {"n": 100}
    assert _varies_with_measured(bias / 10 + kl / n, point)
    assert not _varies_with_measured(sp.log(kl * bias) - sp.log(kl) - sp.log(bias) + 1 / n, point)
    assert not _varies_with_measured(1 / n, point)  # nothing measured: nothing to decide here
