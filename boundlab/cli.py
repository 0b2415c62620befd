"""The ``boundlab`` command: list, verify and report.

Exit codes: 0 when every selected claim is consistent (and, with --mutants, every mutant violated); 1 when a
claim is violated, inconclusive or failed, or a mutant survived; 2 on a usage or input error.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from boundlab.backends import BACKENDS
from boundlab.errors import RunError, StoreError, UsageError
from boundlab.executors import EXECUTORS
from boundlab.experiments import FIDELITIES
from boundlab.results import Result
from boundlab.validation import SQLITE_MAX_INT


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def _seed(text: str) -> int:
    value = _nonnegative_int(text)
    if value > SQLITE_MAX_INT:
        raise argparse.ArgumentTypeError(f"must be at most 2^63 - 1, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    value = _nonnegative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def _run_options(p: argparse.ArgumentParser, default_fidelity: str) -> None:
    p.add_argument("selectors", nargs="*", metavar="SELECTOR",
                   help="claim id, paper key or glob (default: every claim)")
    p.add_argument("--fidelity", choices=FIDELITIES, default=default_fidelity,
                   help=f"sweep size (default: {default_fidelity})")
    p.add_argument("--seed", type=_seed, default=0, help="root seed in [0, 2^63 - 1] (default: 0)")
    p.add_argument("--executor", choices=EXECUTORS, default="serial", help="where units run (default: serial)")
    p.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler address (default: a LocalCluster)")
    p.add_argument("--workers", type=_positive_int, help="worker processes (default: all cores)")
    p.add_argument("--backend", choices=BACKENDS, default="numpy", help="array backend (default: numpy)")
    p.add_argument("--store", metavar="PATH",
                   help="results store (default: $BOUNDLAB_STORE or .boundlab/results.db)")
    p.add_argument("--no-cache", action="store_true", help="recompute finished units instead of reusing them")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (the rule that was broken and where to read more), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _version_text() -> str:
    from boundlab.version import __version__, code_version, git_commit

    return f"boundlab {__version__} (commit {git_commit()}, code {code_version()})"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="boundlab",
        description="Check the bounds stated in machine-learning theory papers, numerically and with "
        "calibrated statistics. A check can refute a theorem, never prove it.",
    )
    parser.add_argument("--version", action="version", version=_version_text())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    p_list = sub.add_parser("list", help="list papers and claims")
    p_list.add_argument("selectors", nargs="*", metavar="SELECTOR")
    p_list.add_argument("--json", action="store_true", help="machine-readable output")
    p_verify = sub.add_parser("verify", help="run the checks and print verdicts")
    _run_options(p_verify, "quick")
    p_verify.add_argument("--mutants", action="store_true", help="also run every claim's mutants")
    p_verify.add_argument("--json", action="store_true", help="one JSON object per claim or mutant per line")
    p_report = sub.add_parser("report", help="write one PDF per paper and an index")
    _run_options(p_report, "standard")
    p_report.add_argument("-o", "--output", default="reports", metavar="DIR", help="output folder")
    p_report.add_argument("--calibration-seeds", type=_positive_int, default=200,
                          help="seeds for the calibration table in the index (default: 200)")
    return parser


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "fidelity": args.fidelity,
        "seed": args.seed,
        "executor": args.executor,
        "scheduler": args.scheduler,
        "workers": args.workers,
        "backend": args.backend,
        "store": args.store,
        "cache": not args.no_cache,
        "progress": not args.quiet,
    }


def print_table(results: Sequence[Result], out: Any = sys.stdout) -> None:
    labels = [("  " + r.claim.split("~", 1)[1] + " (mutant)") if r.is_mutant else r.claim for r in results]
    width = max((len(label) for label in labels), default=10) + 1
    kinds = max((len(r.kind) for r in results), default=6)
    for r, label in zip(results, labels, strict=True):
        mark = "ok " if r.passed else "!! "
        print(f"{mark}{label:<{width}} {r.kind:<{kinds}} {r.verdict:<12} {r.headline():<54} {r.runtime_s:6.1f}s",
              file=out)
        if not r.passed:
            print(f"     {r.reason}", file=out)
        if r.weak_check:
            print("     weak check: none of this claim's mutants was refuted", file=out)
    claims = [r for r in results if not r.is_mutant]
    mutants = [r for r in results if r.is_mutant]
    line = f"{len(claims)} claim(s): {sum(r.verdict == 'consistent' for r in claims)} consistent"
    others = {v: sum(r.verdict == v for r in claims) for v in ("violated", "inconclusive", "error")}
    line += "".join(f", {n} {v}" for v, n in others.items() if n)
    if mutants:
        line += f"; {len(mutants)} mutant(s): {sum(r.verdict == 'violated' for r in mutants)} refuted"
        survived = sum(r.verdict != "violated" for r in mutants)
        line += f", {survived} survived" if survived else ""
    print(line + ".", file=out)


def cmd_list(args: argparse.Namespace) -> int:
    from boundlab.registry import Registry
    from boundlab.statements import latex_names

    registry = Registry.load()
    claims = registry.select(args.selectors, allow_broken=True)
    papers: dict[str, dict[str, Any]] = {}
    for c in claims:
        entry = papers.setdefault(c.paper.key, {**c.paper.to_dict(), "claims": []})
        entry["claims"].append(
            {
                "id": c.id,
                "kind": c.kind,
                "statement": {"latex": c.statement.latex(latex_names(c.module)), "text": c.statement.text(),
                              "provenance": c.provenance.status, "source": c.provenance.source},
                "description": c.description,
                "mutants": [{"id": f"{c.id}~{m.name}", "text": m.statement.text(), "description": m.description}
                            for m in c.mutants],
            }
        )
    if args.json:
        print(json.dumps({"papers": list(papers.values()), "broken": registry.broken_list()}, indent=2))
        return 0
    width = max((len(c["id"]) for p in papers.values() for c in p["claims"]), default=40) + 2
    for p in papers.values():
        print(f"{p['key']}: {p['title']}")
        print(f"    {', '.join(p['authors'])}. {p['venue']} {p['year']}. arXiv:{p['arxiv']}")
        for c in p["claims"]:
            print(f"  {c['id']:<{width}} {c['kind']:<12} {c['statement']['provenance']:<14} "
                  f"{len(c['mutants'])} mutant(s)")
            print(f"      {c['statement']['text']}")
        print()
    for b in registry.broken_list():
        print(f"BROKEN {b['module']} ({b['file']}): {b['error']}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from boundlab.engine import verify

    results = verify(args.selectors, mutants=args.mutants, **_options(args))
    status = 0 if all(r.passed for r in results) else 1
    try:
        if args.json:
            for r in results:
                print(r.to_json())
        else:
            print_table(results)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (`verify ... | head -1`): the exit code still tells how the run went
        _quiet_stdout()
        return status
    return status


def cmd_report(args: argparse.Namespace) -> int:
    from boundlab.report import write_reports

    paths = write_reports(args.selectors, args.output, calibration_seeds=args.calibration_seeds,
                          **_options(args))
    for path in paths:
        print(path)
    return 0


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush into a closed pipe does not raise again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every clean-up (the worker pool, the store) runs."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return {"list": cmd_list, "verify": cmd_verify, "report": cmd_report}[args.command](args)
    except UsageError as exc:
        print(f"boundlab: error: {exc}", file=sys.stderr)
        return 2
    except (StoreError, RunError) as exc:
        print(f"boundlab: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print("boundlab: " + ("terminated" if isinstance(exc, Terminated) else "interrupted")
              + "; finished units are kept in the store and reused by the next run.", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except BrokenPipeError:
        # the reader went away (`boundlab list | head`): stop quietly, as Unix tools do; point stdout at
        # /dev/null so the interpreter's final flush does not raise again
        _quiet_stdout()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
