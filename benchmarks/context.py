"""What a benchmark's entry function receives: run options and shared resources."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from dataclasses import dataclass, field

from benchmarks.local_stack import LocalStack, local_stack


@dataclass
class Context:
    quick: bool = False
    rows: int | None = None
    """--rows: the size a benchmark that takes one runs at (the bulk import's file)."""
    resources: ExitStack = field(default_factory=ExitStack)
    _stack: LocalStack | None = None

    def repeat(self, full: int, quick: int) -> int:
        """How many repetitions to make: `full` normally, `quick` with --quick."""
        return quick if self.quick else full

    def stack(self) -> LocalStack:
        """The in-process API on DynamoDB Local, started on first use and shared by every
        benchmark of the run; stopped when the run ends."""
        if self._stack is None:
            self.progress("starting DynamoDB Local and the in-process API")
            self._stack = self.resources.enter_context(local_stack())
        return self._stack

    def progress(self, message: str) -> None:
        print(f"  {message}", file=sys.stderr, flush=True)

    def close(self) -> None:
        self._stack = None
        self.resources.close()
