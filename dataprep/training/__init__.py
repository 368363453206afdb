"""train(): a bundled net on a dataset's train/val/test splits -> a run folder you can trust and resume.

`TrainConfig` is the single source of hyper-parameters (CLI flags map onto its fields, presets in
``models/*.json`` fill it); `train` prepares data, net and optimizer and calls `fit`, one loop you
can read top to bottom: train an epoch, validate, write ``last.pt`` (and ``best.pt`` when the
validation metric improved), stop on patience or the wall-clock budget. At the end the best
checkpoint is evaluated on the test split with `dataprep.evaluate` and its report written.

The package, by role: `config` (TrainConfig), `prepare` (dataset -> splits, net meta, torch
datasets), `loop` (`fit` and its epoch), `schedule` (learning rate, step/wall-clock progress,
threads, torchrun ranks), `run_dir` (checkpoints and the run folder's files); this module is the
entry point (`train`, `run_command`).

RUN_DIR::

    config.json         every option, library versions, thread count, classes, layout
    metrics.csv         one row per epoch: lr, train loss, val loss/metric, seconds
    curves.png          loss and validation metric per epoch
    weights/last.pt     model, optimizer, schedule state, epoch, RNG state, meta (class map, layout)
    weights/best.pt     the same at the best validation metric
    report/             the evaluate report of best.pt on the test split (index.html, result.json)
    result.json         summary: best epoch, val metric, test metrics

Every file is written to a temporary name and renamed, so a kill never leaves a torn checkpoint.
Deterministic on CPU with a seed at a fixed thread count (recorded; 1 and 2 threads give
different weights): the epoch order is ``default_rng([seed, epoch])``, augmentation
``default_rng([seed, image_id, epoch])``, and torch's RNG state travels in the checkpoint, so
`--resume` after k epochs reaches the same weights as an uninterrupted run.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dataprep.dataset import Dataset
from dataprep.errors import InputError, UsageError
from dataprep.training.config import METRIC, TrainConfig, TrainingDiverged
from dataprep.training.loop import EpochCallback, History, StepCallback, detection_predictions, fit
from dataprep.training.prepare import Setup, make_setup, prepare_dataset
from dataprep.training.run_dir import (
    CHECKPOINT_VERSION,
    build_net,
    check_out,
    load_checkpoint,
    plot_curves,
    save_checkpoint,
    versions,
    write_json,
)
from dataprep.training.schedule import barrier, distributed, free_cores, lr_at

__all__ = [
    "CHECKPOINT_VERSION",
    "METRIC",
    "History",
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "build_net",
    "distributed",
    "fit",
    "free_cores",
    "load_checkpoint",
    "lr_at",
    "prepare_dataset",
    "run_command",
    "save_checkpoint",
    "train",
]


@dataclass
class TrainResult:
    """What a run produced: where, its history, and the test metrics of the best checkpoint."""

    out: Path
    config: TrainConfig
    meta: dict[str, Any]
    history: History
    test: dict[str, Any] | None
    report: Path | None
    threads: int
    rank: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "rank": self.rank,
            "task": self.meta["task"],
            "model": self.config.model,
            "metric": METRIC[self.meta["task"]],
            "best_epoch": self.history.best_epoch,
            "best_val_metric": self.history.best_metric,
            "epochs_run": len(self.history.records),
            "stopped": self.history.stopped,
            "threads": self.threads,
            "test": self.test,
            "report": None if self.report is None else str(self.report),
            "weights": {"best": str(self.out / "weights" / "best.pt"), "last": str(self.out / "weights" / "last.pt")},
            "history": self.history.records,
        }


def train(
    data: Dataset | str | Path,
    config: TrainConfig,
    out: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    on_step: StepCallback | None = None,
    on_epoch: EpochCallback | None = None,
    on_start: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train a bundled net on `data`'s train split, keeping the best on val, and test it.

    Args:
        data: a Dataset or a dataset path (any format `dataprep.read` takes) with train and val
            splits (or `config.split_ratios`).
        out: the run folder (see the module docstring).
        resume: continue the run in `out` from ``weights/last.pt`` with its recorded config.
        on_start: called once with the run's ``config.json`` content (for progress displays).

    Raises:
        UsageError: bad options, no split, a net that does not fit the data.
        OutputError: `out` exists (neither `overwrite` nor `resume`).
        InputError: unreadable data or checkpoint.
        TrainingDiverged: a non-finite loss.
    """
    out = Path(out)
    rank, world = distributed()
    owns_group = False
    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo" if config.device == "cpu" else "nccl")
            owns_group = True
    config, state = _start(config, out, resume=resume, overwrite=overwrite, rank=rank, world=world)
    threads = config.threads or free_cores()
    config = config.replace(threads=threads)
    torch.set_num_threads(threads)
    ds = prepare_dataset(data, config)
    setup = make_setup(ds, config)
    torch.manual_seed(config.seed)
    net = build_net(setup.meta).to(config.device)
    if state is not None:
        net.load_state_dict(state["model"])
    run_config = _run_config(data, config, setup, net, world)
    if rank == 0:
        write_json(out / "config.json", run_config)
        if on_start is not None:
            on_start(run_config)
    history = fit(net, setup, config, out, state=state, on_step=on_step if rank == 0 else None, on_epoch=on_epoch)
    if owns_group:
        # every rank leaves the group together: a rank exiting while the others still hold gloo's
        # threads aborts ("terminate called without an active exception", SIGABRT) now and then.
        # The DDP wrapper and its reducer (reference cycles) are freed first, while the group lives.
        gc.collect()
        barrier(world)
        dist.destroy_process_group()
    if rank != 0:
        return TrainResult(out, config, setup.meta, history, None, None, threads, rank=rank)
    if history.records:
        plot_curves(history.records, out / "curves.png", METRIC[setup.task])
    test, report = None, None
    if history.stopped != "interrupted" and setup.test is not None:
        test, report = _test(setup, config, out)
    result = TrainResult(out, config, setup.meta, history, test, report, threads)
    write_json(out / "result.json", result.to_dict())
    return result


