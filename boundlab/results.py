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
        """The one number a reader looks at first: fitted exponent, tightness, or final distance."""
        deviation = self.details.get("deviation")
        if self.kind == "rate" and deviation:
            low, high = deviation["ci"]
            res = self.resolution["relevant"] if self.resolution else float("nan")
            return (f"deviation {deviation['estimate']:+.2f} [{low:+.2f}, {high:+.2f}] "
                    f"{_unit_short(deviation['units'])}, resolution {res:.2g}")
        if self.tightness is not None and self.details.get("op") == "==":
            return f"{self.tightness:.2g} of the tolerance used"
        if self.tightness is not None:
            return f"tightness {self.tightness:.4g}"
        if self.kind == "limit" and self.points and self.points[-1]["estimate"] is not None:
            return f"final distance {self.points[-1]['estimate']:.3g}"
        return "—"

    def to_dict(self) -> dict[str, Any]:
        return _finite(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)


def _unit_short(units: str) -> str:
    return "exponent" if units == "power" else "log-power"


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
