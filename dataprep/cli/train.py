"""``dataprep train DATA --model NAME``: train a bundled net into a run folder (weights, curves, test report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dataprep.cli import _render, _render_train

HELP = f"""Train a bundled net on DATA's train split, keep the best checkpoint on val and evaluate it on test.

--model: lenet, alexnet, minivgg, minigooglenet, resnet (image-level labels) or grid-detector
(boxes), or a preset file from models/. Options given on the command line override the preset.
DATA needs train and val splits: run `dataprep split` first, or pass --split-ratios 70,20,10 to
split in memory (seeded). --time-limit fits the cosine schedule (with warm-up) to a wall-clock
budget and stops there. The same seed and --threads give the same weights; --resume RUN_DIR
continues a run where it stopped, to the same weights as an uninterrupted one. Under
`torchrun --nproc-per-node N -m dataprep train ...` it trains with DistributedDataParallel
(gloo on CPU, nccl on GPU); only rank 0 writes.

RUN_DIR (--out) gets config.json, metrics.csv, curves.png, weights/best.pt and weights/last.pt,
report/index.html (the evaluate report of best.pt on the test split) and result.json. --json
prints result.json at the end (test metrics under "test"). --export torchscript also writes
the best model for deployment, checked against eager PyTorch.

{_render.EXIT_CODES_HELP} Exit 1 means the loss diverged (NaN)."""


def command(
    data: Annotated[Path | None, typer.Argument(help="Dataset folder or COCO json (not needed with --resume).")] = None,
    model: Annotated[str, typer.Option(help="Net name or preset file (models/*.json).")] = "lenet",
    out: Annotated[Path, typer.Option(help="Run folder (must not exist unless --overwrite).")] = Path("runs/train"),
    epochs: Annotated[int | None, typer.Option(help="Epochs (the most, with --time-limit).")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Images per step.")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate (AdamW).")] = None,
    img_size: Annotated[int | None, typer.Option("--img-size", help="Network input side, pixels.")] = None,
    augment: Annotated[str | None, typer.Option(help="Augmentation preset or pipeline file (train split).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed: same seed and threads, same weights.")] = None,
    patience: Annotated[int | None, typer.Option(help="Stop after N epochs without a better val metric.")] = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="Wall-clock budget, seconds.")] = None,
    device: Annotated[str | None, typer.Option(help="cpu or cuda.")] = None,
    threads: Annotated[int | None, typer.Option(help="torch threads (default: the free cores).")] = None,
    split_ratios: Annotated[
        str | None, typer.Option("--split-ratios", help="Split in memory when DATA has no split: 70,20,10.")
    ] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue the run in this folder.")] = None,
    export: Annotated[str | None, typer.Option(help="Also write the best model: torchscript or onnx.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace --out if it is a run folder.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON (errors too).")] = False,
) -> None:
    """Train a bundled net."""
    with _render.guard("training", json=as_json):
        from dataprep.training import TrainConfig, run_command

        config = None
        if resume is None:
            config = TrainConfig.from_preset(model).replace(
                epochs=epochs, batch_size=batch_size, lr=lr, img_size=img_size, augment=augment, seed=seed,
                patience=patience, time_limit=time_limit, device=device, threads=threads, split_ratios=split_ratios,
            )  # fmt: skip
        with _render_train.Progress(quiet=as_json) as progress:
            result = run_command(
                data, config, out=resume or out, resume=resume is not None, overwrite=overwrite, export=export,
                on_start=progress.on_start, on_step=progress.on_step, on_epoch=progress.on_epoch,
            )  # fmt: skip
    if result["rank"]:  # under torchrun only rank 0 speaks
        return
    if as_json:
        _render.print_json(result)
    else:
        _render_train.print_result(result)
