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
