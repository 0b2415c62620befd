"""Load-time checks of a claim's declarations, before anything is computed.

Every name a statement (the claim's or a mutant's) evaluates from must be a sweep parameter of every point
of every fidelity's budget, or a declared output of the experiment; a rate claim's variable must take at
least two distinct values at every fidelity; diagnostics must be declared outputs. A broken declaration is
a UsageError naming the module file, the claim and the rule, so ``verify`` exits 2 before any unit runs.
"""

from __future__ import annotations

from boundlab.claims import Claim, RateClaim
from boundlab.errors import UsageError
from boundlab.experiments import FIDELITIES
from boundlab.statements import statement_names


def swept_everywhere(claim: Claim) -> set[str]:
    """The parameters present in every sweep point of every fidelity's budget."""
    names: set[str] | None = None
    for fidelity in FIDELITIES:
        for point in claim.experiment.budget(fidelity).points:
            names = set(point) if names is None else names & set(point)
    return names or set()


def check_declarations(claim: Claim, file: str) -> None:
    """Raise a UsageError ``<file>: claim <id>: <rule>`` when the claim's declarations cannot be evaluated."""
    experiment = claim.experiment
    swept = swept_everywhere(claim)
    outputs = set(experiment.outputs)
    where = f"{file}: claim {claim.id}"
    statements = [("statement", claim.statement), *((f"mutant {m.name!r}", m.statement) for m in claim.mutants)]
    for label, statement in statements:
        unknown = sorted(statement_names(statement) - swept - outputs)
        if unknown:
            raise UsageError(
                f"{where}: the {label} uses {', '.join(unknown)}, which is neither a sweep parameter of every "
                f"fidelity's points ({', '.join(sorted(swept)) or 'none'}) nor a declared output of experiment "
                f"{experiment.name!r} ({', '.join(experiment.outputs)})."
            )
    undeclared = [d for d in claim.diagnostics if d not in outputs]
    if undeclared:
        raise UsageError(f"{where}: diagnostics {', '.join(undeclared)} are not declared outputs of experiment "
                         f"{experiment.name!r} ({', '.join(experiment.outputs)}).")
    if isinstance(claim, RateClaim):
        for fidelity in FIDELITIES:
            points = experiment.budget(fidelity).points
            values = {repr(p[claim.variable]) for p in points if claim.variable in p}
            if claim.variable not in swept or len(values) < 2:
                raise UsageError(
                    f"{where}: the rate variable {claim.variable!r} must be swept with at least two distinct "
                    f"values in every fidelity; at {fidelity} it takes {len(values)} in {len(points)} point(s)."
                )
