"""The tally of the C side's script checks (http_server_check.py, runner_check.py): each check
passes or is printed, and the closing line reads like the C suites' ("N passed, N failed")."""

from __future__ import annotations

import sys


class Tally:
    def __init__(self, suite: str) -> None:
        self.suite = suite
        self.passed = 0
        self.failures: list[str] = []

    def check(self, cond: bool, what: str) -> None:
        if cond:
            self.passed += 1
        else:
            self.failures.append(what)
            print(f"  FAILED: {what}", file=sys.stderr)

    def summary(self) -> int:
        """Prints the closing line and returns the exit status."""
        print(f"{self.suite}: {self.passed} passed, {len(self.failures)} failed")
        return 1 if self.failures else 0
