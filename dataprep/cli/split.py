"""``dataprep split SRC DST``: stratified, group-aware, leak-free train/val/test splits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dataprep.cli import _render, _render_split

HELP = f"""Split a dataset into train/val/test (70,20,10 by default) and write it in any format.

Stratified per class: for detection, iterative stratification over images x classes,
rarest class first, balancing each class's boxes; for classification, per class, exact where
the counts allow. Images of one group (--group-by a field or a regex on the file name) and
images with identical bytes always land in one split; --near-duplicates N also joins images
whose difference hashes differ by at most N of 64 bits. --keep-existing leaves images that
have a split where they are. The same input and seed give byte-identical output; the output
is written atomically and an existing DST is refused unless --overwrite.

{_render.EXIT_CODES_HELP}"""


def command(
    src: Annotated[Path, typer.Argument(help="Input dataset folder or label file (COCO json).")],
    dst: Annotated[Path, typer.Argument(help="Output folder (must not exist unless --overwrite).")],
    ratios: Annotated[str, typer.Option(help="Parts: 70,20,10 or 80,20 or train=70,val=20,test=10.")] = "70,20,10",
    seed: Annotated[int, typer.Option(help="Random seed: same input and seed, same split.")] = 0,
    stratify: Annotated[str, typer.Option(help="auto or class (per class), none (random by images).")] = "auto",
    group_by: Annotated[
        str | None, typer.Option("--group-by", help="Keep together: an image field (group) or a regex on file names.")
    ] = None,
    near_duplicates: Annotated[
        str, typer.Option("--near-duplicates", help="off, or a dHash Hamming distance (0-64) joining look-alikes.")
    ] = "off",
    keep_existing: Annotated[
        bool, typer.Option("--keep-existing", help="Images with a split keep it; only new ones are assigned.")
    ] = False,
    to: Annotated[str | None, typer.Option("--to", help=f"{_render.FORMAT_LIST} (default: input's).")] = None,
    from_format: Annotated[str, typer.Option("--from", help="Input format or 'auto'.")] = "auto",
    images: Annotated[str, typer.Option(help="copy, link (hard links) or none (labels only).")] = "copy",
    overwrite: Annotated[bool, typer.Option(help="Replace DST if it exists.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON (errors too).")] = False,
) -> None:
    """Split a dataset into stratified, leak-free parts."""
    from dataprep.splits import parse_ratios, split_files

    with _render.guard(f"splitting {src}", json=as_json):
        parts = parse_ratios(ratios, option="--ratios")
        result = split_files(
            src,
            dst,
            to=to,
            from_format=from_format,
            images=images,
            overwrite=overwrite,
            ratios=parts,
            seed=seed,
            stratify=stratify,
            group_by=group_by,
            near_duplicates=near_duplicates,
            keep_existing=keep_existing,
        )
    data = result.to_dict()
    if as_json:
        _render.print_json(data)
    else:
        _render_split.print_human(data, str(dst))
