"""Worker processes never outlive the run, and a worker that dies is survived: through the real CLI with the
processes executor on the synthetic slow experiment (a second per unit at standard fidelity, 12 s of work for
two workers: long enough to be caught running on a loaded machine)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT

SLOW = "synthetic-calibration/slow-mean-at-most-one"


def _start(store: Path) -> subprocess.Popen:
    env = {**os.environ, "BOUNDLAB_EXTRA_MODULES": "boundlab.calibration"}
    return subprocess.Popen([sys.executable, "-m", "boundlab", "verify", SLOW, "--fidelity", "standard",
                             "--executor", "processes",
                             "--workers", "2", "--quiet", "--store", str(store)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,pgid="], capture_output=True, text=True).stdout
    rows = [tuple(int(v) for v in line.split()) for line in out.splitlines() if line.strip()]
    return [p for p, _, group in rows if group == pid and p != pid]  # the session started for the run


def _workers(pid: int) -> list[int]:
    found = []
    for child in _descendants(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "spawn_main" in cmdline:
            found.append(child)
    return found


def _wait_for(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def _gone(pid: int) -> bool:
    return not [p for p in _descendants(pid) if Path(f"/proc/{p}").exists() and
                "Z" not in Path(f"/proc/{p}/stat").read_text().split()[2]]


def test_killed_worker_is_survived(tmp_path: Path) -> None:
    run = _start(tmp_path / "r.db")
    assert _wait_for(lambda: len(_workers(run.pid)) >= 2, 60)
    time.sleep(1.0)
    os.kill(_workers(run.pid)[0], signal.SIGKILL)
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err.decode()
    assert b"consistent" in out and b"Traceback" not in err


def test_term_of_the_main_process_stops_its_workers(tmp_path: Path) -> None:
    run = _start(tmp_path / "r.db")
    assert _wait_for(lambda: len(_workers(run.pid)) >= 2, 60)
    time.sleep(1.0)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 143, err.decode()
    assert b"Traceback" not in err and b"terminated" in err
    assert _wait_for(lambda: _gone(run.pid), 20), _descendants(run.pid)


def test_kill_9_of_the_main_process_does_not_orphan_workers(tmp_path: Path) -> None:
    run = _start(tmp_path / "r.db")
    assert _wait_for(lambda: len(_workers(run.pid)) >= 2, 60)
    os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=30)
    assert _wait_for(lambda: _gone(run.pid), 20), _descendants(run.pid)
