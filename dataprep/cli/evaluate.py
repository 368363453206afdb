"""``dataprep evaluate GT PRED``: COCO/VOC detection metrics or classification metrics, plots and HTML."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from dataprep.cli import _render, _render_evaluate


class IouType(str, enum.Enum):
    bbox = "bbox"
    segm = "segm"


HELP = f"""Evaluate predictions against ground truth.

Detection: the 12 COCO stats exactly as pycocotools computes them (bbox or segm), per-class
AP/AP50/AP75, VOC AP at --iou (all-point and 11-point), precision/recall/F1 at the best-F1
confidence, a confusion matrix with background (Ultralytics' definition) and an error breakdown
(after TIDE). Classification: accuracy, top-k, per-class precision/recall/F1, macro/weighted
averages, confusion matrices and the most confused pairs.

GT is any dataset dataprep reads or a COCO json. PRED is a COCO results list, a COCO file or
dataset with scores, a folder of YOLO label files with a confidence column, a classification
csv (file_name,label[,score] or file_name plus one score column per class) or any dataset.
Images and classes are matched by id, or by file name and class name when ids differ. --report
DIR writes PNG plots, result.json and one self-contained index.html.

{_render.EXIT_CODES_HELP} Exit 1 means predictions were dropped (NaN score, no box)."""


def command(
    gt: Annotated[Path, typer.Argument(help="Ground truth: dataset folder or COCO json.")],
    pred: Annotated[Path, typer.Argument(help="Predictions: results json, YOLO labels folder, csv or dataset.")],
    iou_type: Annotated[IouType, typer.Option("--iou-type", help="Compare boxes or masks.")] = IouType.bbox,
    iou: Annotated[float, typer.Option(help="IoU threshold of VOC AP, F1, PR curves, confusion, errors.")] = 0.5,
    conf: Annotated[float, typer.Option(help="Score threshold of the confusion matrix.")] = 0.25,
    split: Annotated[str | None, typer.Option(help="Evaluate only this split of the ground truth.")] = None,
    gt_format: Annotated[str, typer.Option("--gt-format", help="Ground-truth format or 'auto'.")] = "auto",
    pred_format: Annotated[str, typer.Option("--pred-format", help="Prediction format or 'auto'.")] = "auto",
    report: Annotated[Path | None, typer.Option(help="Write plots, result.json and index.html here.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace the --report folder if it exists.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print every number as JSON (errors too).")] = False,
) -> None:
    """Evaluate predictions against ground truth."""
    from dataprep.evaluation import evaluate

    with _render.guard(f"evaluating {pred}", json=as_json):
        result = evaluate(
            gt,
            pred,
            iou_type=iou_type.value,
            iou=iou,
            conf=conf,
            split=split,
            gt_format=gt_format,
            pred_format=pred_format,
        )
        if report is not None:
            result.write_report(report, overwrite=overwrite)
    _render_evaluate.emit(result, as_json=as_json, report=report)
