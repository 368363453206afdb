"""``dataprep demo``: the main job on the bundled samples, start to end.

Converts the detection sample COCO -> YOLO -> VOC -> COCO and the classification folders -> CSV,
validates the samples, re-splits the classification sample (stratified, seeded), trains LeNet
on it with online augmentation, trains the grid detector on the detection sample for a short
wall-clock budget, and evaluates both on their test splits into HTML reports. Every step goes
through the public API, so this file is also a short tour of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dataprep.cli import _render, _render_train, info

HELP = f"""Run the main job on the bundled samples: convert between every format, validate, split,
train LeNet (classification) and the grid detector (detection), and evaluate both on their test
splits into HTML reports, in a few minutes on 2 cores. Writes under OUT (replaced if it exists).
{_render.EXIT_CODES_HELP}"""

# (source, destination folder name, target format)
CHAIN = [("detection/coco", "yolo", "yolo"), ("@yolo", "voc", "voc"), ("@voc", "coco", "coco"),
         ("classification/folders", "csv", "csv")]  # fmt: skip
SAMPLES = ("detection/coco", "detection/voc", "detection/yolo", "classification/folders")
# online augmentation for digits: no flips (a flipped 2 is not a 2), small shifts, scales and turns
DIGITS_AUGMENT = {"version": 1, "transforms": [
    {"type": "scale", "factor": [0.9, 1.1], "p": 0.5}, {"type": "translate", "fraction": 0.08, "p": 0.5},
    {"type": "rotate", "degrees": 8, "p": 0.5}]}  # fmt: skip


def command(
    samples: Annotated[Path, typer.Option(help="The samples folder.")] = Path("samples"),
    out: Annotated[Path, typer.Option(help="Where the outputs go (replaced).")] = Path("out/demo"),
    epochs: Annotated[int, typer.Option(help="LeNet epochs on the classification sample.")] = 15,
    detector_seconds: Annotated[float, typer.Option(help="Wall-clock budget of the grid detector.")] = 60,
    threads: Annotated[int | None, typer.Option(help="torch threads (default: the free cores).")] = None,
) -> None:
    """Run the main job on the bundled samples."""
    from dataprep import formats
    from dataprep.splits import split_files
    from dataprep.summary import summarize
    from dataprep.training import TrainConfig, train
    from dataprep.validation import validate

    console = _render.console()
    rows, vrows, worst = [], [], 0
    with _render.guard(crash="running the demo"):
        loaded = formats.load(samples / CHAIN[0][0])
        info.print_summary(samples / CHAIN[0][0], loaded.format, summarize(loaded.dataset), notes=loaded.notes)
        for src, name, to in CHAIN:
            src_path = out / src[1:] if src.startswith("@") else samples / src
            result = formats.convert(src_path, out / name, to=to, overwrite=True)
            t = summarize(formats.read(out / name, to)).totals
            losses = ", ".join(f"{x.code} ({x.count})" for x in result.written.losses) or "lossless"
            step = f"{result.source.format} -> {to}"
            rows.append([step, str(out / name), t["images"], t["boxes"] or t["image_labels"], t["categories"], losses])
        console.print(_render.table("Conversions", ["step", "output", "images", "labels", "classes", "not kept"], rows))
        for sample in SAMPLES:
            report = validate(samples / sample)
            worst = max(worst, int(report.exit_code))
            counts = report.findings["severity"].value_counts() if len(report.findings) else {}
            levels = [int(counts.get(s, 0)) for s in ("error", "warning", "info")]
            vrows.append([sample, *levels, int(report.exit_code)])
        console.print(
            _render.table("Validation of the samples", ["sample", "errors", "warnings", "info", "exit"], vrows)
        )
        split = split_files(
            samples / "classification/folders", out / "split", to="csv", overwrite=True, ratios="70,20,10"
        )
        parts = ", ".join(f"{name} {n}" for name, n in split.splits["images"].items())
        console.print(f"split classification/folders -> {out / 'split'} (stratified, seed 0): {parts}", soft_wrap=True)
        runs = {
            "classification (LeNet)": (out / "split", TrainConfig(model="lenet", epochs=epochs, augment=DIGITS_AUGMENT,
                                                                    lr=2e-3, threads=threads)),
            "detection (grid detector)": (samples / "detection/coco", TrainConfig(
                model="grid-detector", epochs=200, time_limit=detector_seconds, lr=3e-3, threads=threads)),
        }  # fmt: skip
        results = []
        for title, (data, config) in runs.items():
            with _render_train.Progress(quiet=False) as progress:
                run = out / ("train-" + config.model)
                result = train(data, config, run, overwrite=True, on_start=progress.on_start,
                               on_step=progress.on_step, on_epoch=progress.on_epoch)  # fmt: skip
            metric = result.to_dict()
            key = "accuracy" if metric["task"] == "classification" else "AP50"
            results.append([title, metric["epochs_run"], float(result.test[key]) if result.test else "-", key,
                            f"{run}/report/index.html"])  # fmt: skip
        console.print(_render.table("Trained and evaluated on the test split", ["model", "epochs", "test", "metric",
                                                                                 "report"], results))  # fmt: skip
    console.print(f"reports: {results[0][4]} and {results[1][4]}", soft_wrap=True)
    if worst:
        raise typer.Exit(worst)
