"""``dataprep convert SRC DST --to FMT``: convert labels between formats, saying what was dropped."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from dataprep.cli import _render
from dataprep.errors import UsageError

# the choices of --to, --images, --layout, --task and --on-error
Target = enum.Enum("Target", {name: name for name in _render.FORMAT_NAMES}, type=str)
ImagesMode = enum.Enum("ImagesMode", {name: name for name in ("copy", "link", "none")}, type=str)
Layout = enum.Enum("Layout", {name: name for name in ("ultralytics", "darknet")}, type=str)
Task = enum.Enum("Task", {name: name for name in ("detect", "segment")}, type=str)
OnError = enum.Enum("OnError", {"raise_": "raise", "collect": "collect"}, type=str)

HELP = f"""Convert a dataset between COCO json, Pascal VOC xml, YOLO txt (Ultralytics or darknet
layout), the annotation tools' exports (LabelMe, CVAT for images, Label Studio) and
classification layouts (class folders, CSV).

Lossless where the target can hold it; everything it cannot hold (masks to boxes, crowd flags,
scores, attributes, rounded VOC coordinates, renumbered class ids) is listed with counts and
example ids. The output folder is written atomically (temporary folder, then rename), an
existing DST is refused unless --overwrite, and the input is never modified. Image files whose
real path leaves SRC (symlinks to /etc, ...) are left out and make the exit code 1 unless
--follow-symlinks.
{_render.EXIT_CODES_HELP}"""


def command(
    src: Annotated[Path, typer.Argument(help="Input dataset folder or label file (COCO json).")],
    dst: Annotated[Path, typer.Argument(help="Output folder (must not exist unless --overwrite).")],
    to: Annotated[Target, typer.Option("--to", help="Output format.")],
    from_format: Annotated[
        str, typer.Option("--from", help="Input format (any --to name, e.g. labelme, cvat, label-studio) or 'auto'.")
    ] = "auto",
    images: Annotated[ImagesMode, typer.Option(help="Copy, hard-link or leave out the image files.")] = ImagesMode.copy,
    layout: Annotated[Layout | None, typer.Option(help="YOLO layout (default ultralytics).")] = None,
    task: Annotated[Task | None, typer.Option(help="YOLO rows: boxes (detect) or polygons (segment).")] = None,
    embed_images: Annotated[bool, typer.Option(help="LabelMe: embed each image as base64 imageData.")] = False,
    on_error: Annotated[
        OnError, typer.Option("--on-error", help="Stop at the first unreadable record, or skip and list it.")
    ] = OnError.raise_,
    overwrite: Annotated[bool, typer.Option(help="Replace DST if it exists.")] = False,
    follow_symlinks: Annotated[
        bool, typer.Option("--follow-symlinks", help="Also copy images whose real path leaves SRC (symlinks).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read and report what would be dropped; write nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    report: Annotated[Path | None, typer.Option(help="Also write the JSON report to this file.")] = None,
) -> None:
    """Convert a dataset between label formats."""
    from dataprep import formats

    with _render.guard():
        if (layout or task) and to is not Target.yolo:
            raise UsageError("--layout and --task apply to --to yolo only")
        _render.check_report_path(report)
        options = {key: choice.value for key, choice in (("layout", layout), ("task", task)) if choice}
        if embed_images and to.value != "labelme":
            raise UsageError("--embed-images applies to --to labelme only")
        options |= {"embed_images": True} if embed_images else {}
        if dry_run:
            source = formats.load(src, from_format, on_error=on_error.value)
            data = _render.dry_run_data(source, formats.plan(source.dataset, to.value, **options))
        else:
            with _render.status(f"converting {src} to {to.value}"):
                result = formats.convert(
                    src,
                    dst,
                    to=to.value,
                    from_format=from_format,
                    images=images.value,
                    overwrite=overwrite,
                    on_error=on_error.value,
                    follow_symlinks=follow_symlinks,
                    write_options=options,
                )
            data = result.to_dict()
    with _render.guard():
        if report:
            _render.write_json(report, data)
    if as_json:
        _render.print_json(data)
    else:
        _render.print_conversion(src, dst, to.value, data)
    _render.exit_with(_render.conversion_exit_code(data))
