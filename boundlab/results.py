"""Result objects: one per claim or mutant, with the fields of the JSON contract."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Result:
    claim: str
    paper: str
    kind: str
    mutant_of: str | None
    verdict: str
    statement: dict[str, Any]
    points: list[dict[str, Any]]
    exponent: dict[str, Any] | None
    tightness: float | None
    counterexample: dict[str, Any] | None
    resolution: dict[str, Any] | None
    fidelity: str
    seed: int
    backend: str
    executor: str
    runtime_s: float
    code_version: str
    reason: str = ""
    description: str = ""
    assumptions: list[str] = field(default_factory=list)
    experiment: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    units: dict[str, float] = field(default_factory=dict)
    weak_check: bool = False

    @property
    def is_mutant(self) -> bool:
        return self.mutant_of is not None

    @property
    def passed(self) -> bool:
        """A claim passes when consistent; a mutant passes when it is refuted (violated)."""
        return self.verdict == ("violated" if self.is_mutant else "consistent")

    def headline(self) -> str:
        """The one number a reader looks at first, as the claim's kind words it (fitted deviation, tightness,
        final distance, exceedance frequency): the kind's ``headline`` hook (boundlab.kinds)."""
        from boundlab.kinds import kind_of

        return kind_of(self.kind).headline(self)

    def to_dict(self) -> dict[str, Any]:
        return _finite(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)


def _finite(value: Any) -> Any:
    """JSON has no inf/NaN, and numeric fields hold numbers or null: both become null. An infinite value
    means "unbounded" (an interval end the data cannot bound, a resolution no deviation reaches, an excess over
    a zero tolerance band); the field's meaning is in docs/statistics.md."""
    if isinstance(value, float):
        return None if not math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
