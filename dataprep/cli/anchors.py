"""``dataprep anchors SRC --k 9``: k-means anchors (1 - IoU) and how they and a given set fit the boxes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dataprep.cli import _render

HELP = f"""Compute anchor boxes for a YOLO-style detector: k-means on the boxes' (w, h) with
distance 1 - IoU, after letterboxing every image to --img-size; seeded, several restarts,
sorted by area and split evenly across --scales (finest first). The train split is used when
there is one.

Prints the mean best IoU, the best possible recall (share of boxes whose best anchor is within a
size ratio of 4) and the anchors within that ratio per box, for the computed set and for a given
set (--given W,H ..., YOLOv3's anchors by default). --json gives anchors as [[w, h], ...] in
pixels at --img-size, with mean_iou and bpr; `dataprep encode --anchors FILE` reads that file.
{_render.EXIT_CODES_HELP}"""


def command(
    src: Annotated[Path, typer.Argument(help="Dataset folder or label file (format detected).")],
    k: Annotated[int, typer.Option("--k", help="Number of anchors (a multiple of --scales).")] = 9,
    img_size: Annotated[int, typer.Option(help="Network input side in pixels; anchors are pixels at it.")] = 416,
    scales: Annotated[int, typer.Option(help="Detection scales the anchors are split across.")] = 3,
    given: Annotated[
        list[str] | None, typer.Option(help="Anchors to compare, W,H (repeatable or space-separated).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed (k-means++ starts).")] = 0,
    restarts: Annotated[int, typer.Option(min=1, help="k-means restarts; the best mean IoU wins.")] = 5,
    from_format: Annotated[str, typer.Option("--from", help="Input format or 'auto'.")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Compute k-means anchors for a dataset."""
    from dataprep.cli._render_encode import print_anchors
    from dataprep.encoding import parse_anchors
    from dataprep.encoding.tables import fit_anchors

    with _render.guard():  # under --json, errors are the shared error object
        given_arr = parse_anchors(" ".join(given), source="--given") if given else None
        data = fit_anchors(
            src, k=k, img_size=img_size, scales=scales, given=given_arr, seed=seed, restarts=restarts,
            from_format=from_format,
        )  # fmt: skip
    if as_json:
        _render.print_json(data)
    else:
        print_anchors(data)
