"""Exceptions that separate a user's mistake (exit code 2) from a failed computation."""

from __future__ import annotations


class BoundLabError(Exception):
    """Base class of every error BoundLab raises on purpose."""


class UsageError(BoundLabError, ValueError):
    """Bad input: an unknown claim, an invalid option or parameter. The CLI exits with code 2."""


class MeasurementError(BoundLabError):
    """A simulation returned something unusable (NaN, wrong shape); never turned into a verdict."""


class StoreError(BoundLabError):
    """The results store failed during a run (a full disk, a file made read-only). The CLI exits with code 1;
    every unit finished before the failure is kept."""


class RunError(BoundLabError):
    """The run could not go on (a worker process died twice, the Dask scheduler went away). The CLI exits with
    code 1; every unit finished before is kept in the store."""
