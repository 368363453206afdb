"""Shared CLI rendering: rich tables, ``--json`` output, errors -> messages + exit codes.

Command modules stay thin (options, one API call); what a command shows people lives here
(`print_conversion`, `print_report`) or in a ``_render_<command>.py`` beside it.
"""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from dataprep.errors import DataprepError, ExitCode, UsageError

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 findings at error severity; 2 usage error; "
    "3 input missing or unreadable; 4 output refused (exists, unsafe path)."
)


def console(stderr: bool = False):
    """A rich Console on stdout (or stderr)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


@contextlib.contextmanager
def guard(*, crash: str | None = None) -> Iterator[None]:
    """Turn dataprep errors into a one-line message on stderr and the matching exit code.

    Args:
        crash: what the command is doing (``"validating data/"``): any other exception is then
            an internal error, printed with its traceback, exiting 3 (`ExitCode.INPUT`), so a
            crash never reads as "findings" (exit 1) in CI.
    """
    try:
        yield
    except DataprepError as err:
        sys.stderr.write(f"error: {err}\n")
        raise typer.Exit(int(err.exit_code)) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise typer.Exit(130) from None
    except Exception as err:
        if crash is None or isinstance(err, typer.Exit | typer.Abort):
            raise
        traceback.print_exc(file=sys.stderr)
        sys.stderr.write(f"error: internal error while {crash}: {err!r}. Please report it.\n")
        raise typer.Exit(int(ExitCode.INPUT)) from None


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


def status(message: str) -> contextlib.AbstractContextManager[Any]:
    """A rich spinner on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        return contextlib.nullcontext()
    return console(stderr=True).status(message)


