"""``dataprep convert SRC DST --to FMT``: convert labels between formats, saying what was dropped."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from dataprep.cli import _render
from dataprep.errors import UsageError


class Target(str, enum.Enum):
    coco = "coco"
    voc = "voc"
    yolo = "yolo"
    folders = "folders"
    csv = "csv"


class ImagesMode(str, enum.Enum):
    copy = "copy"
    link = "link"
    none = "none"


class Layout(str, enum.Enum):
    ultralytics = "ultralytics"
    darknet = "darknet"


class Task(str, enum.Enum):
    detect = "detect"
    segment = "segment"


class OnError(str, enum.Enum):
    raise_ = "raise"
    collect = "collect"


HELP = f"""Convert a dataset between COCO json, Pascal VOC xml, YOLO txt (Ultralytics or darknet
layout) and classification layouts (class folders, CSV).

Lossless where the target can hold it; everything it cannot hold (masks to boxes, crowd flags,
scores, attributes, rounded VOC coordinates, renumbered class ids) is listed with counts and
example ids. The output folder is written atomically (temporary folder, then rename), an
existing DST is refused unless --overwrite, and the input is never modified.
{_render.EXIT_CODES_HELP}"""


def command(
    src: Annotated[Path, typer.Argument(help="Input dataset folder or label file (COCO json).")],
    dst: Annotated[Path, typer.Argument(help="Output folder (must not exist unless --overwrite).")],
    to: Annotated[Target, typer.Option("--to", help="Output format.")],
    from_format: Annotated[
        str, typer.Option("--from", help="Input format (coco, voc, yolo, folders, csv) or 'auto'.")
    ] = "auto",
    images: Annotated[ImagesMode, typer.Option(help="Copy, hard-link or leave out the image files.")] = ImagesMode.copy,
    layout: Annotated[Layout | None, typer.Option(help="YOLO layout (default ultralytics).")] = None,
    task: Annotated[Task | None, typer.Option(help="YOLO rows: boxes (detect) or polygons (segment).")] = None,
    on_error: Annotated[
        OnError, typer.Option("--on-error", help="Stop at the first unreadable record, or skip and list it.")
    ] = OnError.raise_,
    overwrite: Annotated[bool, typer.Option(help="Replace DST if it exists.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read and report what would be dropped; write nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    report: Annotated[Path | None, typer.Option(help="Also write the JSON report to this file.")] = None,
) -> None:
    """Convert a dataset between label formats."""
    from dataprep import formats

    write_options: dict[str, Any] = {}
    with _render.guard():
        if (layout or task) and to is not Target.yolo:
            raise UsageError("--layout and --task apply to --to yolo only")
        if layout:
            write_options["layout"] = layout.value
        if task:
            write_options["task"] = task.value
        if dry_run:
            source = formats.load(src, from_format, on_error=on_error.value)
            losses = formats.plan(source.dataset, to.value, **write_options)
            data = {
                "source_format": source.format,
                "notes": source.notes,
                "findings": [f.to_dict() for f in source.findings],
                "dry_run": True,
                "losses": [loss.to_dict() for loss in losses],
            }
        else:
            with _status(f"converting {src} to {to.value}"):
                result = formats.convert(
                    src,
                    dst,
                    to=to.value,
                    from_format=from_format,
                    images=images.value,
                    overwrite=overwrite,
                    on_error=on_error.value,
                    write_options=write_options,
                )
            data = result.to_dict()
    if report:
        report.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    if as_json:
        _render.print_json(data)
        return
    _print_human(src, dst, to.value, data)


def _status(message: str):
    """A rich spinner on stderr when it is a terminal; nothing otherwise."""
    import contextlib
    import sys

    if not sys.stderr.isatty():
        return contextlib.nullcontext()
    return _render.console(stderr=True).status(message)


def _print_human(src: Path, dst: Path, to: str, data: dict[str, Any]) -> None:
    out = _render.console()
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
        out.print(_render.table(f"Not kept by {to}", ["what", "count", "unit", "example ids", "detail"], rows))
    else:
        out.print("lossless: the target holds everything in the source")
    for finding in data["findings"]:
        where = ": ".join(str(p) for p in (finding["file"], finding["record"]) if p)
        out.print(f"[red]skipped[/] {where}: {finding['message']}")
    for note in data["notes"]:
        out.print(f"[dim]note: {note}[/]")
