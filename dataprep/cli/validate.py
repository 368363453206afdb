"""``dataprep validate PATH``: check a dataset, report in a table, JSON, JUnit or GitHub annotations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dataprep.cli import _render
from dataprep.errors import UsageError

HELP = f"""Check a dataset for problems: unreadable records, missing or corrupt images, size
mismatches, boxes outside the image, inverted or empty boxes, dangling or duplicate ids,
duplicate images and split leaks, invalid polygons, unused or look-alike classes, and more.

Each finding has a stable code (box-outside-image, split-leak, ...) and a severity; select or
ignore codes or prefixes like a linter (--select box --ignore box-tiny). Only findings at
error severity fail the run. A dataprep.yaml beside the dataset can set format, classes,
expected splits, select/ignore, severities and thresholds. --max-findings caps what is
listed, never what is counted.

{_render.EXIT_CODES_HELP}"""


def command(
    path: Annotated[Path, typer.Argument(help="Dataset folder or label file (COCO json).")],
    from_format: Annotated[
        str, typer.Option("--from", help=f"Input format ({_render.FORMAT_LIST}) or 'auto'.")
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

    with _render.guard(crash=f"validating {path}"):
        if as_json and github:
            raise UsageError("--json and --github both print to stdout: choose one (and --junit FILE for a file)")
        severities, limits = _render.key_values(severity, "--severity"), _render.key_floats(threshold, "--threshold")
        _render.check_report_path(junit)
        report = validate(
            path,
            format=from_format,
            select=select,
            ignore=ignore,
            severity=severities,
            thresholds=limits,
            images=images,
            decode=decode,
            manifest=manifest,
            diff=diff,
        )
    with _render.guard():
        _render.emit_report(report, junit=junit, as_json=as_json, github=github, max_findings=max_findings)
