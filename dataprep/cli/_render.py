"""Shared CLI rendering: rich tables, ``--json`` output, errors -> messages + exit codes.

Command modules stay thin (options, one API call); what a command shows people lives here
(`print_conversion`, `print_report`) or in a ``_render_<command>.py`` beside it.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import json
import math
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from dataprep.errors import DataprepError, ExitCode, OutputError, UsageError

# The registry's names, kept here so the CLI can list them without importing the formats (a test keeps this
# equal to dataprep.formats.FORMATS).
FORMAT_NAMES = ("coco", "voc", "yolo", "folders", "csv", "labelme", "cvat", "label-studio")
FORMAT_LIST = ", ".join(FORMAT_NAMES)

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 findings at error severity; 2 usage error; "
    "3 input missing or unreadable; 4 output refused (exists, unsafe path)."
)


def console(stderr: bool = False):
    """A rich Console on stdout (or stderr)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


@dataclass
class _Mode:
    """What the top-level guard learnt about this run (set per invocation by `GuardedGroup`)."""

    json: bool = False  # --json was given: errors go to stdout as JSON too
    debug: bool = False  # --debug: tracebacks of internal errors
    stdout_used: bool = False  # a JSON document is on stdout already: never print a second


_MODE: contextvars.ContextVar[_Mode | None] = contextvars.ContextVar("dataprep_cli_mode", default=None)


def _mode() -> _Mode:
    return _MODE.get() or _Mode()


# errno values that always mean "the output cannot be written", whatever file they name
_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EFBIG})


def error_object(code: int, message: str, path: str | None = None) -> dict[str, Any]:
    """``{"error": {"code", "message", "path"}}``, the shape of schemas/error.schema.json."""
    return {"error": {"code": int(code), "message": message, "path": path}}


def _fail(code: int, message: str, path: str | None = None, *, as_json: bool = False) -> typer.Exit:
    """Write `message` to stderr (and the error object to stdout under --json or `as_json`); the Exit to raise."""
    sys.stderr.write(f"error: {_printable(message)}\n")
    mode = _mode()
    if (mode.json or as_json) and not mode.stdout_used:
        print_json(error_object(code, message, path))
    return typer.Exit(int(code))


def classify(err: BaseException, doing: str | None = None) -> tuple[int, str, str | None]:
    """``(exit code, one-line message, path)`` for an exception that is not a `DataprepError`.

    OSErrors are the environment's (disk full, read-only, permissions), never a crash; anything
    else is an internal error: exit 3, never 1 (which CI reads as "findings").
    """
    if isinstance(err, OSError):
        path = err.filename if isinstance(err.filename, str) else None
        reason = err.strerror or str(err)
        code = ExitCode.OUTPUT if err.errno in _OUTPUT_ERRNOS else ExitCode.INPUT
        return int(code), f"{path + ': ' if path else ''}{reason}", path
    if isinstance(err, RecursionError):
        return int(ExitCode.INPUT), "input nested too deeply to read", None
    if isinstance(err, MemoryError):
        return int(ExitCode.INPUT), "out of memory reading the input", None
    what = f" while {doing}" if doing else ""
    text = " ".join(str(err).split())[:300]
    return int(ExitCode.INPUT), f"internal error{what}: {type(err).__name__}: {text}; please report it", None


@contextlib.contextmanager
def guard(crash: str | None = None, *, json: bool = False) -> Iterator[None]:
    """The one error guard of every command: a one-line message on stderr, the error object, an exit code.

    A `DataprepError` exits with its own code; Ctrl-C (or SIGTERM) with 130. Any other exception
    is left to the top-level guard (`GuardedGroup`) when `crash` is None, or handled here when
    `crash` says what the command is doing (``"splitting data/"``): exit 3 (4 for a full or
    read-only disk), "internal error while <crash>", the traceback only under ``--debug``.
    Under ``--json`` (or with `json`, for a command run outside the group) stdout gets one
    ``{"error": {"code", "message", "path"}}`` object (schemas/error.schema.json), unless the
    command has printed its JSON document already.

    Args:
        crash: What the command does, for the internal-error message; None defers to the top level.
        json: Print the error object on stdout even when the top-level guard did not see ``--json``.
    """
    try:
        yield
    except DataprepError as err:
        raise _fail(err.exit_code, str(err), _error_path(err), as_json=json) from None
    except KeyboardInterrupt:
        raise _fail(130, "interrupted", as_json=json) from None
    except Exception as err:
        if crash is None or isinstance(err, click_exceptions()):
            raise
        if _mode().debug:
            traceback.print_exc(file=sys.stderr)
        raise _fail(*classify(err, crash), as_json=json) from None


def _error_path(err: BaseException) -> str | None:
    path = getattr(err, "path", None)
    return None if path is None else str(path)


def click_exceptions() -> tuple[type[BaseException], ...]:
    """Click's own control-flow exceptions (usage errors, Exit, Abort): never internal errors."""
    from typer._click.exceptions import ClickException

    return (ClickException, typer.Exit, typer.Abort)


