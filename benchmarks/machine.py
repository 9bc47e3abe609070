"""The machine a run measured on: CPU, cores, memory, Python, date."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

PACKAGES = ("boto3", "botocore", "chalice", "pynamodb", "pydantic", "aws-lambda-powertools")


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    cores: int
    usable_cores: int
    memory_gib: float
    python: str
    platform: str
    load_average: str
    date_utc: str
    packages: tuple[tuple[str, str], ...]


def cpu_model(cpuinfo: str) -> str:
    """The first `model name` in /proc/cpuinfo's text."""
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "model name" and value.strip():
            return value.strip()
    return "unknown"


def memory_gib(meminfo: str) -> float:
    """MemTotal from /proc/meminfo's text (given in kiB), in GiB."""
    for line in meminfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "MemTotal":
            return int(value.split()[0]) / (1024 * 1024)
    return 0.0


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def describe_machine(now: datetime | None = None) -> Machine:
    started = now or datetime.now(UTC)
    cpuinfo = _read("/proc/cpuinfo")
    return Machine(
        cpu_model=cpu_model(cpuinfo) if cpuinfo else platform.processor() or "unknown",
        cores=os.cpu_count() or 0,
        usable_cores=len(os.sched_getaffinity(0)),
        memory_gib=memory_gib(_read("/proc/meminfo")),
        python=f"{platform.python_implementation()} {sys.version.split()[0]}",
        platform=platform.platform(),
        load_average=" / ".join(f"{value:.2f}" for value in os.getloadavg()),
        date_utc=started.strftime("%Y-%m-%d %H:%M UTC"),
        packages=tuple((name, _version(name)) for name in PACKAGES),
    )