def write_json(path: Path, data: Any) -> None:
    """Write `data` as indented, key-sorted JSON to the file `path` (``--report``)."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def key_values(items: list[str] | None, flag: str) -> dict[str, str] | None:
    """``["a=1,b=2", "c=3"]`` -> ``{"a": "1", "b": "2", "c": "3"}`` (None when no items).

    Raises:
        UsageError: an item without ``=`` or with an empty side.
    """
    if not items:
        return None
    out = {}
    for item in items:
        for part in item.split(","):
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise UsageError(f"{flag} {part!r}: expected KEY=VALUE")
            out[key.strip()] = value.strip()
    return out


def key_floats(items: list[str] | None, flag: str) -> dict[str, float] | None:
    """`key_values` with float values.

    Raises:
        UsageError: as `key_values`, or a value that is not a number.
    """
    pairs = key_values(items, flag)
    if pairs is None:
        return None
    try:
        return {k: float(v) for k, v in pairs.items()}
    except ValueError as err:
        raise UsageError(f"{flag}: {err}") from None


# -- convert --------------------------------------------------------------------------------------


def dry_run_data(source: Any, losses: list[Any]) -> dict[str, Any]:
    """The ``convert --dry-run`` report: what was read and what the target would drop."""
    return {
        "source_format": source.format,
        "notes": source.notes,
        "findings": [f.to_dict() for f in source.findings],
        "dry_run": True,
        "losses": [loss.to_dict() for loss in losses],
    }


def print_conversion(src: Path, dst: Path, to: str, data: dict[str, Any]) -> None:
    """Render a ``convert`` report (`ConvertResult.to_dict` or `dry_run_data`) for people."""
    out = console()
    losses = data["losses"] if data.get("dry_run") else data["written"]["losses"]
    if data.get("dry_run"):
        out.print(f"[bold]dry run[/]: {src} ({data['source_format']}) -> {to}: nothing written")
    else:
        w = data["written"]
        out.print(
            f"[green]wrote[/] {dst} ({to}): {w['images']:,} images, {w['annotations']:,} annotations, "
            f"{w['categories']:,} classes; {w['images_transferred']:,} image files placed"
            + (f", [yellow]{w['images_missing']:,} image files not found[/]" if w["images_missing"] else "")
        )
    if losses:
        rows = [[x["code"], x["count"], x["unit"], ", ".join(map(str, x["examples"])), x["message"]] for x in losses]
        out.print(table(f"Not kept by {to}", ["what", "count", "unit", "example ids", "detail"], rows))
    else:
        out.print("lossless: the target holds everything in the source")
    for finding in data["findings"]:
        where = ": ".join(str(p) for p in (finding["file"], finding["record"]) if p)
        out.print(f"[red]skipped[/] {where}: {finding['message']}")
    for note in data["notes"]:
        out.print(f"[dim]note: {note}[/]")


# -- validate -------------------------------------------------------------------------------------

_STYLE = {"error": "red", "warning": "yellow", "info": "blue"}
_TABLE_LIMIT = 50  # findings listed per severity in the table when --max-findings is not given


def emit_report(report: Any, *, junit: Path | None, as_json: bool, github: bool, max_findings: int | None) -> None:
    """Write a validate `Report` where asked, then exit 1 when it has error findings.

    JUnit XML goes to the file `junit`; stdout gets JSON, GitHub annotations or tables.
    """
    if junit is not None:
        junit.write_text(report.to_junit(max_findings), encoding="utf-8")
    if as_json:
        sys.stdout.write(report.to_json(max_findings) + "\n")
    elif github:
        sys.stdout.write(report.to_github(max_findings))
    else:
        print_report(report, max_findings)
    exit_with(report.exit_code)


def print_report(report: Any, max_findings: int | None) -> None:
    """Render a validate `Report` for people: findings per severity, failing checks, diff, verdict."""
    out = console()
    s = report.summary
    out.print(
        f"[bold]{report.path or 'dataset'}[/] ({report.format or 'in memory'}): {s['images']:,} images, "
        f"{s['annotations']:,} annotations, {s['categories']:,} classes"
        + (f", splits {', '.join(f'{k} {v:,}' for k, v in s['splits'].items())}" if s["splits"] else "")
    )
    findings = report.findings
    shown = 0
    for level in ("error", "warning", "info"):
        group = findings[findings["severity"] == level]
        if not len(group):
            continue
        limit = _TABLE_LIMIT if max_findings is None else max(max_findings - shown, 0)
        rows = [[f.code, _where(f), f.message] for f in _head(group, limit)]
        shown += len(rows)
        title = f"[{_STYLE[level]}]{len(group):,} {level}{'s' if len(group) != 1 and level != 'info' else ''}[/]"
        if len(rows) < len(group):
            title += f" ({len(group) - len(rows):,} not listed)"
        out.print(table(title, ["code", "where", "message"], rows) if rows else title)
    failing = [c for c in report.checks if c["count"]]
    if failing:
        rows = [[c["code"], c["severity"], c["count"], c["description"]] for c in failing]
        out.print(table("Findings by check", ["code", "severity", "count", "check"], rows))
    if report.diff:
        d = report.diff
        rows = [[c["name"], c["base"], c["head"], f"+{c['added']:,}", f"-{c['removed']:,}"] for c in d["classes"]]
        title = f"Change from {d['base']}: +{d['images_added']:,} / -{d['images_removed']:,} images"
        out.print(table(title, ["class", "base", "head", "added", "removed"], rows))
    for note in report.notes:
        out.print(f"[dim]note: {note}[/]")
    c = report.counts
    if c["error"]:
        out.print(f"[red bold]failed[/]: {c['error']:,} errors, {c['warning']:,} warnings, {c['info']:,} info")
    else:
        out.print(f"[green bold]passed[/]: 0 errors, {c['warning']:,} warnings, {c['info']:,} info")


def _head(group: Any, limit: int) -> Any:
    from dataprep.validation.report import Report

    return Report(group.head(limit), [], {}).iter_findings()


def _where(f: Any) -> str:
    place = ":".join(str(x) for x in (f.file, f.line) if x)
    if f.record:
        place = f"{place} {f.record}".strip()
    if not place:
        ids = [("image", f.image_id), ("annotation", f.annotation_id)]
        place = " ".join(f"{name} {value}" for name, value in ids if value is not None)
    return place