class GuardedGroup(TyperGroup):
    """The top-level command group: no exception ever leaves a command as a traceback and exit 1.

    `DataprepError` -> its exit code; OSError -> 3 or 4 (disk full, read-only: 4); any other
    exception -> 3 "internal error, please report" (traceback with ``--debug``); SIGTERM is
    handled like Ctrl-C, so temporary output folders are removed. Under ``--json`` stdout
    carries one JSON document on every exit (errors as `error_object`).
    """

    def invoke(self, ctx: Any) -> Any:
        args = [*getattr(ctx, "_protected_args", []), *ctx.args]
        mode = _Mode(json="--json" in args[1:], debug=bool(ctx.params.get("debug")))
        token = _MODE.set(mode)
        previous = _catch_sigterm()
        try:
            _refuse_empty_arguments(args)
            return super().invoke(ctx)
        except DataprepError as err:
            raise _fail(err.exit_code, str(err), _error_path(err)) from None
        except KeyboardInterrupt:
            raise _fail(130, "interrupted") from None
        except click_exceptions() as err:
            message = getattr(err, "format_message", None)
            if mode.json and not mode.stdout_used and message is not None:
                print_json(error_object(getattr(err, "exit_code", ExitCode.USAGE), message()))
            raise
        except Exception as err:
            if mode.debug:
                traceback.print_exc(file=sys.stderr)
            raise _fail(*classify(err)) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            _MODE.reset(token)


def _refuse_empty_arguments(args: list[str]) -> None:
    """An empty positional argument (``dataprep info ""``, an unset shell variable) is a usage error:
    as a Path it would silently be the current folder (issue 7, item 20). Option values may be empty."""
    for i, arg in enumerate(args[1:], 1):
        if arg == "" and not args[i - 1].startswith("-"):
            raise UsageError("an empty path argument; give a file or folder ('.' for the current folder)")


def _catch_sigterm() -> Any:
    """Make SIGTERM raise KeyboardInterrupt (cleanup as for Ctrl-C); the old handler, or None."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def _interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, _interrupt)


def print_json(data: Any) -> None:
    """Write `data` as indented, key-sorted JSON to stdout (one document per run).

    Lone surrogates (from ``"\\ud800"`` escapes in the input) are written as JSON escapes, so
    the output is valid UTF-8 and valid JSON.
    """
    sys.stdout.write(dumps_json(data) + "\n")
    _mode().stdout_used = True


def dumps_json(data: Any) -> str:
    """Indented, key-sorted JSON that encodes to UTF-8 (lone surrogates escaped)."""
    text = json.dumps(data, indent=2, sort_keys=True, default=_jsonable, ensure_ascii=False)
    if _SURROGATE.search(text):
        text = json.dumps(data, indent=2, sort_keys=True, default=_jsonable, ensure_ascii=True)
    return text


def _printable(text: str) -> str:
    """`text` with lone surrogates replaced by ``\\udxxx`` escapes (stderr is UTF-8)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if _SURROGATE.search(text) else text


_SURROGATE = re.compile("[\ud800-\udfff]")


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
    """Write `data` as indented, key-sorted JSON to the file `path` (``--report``).

    Raises:
        OutputError: the file cannot be written (missing folder, read-only, disk full).
    """
    write_text(path, dumps_json(data) + "\n")


def check_report_path(path: Path | None) -> None:
    """Refuse a ``--report``/``--junit`` file whose folder is missing, before any work is done.

    Raises:
        OutputError: the folder does not exist or is not a folder.
    """
    if path is not None and not path.parent.is_dir():
        raise OutputError(f"{path}: the folder {path.parent} does not exist. Create it or choose another file")


def write_text(path: Path, text: str) -> None:
    """Write a report file (``--report``, ``--junit``) atomically, refusing with exit 4 when it cannot be.

    Raises:
        OutputError: the folder is missing, not writable, or the disk is full.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8", errors="backslashreplace")
        os.replace(tmp, path)  # never half a report
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write the report ({err.strerror or err}). Check the folder") from None


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
        UsageError: as `key_values`, or a value that is not a finite number.
    """
    pairs = key_values(items, flag)
    if pairs is None:
        return None
    try:
        values = {k: float(v) for k, v in pairs.items()}
    except ValueError as err:
        raise UsageError(f"{flag}: {err}") from None
    for key, value in values.items():
        if not math.isfinite(value):  # nan compares false: min_box_side=nan silently disabled the check
            raise UsageError(f"{flag} {key}={pairs[key]}: expected a finite number")
    return values


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


# losses that mean "your data was not all converted": convert exits 1 after writing the rest
REFUSED_LOSSES = frozenset({"image-outside-dataset"})


def conversion_exit_code(data: dict[str, Any]) -> ExitCode:
    """1 when a convert report lists refused images (`REFUSED_LOSSES`), else 0."""
    losses = data["losses"] if data.get("dry_run") else data["written"]["losses"]
    return ExitCode.FINDINGS if any(loss["code"] in REFUSED_LOSSES for loss in losses) else ExitCode.OK


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
        label = "[red]skipped[/]" if finding["severity"] == "error" else f"[yellow]{finding['severity']}[/]"
        out.print(f"{label} {where}: {finding['message']}")
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
        write_text(junit, report.to_junit(max_findings))
    if as_json:
        sys.stdout.write(_printable(report.to_json(max_findings)) + "\n")
        _mode().stdout_used = True
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
