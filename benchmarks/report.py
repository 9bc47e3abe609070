"""What a benchmark answers (sections of figures, comparisons and checks) and the markdown
of docs/benchmarks.md made from them. Pure: no measuring, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from benchmarks.machine import Machine
from benchmarks.stats import Summary, ratio


@dataclass(frozen=True)
class Check:
    """One target: what was measured against what was asked, and whether it holds."""

    label: str
    measured: str
    target: str
    passed: bool

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "MISS"


@dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""


@dataclass(frozen=True)
class Comparison:
    """A subject against its same-run baseline; a target bounds the ratio of the medians
    (without one, the comparison is shown for information)."""

    label: str
    subject: Summary
    baseline: Summary
    max_ratio: float | None = None

    @property
    def ratio(self) -> float:
        return ratio(self.subject.p50, self.baseline.p50)

    def check(self) -> Check | None:
        if self.max_ratio is None:
            return None
        return Check(
            label=f"{self.label}: p50 ratio",
            measured=format_ratio(self.ratio),
            target=f"≤ {format_ratio(self.max_ratio)}",
            passed=self.ratio <= self.max_ratio,
        )


@dataclass
class Section:
    """One benchmark's part of the report."""

    title: str
    method: str
    tables: list[Table] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class Report:
    machine: Machine
    sections: Sequence[Section]
    seconds: float
    command: str = "make bench"


def format_ms(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.2f}"


def format_ratio(value: float) -> str:
    return f"{value:.2f}x"


def checks_of(comparisons: Sequence[Comparison]) -> list[Check]:
    return [check for item in comparisons if (check := item.check()) is not None]


def comparison_table(
    comparisons: Sequence[Comparison], subject: str, baseline: str, unit: str = "ms"
) -> Table:
    """Subject and baseline side by side: p50, p99 and the IQR (spread), the ratio of the
    medians, the target and the verdict."""
    rows = []
    for item in comparisons:
        check = item.check()
        rows.append(
            (
                item.label,
                format_ms(item.subject.p50),
                format_ms(item.subject.p99),
                format_ms(item.subject.iqr),
                format_ms(item.baseline.p50),
                format_ms(item.baseline.p99),
                format_ms(item.baseline.iqr),
                format_ratio(item.ratio),
                check.target if check else "(none)",
                f"**{check.verdict}**" if check else "",
            )
        )
    headers = (
        "",
        f"{subject} p50 ({unit})",
        "p99",
        "IQR",
        f"{baseline} p50 ({unit})",
        "p99",
        "IQR",
        "ratio p50",
        "target",
        "result",
    )
    return Table(headers, rows)


def render_table(table: Table) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    lines = [table.caption, ""] if table.caption else []
    lines += [line(table.headers), line(["---"] * len(table.headers))]
    lines += [line(row) for row in table.rows]
    return [*lines, ""]


def _checks_table(checks: Sequence[Check]) -> Table:
    return Table(
        ("check", "measured", "target", "result"),
        [(c.label, c.measured, c.target, f"**{c.verdict}**") for c in checks],
    )


def render_machine(machine: Machine) -> list[str]:
    rows = [
        ("date (UTC)", machine.date_utc),
        ("CPU", machine.cpu_model),
        ("cores", f"{machine.cores} logical ({machine.usable_cores} usable by this process)"),
        ("memory", f"{machine.memory_gib:.1f} GiB"),
        ("load average at start", machine.load_average),
        ("Python", machine.python),
        ("OS", machine.platform),
        ("packages", ", ".join(f"{name} {version}" for name, version in machine.packages)),
    ]
    return render_table(Table(("", ""), rows))


def render_report(report: Report) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{report.command}` (`benchmarks/run.py`) in {report.seconds:.0f} s. "
        "Every figure is compared with a baseline measured in the same run, the two "
        "interleaved, because the machine is shared and noisy: read the ratios, not the "
        "absolute times. p50/p99 are percentiles over all repetitions; IQR (p75 - p25) is "
        "the spread.",
        "",
        "## Machine",
        "",
        *render_machine(report.machine),
        "## Summary",
        "",
    ]
    summary = [
        Check(f"{section.title}: {c.label}", c.measured, c.target, c.passed)
        for section in report.sections
        for c in section.checks
    ]
    lines += render_table(_checks_table(summary)) if summary else ["No targets checked.", ""]
    for section in report.sections:
        lines += [f"## {section.title}", "", section.method.strip(), ""]
        for table in section.tables:
            lines += render_table(table)
        if section.checks and not any("result" in table.headers for table in section.tables):
            lines += render_table(_checks_table(section.checks))
        lines += [f"- {note}" for note in section.notes]
        if section.notes:
            lines.append("")
        lines += [f"_({section.seconds:.0f} s)_", ""]
    return "\n".join(lines).rstrip() + "\n"
