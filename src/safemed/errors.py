"""The few user-facing exceptions of safemed.

Each one carries a message written for the person at the terminal: it names the file, line and
field of bad input, the URL of an unreachable endpoint, or the valid choices for an unknown name.
The CLI turns them into a clean one-line error and a non-zero exit code, without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class SafemedError(Exception):
    """Base class: an error the user can act on."""

    exit_code = 1


class UnknownNameError(SafemedError, KeyError):
    """A benchmark, backend, judge or attack name that is not registered."""

    def __init__(self, kind: str, name: str, valid: Iterable[str]) -> None:
        self.kind, self.name, self.valid = kind, name, sorted(set(valid))  # callers may join overlapping lists
        super().__init__(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(self.valid)}")

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return str(self.args[0])


class DataError(SafemedError):
    """Malformed input data: names the file, the line (or row) and the field."""

    def __init__(self, path: str, line: int | None, field: str | None, problem: str) -> None:
        self.path, self.line, self.field, self.problem = path, line, field, problem
        where = path if line is None else f"{path}:{line}"
        what = f" field {field!r}:" if field else ""
        super().__init__(f"{where}:{what} {problem}")


class ConfigError(SafemedError):
    """A bad option or combination of options, or a missing data folder."""


class BackendError(SafemedError):
    """A model endpoint failed in a way retries cannot fix (unreachable, 4xx, retries exhausted)."""


class BudgetExceeded(SafemedError):
    """The --max-cost or --max-tokens cap was reached; the run stopped cleanly and can resume."""

    exit_code = 3
