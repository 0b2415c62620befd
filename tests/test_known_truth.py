"""Known-truth claims written as a user's own theorem module (loaded like BOUNDLAB_EXTRA_MODULES), verified at quick
and standard fidelity: on Q(T) = 3 log T - 5 + noise, the false neighbours O(sqrt log T), O(log log T),
Theta(log^2 T) and Theta(T^0.1) are never `consistent`, and the true Theta(log T), O(log^2 T), O(sqrt T) and
Omega(1) are never `violated`. The audit found the first four `consistent` under a fixed exponent margin.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import boundlab

MODULE = textwrap.dedent('''
    """A user's known-truth rate claims: Q(T) = 3 log T - 5 + N(0, 1), independent across sweep points."""

    import numpy as np
    import sympy as sp

    from boundlab import Asymptotic, Budget, Experiment, Mutant, Paper, RateClaim, grid, quantity, reconstructed

    PAPER = Paper("known-log-truth", "Known log truth", ("A user",), "none", 2026, "none")
    T = sp.Symbol("T", positive=True)
    Q = quantity("Q")
    L = sp.log(T)


    def measure(params, rng, n, xp):
        return {"Q": 3.0 * np.log(params["T"]) - 5.0 + rng.standard_normal(n)}


    SWEEP = [1000, 3000, 10000, 30000, 100000]
    EXPERIMENT = Experiment("log-truth", "3 log T - 5 + noise", {
        "quick": Budget(grid(T=SWEEP), replicates=64, block=64),
        "standard": Budget(grid(T=SWEEP), replicates=256, block=128),
        "full": Budget(grid(T=SWEEP), replicates=1024, block=256),
    }, measure=measure, outputs=("Q",))
    NOTE = reconstructed("known truth")


    def claim(name, order, shape, margin, mutants):
        return RateClaim(name, PAPER, Asymptotic(Q, order, shape), EXPERIMENT, NOTE, variable="T",
                         exponent_margin=margin,
                         mutants=tuple(Mutant(m, Asymptotic(Q, o, s), "neighbour") for m, o, s in mutants))


    CLAIMS = [
        claim("true-theta-log", "Theta", L, 0.25, [("sqrt-log", "Theta", sp.sqrt(L)), ("log-sq", "Theta", L**2)]),
        claim("true-o-log-squared", "O", L**2, 0.25, [("log", "O", L)]),
        claim("true-o-sqrt", "O", sp.sqrt(T), 0.05, [("t-quarter", "O", T**0.25)]),
        claim("true-omega-one", "Omega", sp.Integer(1), 0.25, [("omega-log", "Omega", L)]),
        claim("false-o-sqrt-log", "O", sp.sqrt(L), 0.25, [("constant", "O", sp.Integer(1))]),
        claim("false-o-log-log", "O", sp.log(L), 0.25, [("constant", "O", sp.Integer(1))]),
        claim("false-theta-log-squared", "Theta", L**2, 0.25, [("cube", "Theta", L**3), ("log", "Theta", L)]),
        claim("false-theta-t-tenth", "Theta", T**0.1, 0.05, [("t-fifth", "Theta", T**0.2),
                                                               ("constant", "Theta", sp.Integer(1))]),
    ]
''')


@pytest.fixture(scope="module")
def module_name(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("known_truth")
    (Path(folder) / "known_log_truth.py").write_text(MODULE)
    sys.path.insert(0, str(folder))
    return "known_log_truth"


@pytest.mark.parametrize("fidelity", ["quick", "standard"])
def test_false_neighbours_never_consistent_true_claims_never_violated(module_name: str, fidelity: str,
                                                                     tmp_path: Path) -> None:
    results = boundlab.verify("known-log-truth", fidelity=fidelity, extra_modules=[module_name],
                              store=tmp_path / "known.db")
    verdicts = {r.claim.split("/", 1)[1]: r.verdict for r in results}
    assert len(verdicts) == 8
    for name, verdict in verdicts.items():
        if name.startswith("false-"):
            assert verdict != "consistent", (name, verdict)
        else:
            assert verdict != "violated", (name, verdict)
    # at standard fidelity the check is sharp enough for the log-factor claims to be decided, not just safe
    if fidelity == "standard":
        assert verdicts["false-o-sqrt-log"] == "violated"
        assert verdicts["false-theta-log-squared"] == "violated"
        assert verdicts["true-theta-log"] == "consistent"
    for r in results:
        assert r.resolution is not None and "relevant" in r.resolution
