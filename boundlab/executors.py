"""Executors: where units of work run. Serial, local processes, or a Dask cluster.

Each executor yields (index, record) as units finish; the caller stores every record at once, so an
interrupted run keeps what had finished. Units carry their own seeds, so the executor never changes a number.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from boundlab.errors import UsageError
from boundlab.store import UnitRecord

EXECUTORS: tuple[str, ...] = ("serial", "processes", "dask")

Task = Any
Runner = Callable[[Task], UnitRecord]


class SerialExecutor:
    name = "serial"

    def map(self, fn: Runner, tasks: Sequence[Task]) -> Iterator[tuple[int, UnitRecord]]:
        for i, task in enumerate(tasks):
            yield i, fn(task)

    def close(self) -> None:
        pass


class ProcessExecutor:
    name = "processes"

    def __init__(self, workers: int | None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool: cf.ProcessPoolExecutor | None = None

    def map(self, fn: Runner, tasks: Sequence[Task]) -> Iterator[tuple[int, UnitRecord]]:
        if not tasks:
            return
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        futures = {self._pool.submit(fn, task): i for i, task in enumerate(tasks)}
        try:
            for future in cf.as_completed(futures):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor:
    name = "dask"

    def __init__(self, scheduler: str | None, workers: int | None) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:
            raise UsageError("executor 'dask' needs: pip install 'boundlab[dask]'.") from exc
        self._cluster = None
        if scheduler:
            try:
                self._client = Client(scheduler, timeout="20s")
            except (OSError, ValueError, TimeoutError) as exc:
                raise UsageError(f"Cannot reach the Dask scheduler at {scheduler!r}: {exc} (is it running? start "
                                 "one with `dask scheduler`, or leave out --scheduler for a local cluster).") from exc
        else:
            self._cluster = LocalCluster(
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self._client = Client(self._cluster)

    def map(self, fn: Runner, tasks: Sequence[Task]) -> Iterator[tuple[int, UnitRecord]]:
        from dask.distributed import as_completed

        if not tasks:
            return
        futures = self._client.map(fn, list(tasks), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in as_completed(futures):
                yield index[future.key], future.result()
        finally:
            self._client.cancel(futures)

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(name: str, scheduler: str | None = None, workers: int | None = None) -> Any:
    if workers is not None and workers < 1:
        raise UsageError(f"workers must be >= 1, got {workers}.")
    if scheduler and name != "dask":
        raise UsageError("--scheduler is only meaningful with --executor dask.")
    if name == "serial":
        return SerialExecutor()
    if name == "processes":
        return ProcessExecutor(workers)
    if name == "dask":
        return DaskExecutor(scheduler, workers)
    raise UsageError(f"executor must be one of {', '.join(EXECUTORS)}, got {name!r}.")
