"""Errors, findings and exit codes shared by every part of dataprep.

Library code raises these and never prints or exits; the CLI maps them to messages and
`ExitCode`s. An error renders as one line: ``file: record: problem. hint``.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


class ExitCode(enum.IntEnum):
    """Process exit codes of the `dataprep` CLI (documented in every command's --help)."""

    OK = 0
    FINDINGS = 1  # validation found problems at `error` severity
    USAGE = 2  # bad command line (Click's own code, kept by Typer)
    INPUT = 3  # input missing, unreadable or unparseable
    OUTPUT = 4  # output refused: exists, unsafe path, not writable


class DataprepError(Exception):
    """Base of every error dataprep raises on purpose."""

    exit_code: ExitCode = ExitCode.INPUT


class InputError(DataprepError, ValueError):
    """Input that cannot be read: names the file, the record, the problem and the fix.

    Args:
        path: the file (or folder) at fault.
        problem: what is wrong, with the offending value where there is one.
        record: where in the file: ``"line 12"``, a JSON pointer such as
            ``"annotations[12].bbox"``, or an XML element path.
        hint: how to fix it.
        line: 1-based line number, when the format has lines (used by CI annotations).
    """

    exit_code = ExitCode.INPUT

    def __init__(
        self,
        path: str | Path | None,
        problem: str,
        *,
        record: str | None = None,
        hint: str | None = None,
        line: int | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        self.record = record if record is not None else (f"line {line}" if line else None)
        self.hint = hint
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [p for p in (self.path, self.record) if p]
        text = ": ".join([*parts, self.problem])
        if self.hint:
            text = f"{text.rstrip('.')}. {self.hint}"
        return text

    def to_finding(self, code: str = "unreadable-input") -> Finding:
        """The same problem as an `error` finding (for ``on_error="collect"``)."""
        return Finding(
            code=code,
            severity=Severity.ERROR,
            message=self.problem,
            file=self.path,
            record=self.record,
            line=self.line,
            hint=self.hint,
        )


class UsageError(DataprepError, ValueError):
    """Arguments that cannot work together, or an unknown option value."""

    exit_code = ExitCode.USAGE


class OutputError(DataprepError):
    """Output refused: the destination exists, a path escapes it, or it is not writable."""

    exit_code = ExitCode.OUTPUT


class Severity(str, enum.Enum):
    """How bad a finding is; only `error` makes `validate` exit non-zero."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Finding:
    """One problem found in a dataset, with a stable kebab-case `code`.

    Ids and locations are optional: a finding names as much as is known
    (`file` and `line` for line-based formats, `record` as a JSON pointer or XML path).
    """

    code: str
    severity: Severity
    message: str
    image_id: int | None = None
    annotation_id: int | None = None
    file: str | None = None
    record: str | None = None
    line: int | None = None
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (severity as its string value)."""
        out = asdict(self)
        out["severity"] = str(self.severity)
        return out
