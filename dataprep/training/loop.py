"""`fit`: the training loop, one epoch after another, with its validation and per-epoch checkpoint."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from dataprep.data import DetectionCollate, DetectionData, EpochSampler, classification_collate
from dataprep.dataset import Dataset
from dataprep.nets import LossGains, detection_loss
from dataprep.training.config import TrainConfig, TrainingDiverged
from dataprep.training.prepare import Setup
from dataprep.training.run_dir import checkpoint_state, write_epoch
from dataprep.training.schedule import Clock, distributed, from_rank0, lr_at


@dataclass
class History:
    """Per-epoch records (``epoch, step, lr, train_loss, val_loss, val_metric, seconds``) and the best epoch."""

    records: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_metric: float = -math.inf
    stopped: str = "epochs"

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.records)


def _batch_loss(net: nn.Module, batch: dict[str, Any], setup: Setup, device: str) -> torch.Tensor:
    if setup.task == "classification":
        return F.cross_entropy(net(batch["images"].to(device)), batch["labels"].to(device))
    outputs = net(batch["images"].to(device))
    targets = {k: v.to(device) for k, v in batch["targets"].items()}
    loss, _ = detection_loss(outputs, targets, batch["gt_boxes"].to(device), setup.layout, LossGains())
    return loss


@torch.no_grad()
def _validate(net: nn.Module, setup: Setup, config: TrainConfig, device: str) -> tuple[float, float]:
    """``(val_loss, val_metric)``: accuracy for classifiers, COCO AP50 (`evaluate`) for the detector."""
    net.eval()
    total, n, correct = 0.0, 0, 0
    for batch in _loader(setup.val, setup, config.batch_size, seed=0, shuffle=False):
        images = batch["images"].to(device)
        if setup.task == "classification":
            logits = net(images)
            loss = F.cross_entropy(logits, batch["labels"].to(device))
            correct += int((logits.argmax(1).cpu() == batch["labels"]).sum())
        else:
            loss = _batch_loss(net, batch, setup, device)
        total, n = total + loss.item() * len(images), n + len(images)
    if setup.task == "classification":
        return total / max(n, 1), correct / max(n, 1)
    return total / max(n, 1), _detection_stats(net, setup, setup.val, config)["AP50"]


def _detection_stats(net: nn.Module, setup: Setup, data: DetectionData, config: TrainConfig) -> dict[str, float]:
    """The 12 COCO stats of `net` on `data` (`dataprep.evaluate`)."""
    from dataprep.evaluation import evaluate

    pred = detection_predictions(net, setup, data, config)
    return evaluate(data.dataset, pred).stats


def detection_predictions(net: nn.Module, setup: Setup, data: DetectionData, config: TrainConfig) -> Dataset:
    from dataprep.prediction import predict_boxes

    table = predict_boxes(
        net,
        data,
        setup.layout,
        np.asarray(setup.meta["category_ids"]),
        conf_threshold=config.conf_threshold,
        iou_threshold=config.iou_threshold,
        device=config.device,
    )
    gt = data.dataset
    return Dataset.from_frames(gt.images, table, gt.categories, root=gt.root)


def _loader(data: Any, setup: Setup, batch_size: int, *, seed: int, shuffle: bool, rank: int = 0, world: int = 1):
    collate = classification_collate if setup.task == "classification" else DetectionCollate(setup.layout)
    sampler = EpochSampler(len(data), seed=seed, shuffle=shuffle, rank=rank, world=world)
    return DataLoader(data, batch_size=batch_size, sampler=sampler, num_workers=0, collate_fn=collate)


StepCallback = Callable[[int, int, float], None]
EpochCallback = Callable[[dict[str, float]], "bool | None"]


def fit(
    net: nn.Module,
    setup: Setup,
    config: TrainConfig,
    out: Path,
    *,
    state: dict[str, Any] | None = None,
    on_step: StepCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> History:
    """Train `net` (one readable loop), checkpointing into ``out/weights`` every epoch.

    `state` is a checkpoint to continue from (`--resume`). `on_step(step_in_epoch, steps_per_epoch,
    loss)` and `on_epoch(record)` report progress; `on_epoch` returning False stops the run
    after that epoch's checkpoint (as a kill would). Under torchrun (`distributed`) `net` is
    wrapped in DistributedDataParallel, each rank takes every world-th image of the epoch's
    order, rank 0 validates and writes, and the ranks follow rank 0's lr and stop decisions.

    Raises:
        TrainingDiverged: a non-finite loss, with the epoch, step and value.
    """
    rank, world = distributed()
    model = _distributed_model(net, config.device, world)  # what is trained: net itself, or its DDP wrapper
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loader = _loader(setup.train, setup, config.batch_size, seed=config.seed, shuffle=True, rank=rank, world=world)
    total_steps = len(loader) * config.epochs
    history, epoch, step, elapsed = _restore(state, optimizer)
    started = time.perf_counter() - elapsed
    clock = Clock(started, total_steps, config, world)
    while epoch < config.epochs:
        t0 = time.perf_counter()
        loader.sampler.set_epoch(epoch)
        setup.train.set_epoch(epoch)
        train_loss, step = _train_epoch(model, loader, optimizer, setup, config, clock, epoch, step, on_step)
        epoch += 1
        if rank != 0:  # rank 0 validates, writes and decides; the others follow
            if from_rank0(0.0, world):
                break
            continue
        val_loss, val_metric = _validate(net, setup, config, config.device)
        lr = optimizer.param_groups[0]["lr"]
        record = {"epoch": epoch, "step": step, "lr": lr, "train_loss": train_loss, "val_loss": val_loss,
                  "val_metric": val_metric, "seconds": time.perf_counter() - t0}  # fmt: skip
        history.records.append(record)
        improved = val_metric >= history.best_metric  # ties go to the later, longer-trained epoch
        if improved:
            history.best_epoch, history.best_metric = epoch, val_metric
        out_of_time = clock.out_of_time()
        patience_out = config.patience is not None and epoch - history.best_epoch >= config.patience
        if out_of_time or patience_out:
            history.stopped = "time-limit" if out_of_time else "patience"
        schedule = {"step": step, "elapsed": time.perf_counter() - started, "total_steps": total_steps}
        ckpt = checkpoint_state(net, optimizer, schedule, epoch, dataclasses.asdict(history), setup.meta, config)
        write_epoch(out, ckpt, history.records, best=improved)  # last.pt (best.pt), metrics.csv
        stop = on_epoch is not None and on_epoch(record) is False
        if stop:
            history.stopped = "interrupted"
        if from_rank0(float(stop or out_of_time or patience_out), world):
            break
    return history


def _distributed_model(net: nn.Module, device: str, world: int) -> nn.Module:
    """`net` wrapped in DistributedDataParallel under torchrun, `net` itself otherwise."""
    if world == 1:
        return net
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(net, device_ids=None if device == "cpu" else [torch.cuda.current_device()])


def _restore(state: dict[str, Any] | None, optimizer: torch.optim.Optimizer) -> tuple[History, int, int, float]:
    """``(history, epoch, step, elapsed seconds)`` of a checkpoint to resume (optimizer and torch RNG
    restored in place), or of a fresh run."""
    if state is None:
        return History(), 0, 0, 0.0
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"]["torch"])
    schedule = state["schedule"]
    return History(**state["history"]), state["epoch"], schedule["step"], schedule["elapsed"]


def _train_epoch(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    setup: Setup,
    config: TrainConfig,
    clock: Clock,
    epoch: int,
    step: int,
    on_step: StepCallback | None,
) -> tuple[float, int]:
    """One pass over the train loader (stopping early when the time budget is spent): mean loss, step."""
    model.train()
    total, seen = 0.0, 0
    for i, batch in enumerate(loader):
        progress = clock.progress(step)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(min(progress, 1.0), config)
        loss = _batch_loss(model, batch, setup, config.device)
        if not torch.isfinite(loss):
            raise TrainingDiverged(
                f"training diverged: loss {loss.item()} at epoch {epoch + 1}, step {i + 1}. "
                f"Lower --lr (now {config.lr:g}) or check the labels with `dataprep validate`"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        value = loss.item()
        total, seen = total + value * len(batch["images"]), seen + len(batch["images"])
        if on_step is not None:
            on_step(i + 1, len(loader), value)
        if config.time_limit is not None and progress >= 1.0:
            break
    return total / max(seen, 1), step
