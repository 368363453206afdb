"""``dataprep validate PATH``: check a dataset, report in a table, JSON, JUnit or GitHub annotations."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer

from dataprep.cli import _render
from dataprep.errors import ExitCode, UsageError

HELP = f"""Check a dataset for problems: unreadable records, missing or corrupt images, size
mismatches, boxes outside the image, inverted or empty boxes, dangling or duplicate ids,
duplicate images and split leaks, invalid polygons, unused or look-alike classes, and more.

Each finding has a stable code (box-outside-image, split-leak, ...) and a severity; select or
ignore codes or prefixes like a linter (--select box --ignore box-tiny). Only findings at
error severity fail the run. A dataprep.yaml beside the dataset can set format, classes,
expected splits, select/ignore, severities and thresholds. --max-findings caps what is
listed, never what is counted.

{_render.EXIT_CODES_HELP}"""

_TABLE_LIMIT = 50  # findings listed per severity in the table when --max-findings is not given


def command(
    path: Annotated[Path, typer.Argument(help="Dataset folder or label file (COCO json).")],
    from_format: Annotated[
        str, typer.Option("--from", help="Input format (coco, voc, yolo, folders, csv) or 'auto'.")
    ] = "auto",
    select: Annotated[
        list[str] | None, typer.Option(help="Only these codes or prefixes (comma-separated, repeatable).")
    ] = None,
    ignore: Annotated[list[str] | None, typer.Option(help="Skip these codes or prefixes.")] = None,
    severity: Annotated[
        list[str] | None, typer.Option(help="Override a severity: CODE=error|warning|info (repeatable).")
    ] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option(help="Set a limit: min_box_side=2, max_aspect_ratio=20, outside_tolerance=0.01, ..."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON (schemas/report.schema.json).")
    ] = False,
    junit: Annotated[Path | None, typer.Option(help="Also write a JUnit XML report (one testcase per check).")] = None,
    github: Annotated[bool, typer.Option("--github", help="Print GitHub Actions annotations.")] = False,
    max_findings: Annotated[
        int | None, typer.Option(min=0, help="List at most N findings (counts stay exact).")
    ] = None,
    decode: Annotated[
        bool | None, typer.Option("--decode", help="Decode every image fully (finds truncated files).")
    ] = None,
    images: Annotated[
        bool | None, typer.Option("--images/--no-images", help="Open image files (headers, sizes, duplicates).")
    ] = None,
    manifest: Annotated[
        Path | None, typer.Option(help="Manifest file (default: dataprep.yaml beside the data).")
    ] = None,
    diff: Annotated[
        str | None, typer.Option(help="Compare with a base folder or git revision: per-class added/removed.")
    ] = None,
) -> None:
    """Validate a dataset for CI: strict, precise, exit code 1 on error findings."""
    from dataprep.validation import validate

    report = None
    with _render.guard():
        if as_json and github:
            raise UsageError("--json and --github both print to stdout: choose one (and --junit FILE for a file)")
        try:
            report = validate(
                path,
                format=from_format,
                select=select,
                ignore=ignore,
                severity=_pairs(severity, "--severity"),
                thresholds=_thresholds(threshold),
                images=images,
                decode=decode,
                manifest=manifest,
                diff=diff,
            )
        except Exception as err:
            from dataprep.errors import DataprepError

            if isinstance(err, DataprepError):
                raise
            traceback.print_exc(file=sys.stderr)
            sys.stderr.write(f"error: internal error while validating {path}: {err!r}. Please report it.\n")
            raise typer.Exit(int(ExitCode.INPUT)) from None
    if junit is not None:
        junit.write_text(report.to_junit(max_findings), encoding="utf-8")
    if as_json:
        sys.stdout.write(report.to_json(max_findings) + "\n")
    elif github:
        sys.stdout.write(report.to_github(max_findings))
    else:
        _print_human(report, max_findings)
    _render.exit_with(report.exit_code)


command.__doc__ = HELP


def _pairs(items: list[str] | None, flag: str) -> dict[str, str] | None:
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


def _thresholds(items: list[str] | None) -> dict[str, float] | None:
    pairs = _pairs(items, "--threshold")
    if pairs is None:
        return None
    try:
        return {k: float(v) for k, v in pairs.items()}
    except ValueError as err:
        raise UsageError(f"--threshold: {err}") from None


_STYLE = {"error": "red", "warning": "yellow", "info": "blue"}


def _print_human(report: Any, max_findings: int | None) -> None:
    out = _render.console()
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
        rows = [[f.code, _where(f), f.message] for f in _head(report, group, limit)]
        shown += len(rows)
        title = f"[{_STYLE[level]}]{len(group):,} {level}{'s' if len(group) != 1 and level != 'info' else ''}[/]"
        if len(rows) < len(group):
            title += f" ({len(group) - len(rows):,} not listed)"
        out.print(_render.table(title, ["code", "where", "message"], rows) if rows else title)
    failing = [c for c in report.checks if c["count"]]
    if failing:
        rows = [[c["code"], c["severity"], c["count"], c["description"]] for c in failing]
        out.print(_render.table("Findings by check", ["code", "severity", "count", "check"], rows))
    if report.diff:
        d = report.diff
        rows = [[c["name"], c["base"], c["head"], f"+{c['added']:,}", f"-{c['removed']:,}"] for c in d["classes"]]
        title = f"Change from {d['base']}: +{d['images_added']:,} / -{d['images_removed']:,} images"
        out.print(_render.table(title, ["class", "base", "head", "added", "removed"], rows))
    for note in report.notes:
        out.print(f"[dim]note: {note}[/]")
    c = report.counts
    if c["error"]:
        out.print(f"[red bold]failed[/]: {c['error']:,} errors, {c['warning']:,} warnings, {c['info']:,} info")
    else:
        out.print(f"[green bold]passed[/]: 0 errors, {c['warning']:,} warnings, {c['info']:,} info")


def _head(report: Any, group: Any, limit: int) -> Any:
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
