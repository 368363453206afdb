"""Shared CLI rendering: rich tables, ``--json`` output, errors -> messages + exit codes."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

import typer

from dataprep.errors import DataprepError, ExitCode

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 findings at error severity; 2 usage error; "
    "3 input missing or unreadable; 4 output refused (exists, unsafe path)."
)


def console(stderr: bool = False):
    """A rich Console on stdout (or stderr)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Turn dataprep errors into a one-line message on stderr and the matching exit code."""
    try:
        yield
    except DataprepError as err:
        sys.stderr.write(f"error: {err}\n")
        raise typer.Exit(int(err.exit_code)) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise typer.Exit(130) from None


def print_json(data: Any) -> None:
    """Write `data` as indented, key-sorted JSON to stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=_jsonable, ensure_ascii=False) + "\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


def table(title: str | None, columns: list[str], rows: list[list[Any]], *, justify_numbers: bool = True):
    """A rich Table with right-justified numeric columns."""
    from rich.table import Table

    t = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
    for i, name in enumerate(columns):
        numeric = justify_numbers and rows and all(isinstance(r[i], int | float) for r in rows)
        t.add_column(name, justify="right" if numeric else "left")
    for r in rows:
        t.add_row(*(_cell(v) for v in r))
    return t


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def exit_with(code: ExitCode) -> None:
    """Exit the command with `code` (no-op for OK)."""
    if code != ExitCode.OK:
        raise typer.Exit(int(code))