def _start(
    config: TrainConfig, out: Path, *, resume: bool, overwrite: bool, rank: int, world: int
) -> tuple[TrainConfig, dict[str, Any] | None]:
    """The config and checkpoint a run starts from: a resumed run's own (``weights/last.pt``), or
    `config` checked and `out` made free (by rank 0) for a new run."""
    if resume:
        state = load_checkpoint(out / "weights" / "last.pt")
        return TrainConfig.from_dict(state["config"]), state
    config.check()
    if rank == 0:
        check_out(out, overwrite)
    barrier(world)
    return config, None


def _run_config(
    data: Dataset | str | Path, config: TrainConfig, setup: Setup, net: torch.nn.Module, world: int
) -> dict[str, Any]:
    """``config.json``: every option, the data, task, threads, library versions, net meta, split sizes."""
    return {
        "train": config.to_dict(),
        "data": str(data) if not isinstance(data, Dataset) else repr(data),
        "task": setup.task,
        "threads": config.threads,
        "versions": versions(),
        "meta": setup.meta,
        "splits": {k: len(v.images) for k, v in setup.datasets.items()},
        "parameters": sum(p.numel() for p in net.parameters()),
        "world_size": world,
    }


def _test(setup: Setup, config: TrainConfig, out: Path) -> tuple[dict[str, Any], Path]:
    """Evaluate ``weights/best.pt`` on the test split with `dataprep.evaluate`; write its report."""
    from dataprep.evaluation import evaluate
    from dataprep.prediction import classification_predictions, predict_classes

    ckpt = load_checkpoint(out / "weights" / "best.pt")
    net = build_net(setup.meta).to(config.device)
    net.load_state_dict(ckpt["model"])
    gt = setup.test.dataset
    category_ids = np.asarray(setup.meta["category_ids"])
    if setup.task == "classification":
        cls, probs = predict_classes(net, setup.test, device=config.device)
        pred = classification_predictions(gt, setup.test.image_ids, cls, probs, category_ids)
    else:
        pred = detection_predictions(net, setup, setup.test, config)
    result = evaluate(gt, pred)
    report = result.write_report(out / "report", overwrite=True)
    data = result.to_dict()
    keep = ("accuracy", "top1", "top5", "macro", "weighted", "counts") if setup.task == "classification" else (
        "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "voc", "best_f1", "counts"
    )  # fmt: skip
    return {k: data[k] for k in keep if k in data}, report


def run_command(
    data: str | Path | None,
    config: TrainConfig | None,
    *,
    out: str | Path,
    resume: bool = False,
    overwrite: bool = False,
    export: str | None = None,
    on_start: Callable[[dict[str, Any]], None] | None = None,
    on_step: StepCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> dict[str, Any]:
    """What ``dataprep train`` runs: `train` (DATA from the run's config.json on resume), then `--export`.

    Returns:
        ``result.json``'s content, plus ``export`` (format -> file, check, images/s) when asked.

    Raises:
        UsageError: no DATA for a new run, or an unknown export format.
    """
    from dataprep.prediction import EXPORT_FORMATS, export_model

    if export is not None and export not in EXPORT_FORMATS:
        raise UsageError(f"--export {export!r}: choose one of {', '.join(EXPORT_FORMATS)}")
    out = Path(out)
    if resume:
        if data is None:
            saved = out / "config.json"
            if not saved.is_file():
                raise InputError(saved, "no config.json: not a run folder", hint="Pass the folder given to --out")
            data = json.loads(saved.read_text(encoding="utf-8"))["data"]
        config = config or TrainConfig()
    elif data is None:
        raise UsageError("DATA is missing: pass the dataset to train on (or --resume RUN_DIR to continue a run)")
    if config is None:
        raise UsageError("no training configuration: pass --model")
    result = train(
        data, config, out, resume=resume, overwrite=overwrite, on_start=on_start, on_step=on_step, on_epoch=on_epoch
    )
    summary = result.to_dict()
    if export is not None:
        summary["export"] = export_model(out / "weights" / "best.pt", out / "export", format=export)
    return summary
