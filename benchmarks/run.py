"""`make bench`: run the registered benchmarks and write docs/benchmarks.md.

    python -m benchmarks.run                    # all of them; writes docs/benchmarks.md
    python -m benchmarks.run customer_latency   # only those named; the report goes to stdout
    python -m benchmarks.run --quick            # few repetitions, to try a change; stdout
    python -m benchmarks.run imports --rows 20000   # the bulk import at another size

`--output PATH` writes the report there in any case. A missed target is a finding, not a
failure: the exit status is 1 only when a benchmark could not run.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.context import Context
from benchmarks.machine import describe_machine
from benchmarks.report import Check, Report, Section, render_report
from devtools.dynamodb_local import ROOT

# Each name is a module benchmarks/<name>.py with `run(context: Context) -> Section`.
BENCHMARKS = (
    "cold_start",
    "customer_latency",
    "dynamodb_calls",
    "loyalty",
    "batch_ingestion",
    "segments",
    "audit",
    "analytics",
    "rewards",
    "campaigns",
    "merge",
    "imports",
)
REPORT = ROOT / "docs" / "benchmarks.md"

Benchmark = Callable[[Context], Section]


def load(name: str) -> Benchmark:
    entry: Benchmark = importlib.import_module(f"benchmarks.{name}").run
    return entry


def _failed(name: str, error: BaseException) -> Section:
    return Section(
        title=name,
        method="The benchmark failed before it could answer.",
        checks=[Check("ran to the end", f"{type(error).__name__}: {error}", "no error", False)],
    )


def run_benchmarks(names: Sequence[str], context: Context) -> tuple[list[Section], bool]:
    sections = []
    ok = True
    try:
        for name in names:
            print(f"{name}:", file=sys.stderr, flush=True)
            started = time.perf_counter()
            try:
                section = load(name)(context)
            except Exception as error:  # noqa: BLE001 - report it and run the others
                traceback.print_exc()
                section, ok = _failed(name, error), False
            section.seconds = time.perf_counter() - started
            sections.append(section)
    finally:
        context.close()
    return sections, ok


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="few repetitions")
    parser.add_argument("--output", type=Path, help="write the report here")
    parser.add_argument(
        "--rows", type=int, help="rows of the bulk import's file (imports; default 100,000)"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    arguments = parser.parse_args(argv)
    unknown = sorted(set(arguments.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"no benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _arguments(argv)
    if arguments.list:
        print("\n".join(BENCHMARKS))
        return 0
    names = arguments.names or list(BENCHMARKS)
    output = arguments.output
    if output is None and not arguments.names and not arguments.quick:
        output = REPORT
    machine = describe_machine()
    started = time.perf_counter()
    sections, ok = run_benchmarks(names, Context(quick=arguments.quick, rows=arguments.rows))
    command = (
        "make bench"
        if output == REPORT
        else "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:])
    )
    report = Report(machine, sections, time.perf_counter() - started, command.strip())
    text = render_report(report)
    if output is None:
        print(text)
    else:
        output.write_text(text)
        print(f"wrote {output}", file=sys.stderr)
    for section in sections:
        for check in section.checks:
            print(
                f"{check.verdict}  {section.title}: {check.label}: {check.measured}",
                file=sys.stderr,
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
