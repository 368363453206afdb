"""``dataprep predict RUN_DIR|CHECKPOINT DATA --out FILE``: predictions that `dataprep evaluate` reads."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from dataprep.cli import _render


class To(str, enum.Enum):
    auto = "auto"
    csv = "csv"
    coco = "coco"
    yolo = "yolo"


HELP = f"""Predict with a trained run (its weights/best.pt) or a checkpoint file on one split of DATA.

Classification writes a CSV (file_name,label,score); detection a COCO results json (boxes decoded
from the grid with per-class NMS, in image pixels), or with --to yolo a YOLO label folder with a
confidence column. Either goes straight into `dataprep evaluate DATA OUT --split SPLIT`.
--split all predicts every image.

{_render.EXIT_CODES_HELP}"""


def command(
    source: Annotated[Path, typer.Argument(help="Run folder or checkpoint (.pt).")],
    data: Annotated[Path, typer.Argument(help="Dataset folder or COCO json with the images.")],
    out: Annotated[Path, typer.Option(help="Predictions file (csv, json) or folder (--to yolo).")],
    split: Annotated[str, typer.Option(help="Split to predict, or 'all'.")] = "test",
    to: Annotated[To, typer.Option(help="auto (csv or coco), csv, coco or yolo.")] = To.auto,
    conf: Annotated[float | None, typer.Option(help="Detection score threshold (default: the run's).")] = None,
    iou: Annotated[float | None, typer.Option(help="Per-class NMS IoU (default: the run's).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per forward pass.")] = 64,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    overwrite: Annotated[bool, typer.Option(help="Replace --out if it exists.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a summary as JSON (errors too).")] = False,
) -> None:
    """Predict with a trained model."""
    with _render.guard(f"predicting with {source}", json=as_json):
        from dataprep.prediction import predict, write_predictions

        pred = predict(
            source,
            data,
            split=None if split == "all" else split,
            batch_size=batch_size,
            conf_threshold=conf,
            iou_threshold=iou,
            device=device,
        )
        path = write_predictions(pred, out, to=to.value, overwrite=overwrite)
    summary = {"out": str(path), "images": len(pred.images), "predictions": len(pred.annotations), "split": split}
    if as_json:
        _render.print_json(summary)
    else:
        _render.console().print(
            f"wrote {path}: {summary['predictions']:,} predictions on {summary['images']:,} images ({split})"
        )
