"""Array backends: the namespace a simulation computes with, and the way results come back to NumPy.

Solvers are written against the Python array API; NumPy runs by default, CuPy on a GPU, and array-api-strict
proves on any machine that the code does not lean on NumPy-only behaviour.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from boundlab.errors import UsageError

BACKENDS: tuple[str, ...] = ("numpy", "cupy", "array-api-strict")


def namespace(name: str) -> Any:
    """The array namespace of backend ``name`` (raises UsageError when it is unknown or unavailable)."""
    if name == "numpy":
        import array_api_compat.numpy as xp

        return xp
    if name == "array-api-strict":
        try:
            import array_api_strict as xp
        except ImportError as exc:  # pragma: no cover - dev extra
            raise UsageError("backend 'array-api-strict' needs: pip install array-api-strict") from exc
        return xp
    if name == "cupy":
        try:
            import array_api_compat.cupy as xp
            import cupy  # noqa: F401

            if cupy.cuda.runtime.getDeviceCount() < 1:
                raise UsageError("backend 'cupy' needs a CUDA GPU; none was found.")
        except ImportError as exc:
            raise UsageError(
                "backend 'cupy' needs CuPy and a CUDA GPU: pip install 'boundlab[cupy]'."
            ) from exc
        except Exception as exc:
            if isinstance(exc, UsageError):
                raise
            raise UsageError(f"backend 'cupy' is not usable here: {exc}") from exc
        return xp
    raise UsageError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}.")


def to_numpy(x: Any) -> np.ndarray:
    """Copy an array of any supported backend to a NumPy float or integer array on the host."""
    if isinstance(x, np.ndarray | np.generic | int | float | bool):
        return np.asarray(x)
    if hasattr(x, "get") and type(x).__module__.startswith("cupy"):
        return np.asarray(x.get())
    try:
        return np.from_dlpack(x)
    except (TypeError, AttributeError, RuntimeError, BufferError):
        return np.asarray(x)
