"""Executors: where units of work run. Serial, local processes, or a Dask cluster.

Each executor yields (index, record) as units finish; the caller stores every record at once, so an
interrupted run keeps what had finished. Units carry their own seeds, so the executor never changes a number.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from boundlab.errors import RunError, UsageError
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


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: a daemon thread ends this worker as soon as the main process is gone (kill -9 of the
    main process cannot run its clean-up, so the workers watch for it themselves)."""
    import time as _time

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(0)
            _time.sleep(0.5)

    threading.Thread(target=watch, daemon=True).start()


class ProcessExecutor:
    """Local worker processes (spawned). A pool broken by a worker that died is rebuilt once and the unfinished
    units resubmitted; a second break ends the run with :class:`RunError`. ``close`` stops the workers on any
    exit, interrupts included, and the workers end themselves if the main process is killed."""

    name = "processes"

    def __init__(self, workers: int | None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool: cf.ProcessPoolExecutor | None = None

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        return cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=context, initializer=_exit_with_parent,
                                      initargs=(os.getpid(),))

    def map(self, fn: Runner, tasks: Sequence[Task]) -> Iterator[tuple[int, UnitRecord]]:
        pending = dict(enumerate(tasks))
        for attempt in range(2):
            if not pending:
                return
            if self._pool is None:
                self._pool = self._new_pool()
            futures = {self._pool.submit(fn, task): i for i, task in pending.items()}
            try:
                for future in cf.as_completed(futures):
                    i = futures[future]
                    record = future.result()
                    del pending[i]
                    yield i, record
            except BrokenProcessPool as exc:
                self._terminate()
                if attempt == 1:
                    raise RunError(f"a worker process died twice ({exc}); the {len(tasks) - len(pending)} units "
                                   "finished are kept, and the next run resumes from them.") from exc
            finally:
                if any(not future.done() for future in futures):
                    # abandoned (an interrupt, or the caller stopped reading): stop the workers now. Futures are
                    # not cancelled one by one: the pool's own thread marks them failed when it sees the workers
                    # gone, and a cancelled future there raises InvalidStateError in that thread (Python 3.11).
                    self._terminate()

    def _terminate(self) -> None:
        """Stop the pool's worker processes now (not after their running units)."""
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        # wait (bounded) for the pool's management thread to see the workers gone and wind down
        closer = threading.Thread(target=pool.shutdown, kwargs={"wait": True}, daemon=True)
        closer.start()
        closer.join(timeout=10.0)

    def close(self) -> None:
        self._terminate()


class DaskExecutor:
    name = "dask"

    def __init__(self, scheduler: str | None, workers: int | None) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:
            raise UsageError("executor 'dask' needs: pip install 'boundlab[dask]'.") from exc
        self._cluster = None
        if scheduler:
            # distributed logs a lost connection as tracebacks on stderr; the run reports it itself, in one line
            for name in ["distributed", *(n for n in logging.root.manager.loggerDict if n.startswith("distributed."))]:
                logging.getLogger(name).setLevel(logging.CRITICAL)
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
        from distributed.utils import CancelledError as LostWork

        if not tasks:
            return
        futures = self._client.map(fn, list(tasks), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        done = 0
        try:
            for future in as_completed(futures):
                try:
                    record = future.result()
                except (OSError, TimeoutError, cf.CancelledError, LostWork) as exc:  # the scheduler went away
                    reason = " ".join(str(exc).split())
                    raise RunError(f"the Dask scheduler was lost ({type(exc).__name__}: {reason}); the {done} units "
                                   "finished are kept, and the next run resumes from them.") from exc
                done += 1
                yield index[future.key], record
        finally:
            with contextlib.suppress(Exception):
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
