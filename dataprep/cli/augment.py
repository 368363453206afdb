"""``dataprep augment SRC DST --pipeline FILE|PRESET``: augmented copies of a dataset, labels moved along."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dataprep.cli import _render

HELP = f"""Write a dataset with augmented copies of its training images, boxes and polygons moved
with the pixels, in any output format.

--pipeline is a YAML/JSON file (schemas/augment-pipeline.schema.json) or a preset: light,
detection, classification. Transforms: hflip, vflip, scale, translate, rotate, shear, crop,
resized_crop, color_jitter, blur, noise, cutout, mosaic. Objects cut at the border are clipped,
or dropped when less than min_visibility of them stays in the image; degenerate boxes are
dropped; the report counts each. Copy k of image i draws its randomness from (seed, i, k) only,
so the output is byte-identical for a seed, whatever the order.

Only --splits are augmented (default: train when the dataset has splits, every image when it
has none); val and test are written unchanged. An image that cannot be decoded is named and
skipped, the rest is written, and the exit code is 1. The output is written atomically.
{_render.EXIT_CODES_HELP}"""


def command(
    src: Annotated[Path, typer.Argument(help="Input dataset folder or label file (format detected).")],
    dst: Annotated[Path, typer.Argument(help="Output folder (must not exist unless --overwrite).")],
    pipeline: Annotated[
        str, typer.Option(help="Pipeline file (YAML/JSON) or preset: light, detection, classification.")
    ],
    copies: Annotated[int, typer.Option(help="Augmented copies per selected image.")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed; copy k of image i uses (seed, i, k).")] = 0,
    splits: Annotated[
        str | None, typer.Option(help="Comma-separated splits to augment (default: train, or all if no splits).")
    ] = None,
    to: Annotated[str | None, typer.Option(help="Output format (default: the input's).")] = None,
    no_originals: Annotated[
        bool, typer.Option("--no-originals", help="Leave out the augmented images' originals.")
    ] = False,
    preview: Annotated[Path | None, typer.Option(help="Also write a PNG grid of originals and copies.")] = None,
    backend: Annotated[str | None, typer.Option(help="Image kernels: opencv (default, one thread) or pillow.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace DST if it exists.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON (errors too).")] = False,
) -> None:
    """Write augmented copies of a dataset's images with their labels."""
    from dataprep.augmentation import augment
    from dataprep.cli._render_augment import print_report

    with _render.guard(f"augmenting {src}", json=as_json):
        result = augment(
            src,
            dst,
            pipeline=pipeline,
            copies=copies,
            seed=seed,
            splits=[s.strip() for s in splits.split(",") if s.strip()] if splits else None,
            to=to,
            originals=not no_originals,
            preview=preview,
            backend=backend,
            overwrite=overwrite,
        )
    data = result.to_dict()
    if as_json:
        _render.print_json(data)
    else:
        print_report(data, dst)
    _render.exit_with(result.exit_code)
