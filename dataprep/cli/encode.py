"""``dataprep encode SRC OUT --grid 7 | --anchors FILE|auto``: YOLO training targets, inspectable."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from dataprep.cli import _render


class WhUnits(str, enum.Enum):
    image = "image"
    cell = "cell"


class Keep(str, enum.Enum):
    largest = "largest"
    last = "last"
    all = "all"


HELP = f"""Encode a dataset's boxes as YOLO training targets: a YOLOv1 grid (--grid S) or
YOLOv2/v3 anchors on one or more scales (--anchors FILE, 'auto' for k-means on the boxes, or
'yolov3'). Images are letterboxed to --img-size (default 64·S for a grid, 416 for anchors).

OUT gets one sparse .npz per split (one row per assigned slot: image, scale, anchor, row,
column, tx, ty, tw, th, class, box weight), layout.json (layout, anchors, classes, units) and
report.json (collisions, every dropped box with its image and annotation id). --assign best |
iou:T | ratio:4 picks the anchors a box trains; --keep largest | last | all settles two boxes in
one slot. --dense adds the per-cell Y = (P, bx, by, bw, bh, c1..cC) arrays for small sets.
--show IMAGE_ID --png FILE draws the grid, responsible cells and anchors over the letterboxed
image. The output is written atomically.
{_render.EXIT_CODES_HELP}"""


def command(
    src: Annotated[Path, typer.Argument(help="Dataset folder or label file (format detected).")],
    out: Annotated[Path, typer.Argument(help="Output folder (must not exist unless --overwrite).")],
    grid: Annotated[int | None, typer.Option(help="YOLOv1 grid: S cells per side.")] = None,
    anchors: Annotated[str | None, typer.Option(help="Anchors file (W,H pairs or JSON), 'auto' or 'yolov3'.")] = None,
    img_size: Annotated[int | None, typer.Option(help="Network input side, px (default 64·S or 416).")] = None,
    predictors: Annotated[int, typer.Option(help="Grid: predictors (B) per cell.")] = 2,
    wh_units: Annotated[WhUnits, typer.Option(help="Grid: bw, bh as a fraction of image or cell.")] = WhUnits.image,
    scales: Annotated[int, typer.Option(help="Anchors: number of scales (strides ending at 32).")] = 3,
    k: Annotated[int, typer.Option("--k", help="--anchors auto: number of anchors.")] = 9,
    assign: Annotated[str, typer.Option(help="best | iou:T | ratio:R.")] = "best",
    keep: Annotated[Keep, typer.Option(help="Two boxes in a slot: largest or last wins, or keep all.")] = Keep.largest,
    seed: Annotated[int, typer.Option(help="Seed for --anchors auto.")] = 0,
    dense: Annotated[bool, typer.Option("--dense", help="Also write dense per-cell arrays (small sets).")] = False,
    max_dense_mb: Annotated[int, typer.Option(help="Refuse --dense above this size (MiB).")] = 256,
    show: Annotated[int | None, typer.Option(help="Draw this image_id's assignment (with --png).")] = None,
    png: Annotated[Path | None, typer.Option(help="PNG file for --show.")] = None,
    from_format: Annotated[str, typer.Option("--from", help="Input format or 'auto'.")] = "auto",
    overwrite: Annotated[bool, typer.Option(help="Replace OUT (and the PNG) if they exist.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Encode YOLO targets for a dataset."""
    from dataprep.cli._render_encode import print_encode
    from dataprep.encoding.tables import encode_folder

    with _render.guard():  # under --json, errors are the shared error object
        data = encode_folder(
            src, out, from_format=from_format, grid=grid, anchors=anchors, img_size=img_size, predictors=predictors,
            scales=scales, k=k, assign=assign, keep=keep.value, seed=seed, wh_units=wh_units.value, dense=dense,
            max_dense_bytes=max_dense_mb << 20, show=show, png=png, overwrite=overwrite,
        )  # fmt: skip
    if as_json:
        _render.print_json(data)
    else:
        print_encode(data)
