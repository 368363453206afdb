"""``dataprep samples regenerate``: rebuild the bundled sample datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dataprep.cli import _render

app = typer.Typer(help="The bundled sample datasets.", no_args_is_help=True)

HELP = f"""Regenerate the sample datasets (COCO, VOC, YOLO, class folders, csv) from scikit-learn's
bundled handwritten digits, deterministically. Needs the samples extra: pip install -e '.\\[samples]'.
{_render.EXIT_CODES_HELP}"""


@app.command("regenerate", help=HELP, short_help="Rebuild samples/ from scikit-learn's digits.")
def regenerate(
    out: Annotated[
        Path, typer.Option("--out", help="Folder to (re)write; replaced only if it is a samples folder.")
    ] = Path("samples"),
    seed: Annotated[int, typer.Option(help="Seed of the generators.")] = 0,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace --out even if it is not a samples folder.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Regenerate the sample datasets."""
    from dataprep.samples import regenerate as run

    with _render.guard():
        reports = run(out, seed=seed, overwrite=overwrite)
    if as_json:
        _render.print_json({"out": str(out), "written": {k: r.to_dict() for k, r in reports.items()}})
        return
    rows = [
        [name, r.images, r.annotations, r.categories, "lossless" if r.lossless else ", ".join(x.code for x in r.losses)]
        for name, r in reports.items()
    ]
    con = _render.console()
    con.print(_render.table(f"Samples written to {out}", ["folder", "images", "labels", "classes", "losses"], rows))


DETECTION_HELP = f"""Generate a detection set of the bundled kind (digit scenes, 5 classes, 0-4 objects per
128x96 image, train/val/test ~70/20/10) with --images N images, for real training runs. Image k
is the same in every size of set. Needs the samples extra. {_render.EXIT_CODES_HELP}"""


@app.command("detection", help=DETECTION_HELP, short_help="Generate a larger detection set (--images N).")
def detection(
    out: Annotated[Path, typer.Argument(help="Output folder (must not exist unless --overwrite).")],
    images: Annotated[int, typer.Option("--images", help="Number of images.")] = 2000,
    to: Annotated[str, typer.Option("--to", help="coco, voc or yolo.")] = "coco",
    seed: Annotated[int, typer.Option(help="Seed of the generators.")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUT if it exists.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Generate a larger detection set."""
    from dataprep.samples import generate_detection

    with _render.guard():
        report = generate_detection(out, images=images, seed=seed, to=to, overwrite=overwrite)
    if as_json:
        _render.print_json({"out": str(out), "written": report.to_dict()})
        return
    _render.console().print(f"wrote {out} ({to}): {report.images:,} images, {report.annotations:,} boxes")
