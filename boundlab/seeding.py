"""Seeds: one root seed, spawned by experiment, sweep point and replicate block with numpy's SeedSequence.

The spawn key depends only on names and parameter values, never on execution order, so results are the
same on every executor and for any number of workers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np


def canonical(params: Mapping[str, Any]) -> str:
    """A canonical JSON text of sweep parameters (sorted keys, plain floats/ints)."""

    def plain(v: Any) -> Any:
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, (list, tuple)):
            return [plain(u) for u in v]
        return v

    return json.dumps({k: plain(v) for k, v in params.items()}, sort_keys=True)


def stable_int(text: str) -> int:
    """A 64-bit integer derived from text, identical across processes and Python versions."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def unit_seed(root: int, scope: str, params: Mapping[str, Any], block: int) -> np.random.SeedSequence:
    """The SeedSequence of one unit of work: root seed, then (scope, point, block) as the spawn key."""
    return np.random.SeedSequence(int(root), spawn_key=(stable_int(scope), stable_int(canonical(params)), block))


def unit_rng(root: int, scope: str, params: Mapping[str, Any], block: int) -> np.random.Generator:
    return np.random.default_rng(unit_seed(root, scope, params, block))
