"""Benchmarks behind `make bench`: each module measures one thing against a baseline taken in
the same run and answers a `Section` of docs/benchmarks.md.

To add one, write `benchmarks/<name>.py` with an entry function

    def run(context: Context) -> Section: ...

and add `<name>` to `BENCHMARKS` in `benchmarks/run.py`. `context.stack()` gives the shared
in-process API on DynamoDB Local (started once, on first use); `context.repeat(full, quick)`
scales repetitions for `--quick`; `timing.interleaved` times a subject and its baseline in
alternating order; `report.Comparison` and `report.Check` carry the figures, the ratio, the
target and PASS/MISS into the report. `python -m benchmarks.run <name>` runs one.
"""
