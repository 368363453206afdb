"""``dataprep demo``: the main job on the bundled samples, start to end (`dataprep.demo.run_demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dataprep.cli import _render, _render_train

HELP = f"""Run the main job on the bundled samples: convert between every format, validate, split,
train LeNet (classification) and the grid detector (detection), and evaluate both on their test
splits into HTML reports, in a few minutes on 2 cores. Writes under OUT (replaced if it exists).
Exits 1 when a sample has validation errors.
{_render.EXIT_CODES_HELP}"""


def command(
    samples: Annotated[Path, typer.Option(help="The samples folder.")] = Path("samples"),
    out: Annotated[Path, typer.Option(help="Where the outputs go (replaced).")] = Path("out/demo"),
    epochs: Annotated[int, typer.Option(help="LeNet epochs on the classification sample.")] = 15,
    detector_seconds: Annotated[float, typer.Option(help="Wall-clock budget of the grid detector.")] = 60,
    threads: Annotated[int | None, typer.Option(help="torch threads (default: the free cores).")] = None,
) -> None:
    """Run the main job on the bundled samples."""
    from dataprep.cli._render_demo import render_stage
    from dataprep.demo import run_demo

    with _render.guard(crash="running the demo"):
        result = run_demo(
            samples,
            out,
            epochs=epochs,
            detector_seconds=detector_seconds,
            threads=threads,
            on_stage=render_stage,
            progress=lambda: _render_train.Progress(quiet=False),
        )
    if result.exit_code:
        raise typer.Exit(result.exit_code)
