"""The main job on the bundled samples, start to end (what ``dataprep demo`` runs and renders).

Converts the detection sample COCO -> YOLO -> VOC -> COCO and the classification folders -> CSV,
validates the samples, re-splits the classification sample (stratified, seeded, written back as
class folders), trains LeNet on it with online augmentation, trains the grid detector on the
detection sample for a short wall-clock budget, and evaluates both on their test splits into HTML
reports. Every step goes through the public API, so this module is also a short tour of it.
Torch is imported only when the training starts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# (source, destination folder name, target format); "@name" is an earlier step's output
CHAIN = [("detection/coco", "yolo", "yolo"), ("@yolo", "voc", "voc"), ("@voc", "coco", "coco"),
         ("classification/folders", "csv", "csv")]  # fmt: skip
SAMPLES = ("detection/coco", "detection/voc", "detection/yolo", "classification/folders")
SPLIT_SAMPLE = "classification/folders"
# online augmentation for digits: no flips (a flipped 2 is not a 2), small shifts, scales and turns
DIGITS_AUGMENT = {"version": 1, "transforms": [
    {"type": "scale", "factor": [0.9, 1.1], "p": 0.5}, {"type": "translate", "fraction": 0.08, "p": 0.5},
    {"type": "rotate", "degrees": 8, "p": 0.5}]}  # fmt: skip
STAGES = ("source", "conversions", "validation", "split", "runs")


@dataclass
class DemoResult:
    """What the demo did, filled stage by stage (`STAGES`).

    Attributes:
        source: the first sample as `dataprep.formats.load` returned it, at `source_path`.
        conversions: per step ``step, output, images, labels, classes, losses`` (``code (count)`` list).
        validation: per sample ``sample, errors, warnings, info, exit_code``.
        split: the `dataprep.splits.SplitResult` of the classification sample, written to `split_path`.
        runs: per trained model ``title, model, run, epochs, metric, test`` (None without a test split)
            and ``report`` (the HTML report path).
        exit_code: the worst validation exit code (0: no errors).
    """

    out: Path
    source_path: Path | None = None
    source: Any = None
    conversions: list[dict[str, Any]] = field(default_factory=list)
    validation: list[dict[str, Any]] = field(default_factory=list)
    split_path: Path | None = None
    split: Any = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int = 0


def run_demo(
    samples: str | Path,
    out: str | Path,
    *,
    epochs: int = 15,
    detector_seconds: float = 60.0,
    threads: int | None = None,
    on_stage: Callable[[str, DemoResult], None] | None = None,
    progress: Callable[[], AbstractContextManager[Any]] | None = None,
) -> DemoResult:
    """Run the main job on the samples folder, writing under `out` (replaced where it exists).

    Args:
        epochs: LeNet epochs on the classification sample.
        detector_seconds: the grid detector's wall-clock budget, seconds.
        threads: torch threads (default: the free cores).
        on_stage: called with each finished stage's name (`STAGES`) and the result so far.
        progress: a context manager factory whose value has `train`'s ``on_start``, ``on_step``
            and ``on_epoch`` callbacks (one per training run), e.g. a progress bar.

    Raises:
        DataprepError: a step failed (unreadable sample, refused output, bad option).
    """
    from dataprep import formats
    from dataprep.splits import split_files
    from dataprep.validation import validate

    samples, result = Path(samples), DemoResult(Path(out))
    notify = on_stage or (lambda stage, res: None)
    result.source_path = samples / CHAIN[0][0]
    result.source = formats.load(result.source_path)
    notify("source", result)
    result.conversions = [_convert(samples, result.out, *step) for step in CHAIN]
    notify("conversions", result)
    for sample in SAMPLES:
        report = validate(samples / sample)
        counts = report.findings["severity"].value_counts() if len(report.findings) else {}
        levels = {"errors": "error", "warnings": "warning", "info": "info"}
        row = {key: int(counts.get(severity, 0)) for key, severity in levels.items()}
        result.validation.append({"sample": sample, **row, "exit_code": int(report.exit_code)})
        result.exit_code = max(result.exit_code, int(report.exit_code))
    notify("validation", result)
    # the sample's own format (class folders), re-split stratified with seed 0
    result.split_path = result.out / "split"
    result.split = split_files(samples / SPLIT_SAMPLE, result.split_path, overwrite=True, ratios="70,20,10")
    notify("split", result)
    for title, data, config in _runs(samples, result.split_path, epochs, detector_seconds, threads):
        result.runs.append(_train(title, data, config, result.out / ("train-" + config.model), progress))
    notify("runs", result)
    return result


def _convert(samples: Path, out: Path, src: str, name: str, to: str) -> dict[str, Any]:
    """One conversion step, read back: what was written and what the target format could not keep."""
    from dataprep import formats
    from dataprep.summary import summarize

    src_path = out / src[1:] if src.startswith("@") else samples / src
    converted = formats.convert(src_path, out / name, to=to, overwrite=True)
    totals = summarize(formats.read(out / name, to)).totals
    return {
        "step": f"{converted.source.format} -> {to}",
        "output": str(out / name),
        "images": totals["images"],
        "labels": totals["boxes"] or totals["image_labels"],
        "classes": totals["categories"],
        "losses": [f"{x.code} ({x.count})" for x in converted.written.losses],
    }


def _runs(samples: Path, split: Path, epochs: int, detector_seconds: float, threads: int | None) -> list[tuple]:
    """``(title, data, TrainConfig)`` of the two training runs."""
    from dataprep.training import TrainConfig

    lenet = TrainConfig(model="lenet", epochs=epochs, augment=DIGITS_AUGMENT, lr=2e-3, threads=threads)
    detector = TrainConfig(model="grid-detector", epochs=200, time_limit=detector_seconds, lr=3e-3, threads=threads)
    return [
        ("classification (LeNet)", split, lenet),
        ("detection (grid detector)", samples / "detection/coco", detector),
    ]


def _train(
    title: str, data: Path, config: Any, run: Path, progress: Callable[[], AbstractContextManager[Any]] | None
) -> dict[str, Any]:
    """Train and test one model into `run`; its row of `DemoResult.runs`."""
    from dataprep.training import train

    with progress() if progress is not None else contextlib.nullcontext() as bar:
        callbacks = {k: getattr(bar, k) for k in ("on_start", "on_step", "on_epoch")} if bar is not None else {}
        result = train(data, config, run, overwrite=True, **callbacks)
    summary = result.to_dict()
    return {
        "title": title,
        "model": config.model,
        "run": str(run),
        "epochs": summary["epochs_run"],
        "metric": summary["metric"],
        "test": None if result.test is None else float(result.test[summary["metric"]]),
        "report": str(run / "report" / "index.html"),
    }
