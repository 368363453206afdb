"""train(): a bundled net on a dataset's train/val/test splits -> a run folder you can trust and resume.

`TrainConfig` is the single source of hyper-parameters (CLI flags map onto its fields, presets in
``models/*.json`` fill it); `train` prepares data, net and optimizer and calls `fit`, one loop you
can read top to bottom: train an epoch, validate, write ``last.pt`` (and ``best.pt`` when the
validation metric improved), stop on patience or the wall-clock budget. At the end the best
checkpoint is evaluated on the test split with `dataprep.evaluate` and its report written.

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

import csv
import dataclasses
import io
import json
import math
import os
import platform
import tempfile
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

from dataprep.data import (
    ClassificationData,
    DetectionCollate,
    DetectionData,
    EpochSampler,
    classification_collate,
    image_channels,
)
from dataprep.dataset import Dataset
from dataprep.errors import DataprepError, ExitCode, InputError, OutputError, UsageError
from dataprep.nets import CLASSIFIERS, DETECTORS, NETS, LossGains, detection_loss, make_net

METRIC = {"classification": "accuracy", "detection": "AP50"}
CHECKPOINT_VERSION = 1


class TrainingDiverged(DataprepError):
    """The loss became NaN or infinite; names the epoch, step and value."""

    exit_code = ExitCode.FINDINGS


@dataclass
class TrainConfig:
    """Hyper-parameters of a run (CLI flags and ``models/*.json`` presets map onto these fields).

    Attributes:
        model: a `dataprep.nets.NETS` name.
        epochs: passes over the train split (the most, with `time_limit`).
        lr, weight_decay: AdamW; the schedule is linear warm-up over `warmup` of the run, then cosine
            to 5 % of `lr`, over epochs or, with `time_limit`, over the wall-clock budget (seconds).
        img_size: network input side, pixels (default: 128 for the detector, the images' side
            up to 64 for classifiers).
        augment: an augmentation preset name, pipeline file or pipeline dict (`dataprep.augmentation`),
            applied online to the train split only.
        patience: stop after this many epochs without a better validation metric.
        threads: torch intra-op threads (default: the free cores); recorded, resume uses it.
        split_ratios: split in memory (seeded) when the data has no train/val split, e.g. ``70,20,10``.
        net_options: extra constructor arguments of the net (``width``, ``dropout``...).
        anchors, stride: detector: k-means anchors on the train boxes and the output stride.
        conf_threshold, iou_threshold: detector: decode score threshold and per-class NMS IoU.
    """

    model: str = "lenet"
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 5e-4
    warmup: float = 0.05
    img_size: int | None = None
    augment: str | dict[str, Any] | None = None
    seed: int = 0
    patience: int | None = None
    time_limit: float | None = None
    device: str = "cpu"
    threads: int | None = None
    split_ratios: str | None = None
    net_options: dict[str, Any] = field(default_factory=dict)
    anchors: int = 3
    stride: int = 8
    conf_threshold: float = 0.01
    iou_threshold: float = 0.45

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with the given fields changed (None values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> TrainConfig:
        """A config from a dict (a preset file or a run's ``config.json`` ``train`` section).

        Raises:
            UsageError: an unknown key, naming it and the known ones.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known - {"description", "card"})
        if unknown:
            raise UsageError(f"{source}: unknown keys {unknown}; known: {', '.join(sorted(known))}")
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_preset(cls, spec: str | Path) -> TrainConfig:
        """A config from a ``models/*.json`` preset file, or a bare net name (defaults).

        Raises:
            UsageError: not a net name and not a readable preset file.
        """
        name = str(spec)
        if name in NETS:
            return cls(model=name)
        path = Path(spec)
        if not path.is_file():
            raise UsageError(
                f"--model {name!r}: not a net ({', '.join(NETS)}) and no such preset file. "
                "Pass a net name or a preset such as models/lenet-digits.json"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise UsageError(f"--model {path}: not a readable JSON preset ({err})") from None
        if not isinstance(data, dict) or data.get("model") not in NETS:
            raise UsageError(f'--model {path}: a preset needs "model": one of {", ".join(NETS)}')
        return cls.from_dict(data, source=str(path))

    def check(self) -> None:
        """Raises `UsageError` for values that cannot work, naming the option and the fix."""
        problems = [
            (self.model not in NETS, f"--model {self.model!r}: choose one of {', '.join(NETS)}"),
            (self.epochs < 1, f"--epochs {self.epochs}: train at least 1 epoch"),
            (self.batch_size < 1, f"--batch-size {self.batch_size}: must be at least 1"),
            (not self.lr > 0, f"--lr {self.lr}: the learning rate must be positive (e.g. 0.001)"),
            (self.img_size is not None and self.img_size < 4, f"--img-size {self.img_size}: at least 4 pixels"),
            (self.patience is not None and self.patience < 1, f"--patience {self.patience}: at least 1 epoch"),
            (self.time_limit is not None and not self.time_limit > 0, f"--time-limit {self.time_limit}: seconds > 0"),
            (self.threads is not None and self.threads < 1, f"--threads {self.threads}: at least 1"),
            (self.device not in ("cpu", "cuda"), f"--device {self.device!r}: cpu or cuda"),
            (not 0 <= self.warmup < 1, f"warmup {self.warmup}: a fraction of the run in [0, 1)"),
        ]
        for bad, message in problems:
            if bad:
                raise UsageError(message)
        if self.device == "cuda" and not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is available here. Use --device cpu")
        if self.model in DETECTORS and (self.stride < 2 or self.stride & (self.stride - 1)):
            raise UsageError(f"stride {self.stride}: a power of two (8, 16, 32)")


def free_cores() -> int:
    """Cores not busy right now: usable CPUs minus the 1-minute load average, at least 1."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return max(1, min(cpus, round(cpus - load)))


def distributed() -> tuple[int, int]:
    """``(rank, world_size)`` from torchrun's environment (``(0, 1)`` outside torchrun)."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _from_rank0(value: float, world: int) -> float:
    """`value` as rank 0 has it (ranks must agree on the lr and on when to stop)."""
    if world == 1:
        return value
    import torch.distributed as dist

    t = torch.tensor([float(value)], dtype=torch.float64)
    dist.broadcast(t, src=0)
    return float(t.item())


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


# ---------------------------------------------------------------------------------------
# files


def _atomic_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a temporary sibling and rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """`torch.save` `state` to a temporary file beside `path`, then rename it into place."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    _atomic_bytes(Path(path), buffer.getvalue())
    return Path(path)


def load_checkpoint(source: str | Path) -> dict[str, Any]:
    """A checkpoint dict from a file, or a run folder's ``weights/best.pt``.

    Raises:
        InputError: no such file, or not a dataprep checkpoint.
    """
    path = Path(source)
    if path.is_dir():
        path = path / "weights" / "best.pt"
    if not path.is_file():
        raise InputError(path, "no checkpoint here", hint="Pass a run folder (with weights/best.pt) or a .pt file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises many kinds on a truncated or foreign file
        problem = f"not a readable checkpoint ({type(err).__name__})"
        raise InputError(path, problem, hint="Re-run the training, or resume from weights/last.pt") from None
    if not isinstance(ckpt, dict) or "meta" not in ckpt or "model" not in ckpt:
        raise InputError(path, "not a dataprep checkpoint (no 'meta' and 'model')", hint="Use a file written by train")
    return ckpt


def build_net(meta: dict[str, Any]) -> nn.Module:
    """The net a checkpoint's ``meta`` describes (random weights: load ``ckpt["model"]`` next)."""
    from dataprep.encoding import Layout

    layout = Layout.from_dict(meta["layout"]) if meta.get("layout") else None
    return make_net(
        meta["model"],
        num_classes=len(meta["category_ids"]),
        in_channels=meta["in_channels"],
        img_size=meta["img_size"],
        layout=layout,
        options=meta.get("net_options"),
    )


# ---------------------------------------------------------------------------------------
# data


def prepare_dataset(data: Dataset | str | Path, config: TrainConfig) -> Dataset:
    """The dataset with train/val(/test) splits, split in memory when `config.split_ratios` says so.

    Raises:
        UsageError: no train and val split and no `split_ratios`.
    """
    if isinstance(data, Dataset):
        ds = data
    else:
        from dataprep.formats import read

        ds = read(data)
    if config.split_ratios is not None:
        from dataprep.splits import parse_ratios, split

        ratios = parse_ratios(config.split_ratios, option="--split-ratios")
        ds = split(ds, ratios=ratios, seed=config.seed)
    missing = [s for s in ("train", "val") if s not in ds.splits]
    if missing:
        have = ", ".join(ds.splits) or "none"
        raise UsageError(
            f"{data if not isinstance(data, Dataset) else 'the dataset'}: no {' or '.join(missing)} split "
            f"(splits: {have}). Run `dataprep split` first, or pass --split-ratios 70,20,10 to split in memory"
        )
    return ds


def _split(ds: Dataset, name: str) -> Dataset:
    return ds.select_images((ds.images["split"] == name).fillna(False).to_numpy(dtype=bool))


def _default_img_size(ds: Dataset, task: str) -> int:
    if task == "detection":
        return 128
    widths = ds.images["width"].dropna()
    if len(widths):
        side = int(max(widths.max(), ds.images["height"].dropna().max()))
    else:
        from dataprep.files import probe_image

        header = probe_image(ds.resolve(ds.images["file_name"].iloc[0]))
        side = max(header.width, header.height)
    return int(min(64, max(8, side)))


@dataclass
class _Setup:
    """Everything `fit` and the test evaluation need, built once from data and config."""

    task: str
    meta: dict[str, Any]
    train: Any
    val: Any
    test: Any
    datasets: dict[str, Dataset]
    layout: Any = None


def _setup(ds: Dataset, config: TrainConfig) -> _Setup:
    task = "detection" if ds.has_boxes else "classification"
    if task == "detection" and config.model not in DETECTORS:
        raise UsageError(f"--model {config.model}: the data has boxes; use --model {DETECTORS[0]}")
    if task == "classification" and config.model not in CLASSIFIERS:
        raise UsageError(
            f"--model {config.model}: the data has image-level labels, not boxes; use one of {', '.join(CLASSIFIERS)}"
        )
    img_size = config.img_size or _default_img_size(ds, task)
    channels = image_channels(ds)
    class_map = ds.class_index()
    meta: dict[str, Any] = {
        "task": task,
        "model": config.model,
        "net_options": dict(config.net_options),
        "img_size": img_size,
        "in_channels": channels,
        "category_ids": ds.categories.index.tolist(),
        "category_names": ds.categories["name"].astype(str).tolist(),
        "conf_threshold": config.conf_threshold,
        "iou_threshold": config.iou_threshold,
        "layout": None,
    }
    pipeline = None
    if config.augment:
        from dataprep.augmentation import load_pipeline

        pipeline = load_pipeline(config.augment)
    parts = {name: _split(ds, name) for name in ("train", "val", "test")}
    common = {"img_size": img_size, "channels": channels}
    if task == "classification":
        make = ClassificationData
        layout = None
    else:
        from dataprep.encoding import anchor_layout, box_sizes, kmeans_anchors

        if img_size % config.stride:
            raise UsageError(f"--img-size {img_size}: must be a multiple of the stride {config.stride}")
        wh = box_sizes(parts["train"], img_size)
        if len(wh) < config.anchors:
            raise UsageError(f"the train split has {len(wh)} boxes: too few to fit {config.anchors} anchors")
        fit = kmeans_anchors(wh, config.anchors, scales=1, seed=config.seed)
        layout = anchor_layout(fit.anchors, img_size=img_size, strides=(config.stride,), num_classes=len(class_map))
        meta["layout"] = layout.to_dict()
        make = DetectionData
    train = make(parts["train"], class_map, **common, pipeline=pipeline, seed=config.seed)
    val = make(parts["val"], class_map, **common)
    test = make(parts["test"], class_map, **common) if len(parts["test"].images) else None
    return _Setup(task, meta, train, val, test, parts, layout)


# ---------------------------------------------------------------------------------------
# the loop


def lr_at(progress: float, config: TrainConfig) -> float:
    """Learning rate at `progress` (0..1 of the run): linear warm-up, then cosine down to 5 % of `lr`."""
    if progress < config.warmup:
        return config.lr * (progress / config.warmup)
    t = min(1.0, (progress - config.warmup) / max(1e-9, 1 - config.warmup))
    return config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))


@dataclass
class History:
    """Per-epoch records (``epoch, step, lr, train_loss, val_loss, val_metric, seconds``) and the best epoch."""

    records: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_metric: float = -math.inf
    stopped: str = "epochs"

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.records)


def _batch_loss(net: nn.Module, batch: dict[str, Any], setup: _Setup, device: str) -> torch.Tensor:
    if setup.task == "classification":
        return F.cross_entropy(net(batch["images"].to(device)), batch["labels"].to(device))
    outputs = net(batch["images"].to(device))
    targets = {k: v.to(device) for k, v in batch["targets"].items()}
    loss, _ = detection_loss(outputs, targets, batch["gt_boxes"].to(device), setup.layout, LossGains())
    return loss


@torch.no_grad()
def _validate(net: nn.Module, setup: _Setup, config: TrainConfig, device: str) -> tuple[float, float]:
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


def _detection_stats(net: nn.Module, setup: _Setup, data: DetectionData, config: TrainConfig) -> dict[str, float]:
    """The 12 COCO stats of `net` on `data` (`dataprep.evaluate`)."""
    from dataprep.evaluation import evaluate

    pred = _detection_predictions(net, setup, data, config)
    return evaluate(data.dataset, pred).stats


def _detection_predictions(net: nn.Module, setup: _Setup, data: DetectionData, config: TrainConfig) -> Dataset:
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


def _loader(data: Any, setup: _Setup, batch_size: int, *, seed: int, shuffle: bool, rank: int = 0, world: int = 1):
    collate = classification_collate if setup.task == "classification" else DetectionCollate(setup.layout)
    sampler = EpochSampler(len(data), seed=seed, shuffle=shuffle, rank=rank, world=world)
    return DataLoader(data, batch_size=batch_size, sampler=sampler, num_workers=0, collate_fn=collate)


StepCallback = Callable[[int, int, float], None]
EpochCallback = Callable[[dict[str, float]], "bool | None"]


def fit(
    net: nn.Module,
    setup: _Setup,
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
    device = config.device
    rank, world = distributed()
    model = net  # what is trained: net itself, or its DDP wrapper
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(net, device_ids=None if device == "cpu" else [torch.cuda.current_device()])
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loader = _loader(setup.train, setup, config.batch_size, seed=config.seed, shuffle=True, rank=rank, world=world)
    steps_per_epoch = len(loader)
    total_steps = steps_per_epoch * config.epochs
    history, epoch, step, elapsed = History(), 0, 0, 0.0
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        epoch, step, elapsed = state["epoch"], state["schedule"]["step"], state["schedule"]["elapsed"]
        history = History(**state["history"])
        torch.set_rng_state(state["rng"]["torch"])
    started = time.perf_counter() - elapsed
    clock = _Clock(started, total_steps, config, world)
    while epoch < config.epochs:
        t0 = time.perf_counter()
        loader.sampler.set_epoch(epoch)
        setup.train.set_epoch(epoch)
        train_loss, step = _train_epoch(model, loader, optimizer, setup, config, clock, epoch, step, on_step)
        epoch += 1
        if rank != 0:  # rank 0 validates, writes and decides; the others follow
            if _from_rank0(0.0, world):
                break
            continue
        val_loss, val_metric = _validate(net, setup, config, device)
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
        ckpt = {
            "version": CHECKPOINT_VERSION,
            "model": net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "schedule": {"step": step, "elapsed": time.perf_counter() - started, "total_steps": total_steps},
            "epoch": epoch,
            "rng": {"torch": torch.get_rng_state()},
            "history": dataclasses.asdict(history),
            "meta": setup.meta,
            "config": config.to_dict(),
        }
        save_checkpoint(out / "weights" / "last.pt", ckpt)
        if improved:
            save_checkpoint(out / "weights" / "best.pt", ckpt)
        _write_metrics(out / "metrics.csv", history)
        stop = on_epoch is not None and on_epoch(record) is False
        if stop:
            history.stopped = "interrupted"
        if _from_rank0(float(stop or out_of_time or patience_out), world):
            break
    return history


@dataclass
class _Clock:
    """Where the run is in its schedule: steps done over all steps, or wall time over the budget."""

    started: float
    total_steps: int
    config: TrainConfig
    world: int

    def progress(self, step: int) -> float:
        """0..1 (more once the budget is spent); ranks of a distributed run take rank 0's value."""
        value = step / self.total_steps
        if self.config.time_limit is not None:
            value = _from_rank0(max(value, (time.perf_counter() - self.started) / self.config.time_limit), self.world)
        return value

    def out_of_time(self) -> bool:
        limit = self.config.time_limit
        return limit is not None and time.perf_counter() - self.started >= limit


def _train_epoch(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    setup: _Setup,
    config: TrainConfig,
    clock: _Clock,
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


def _write_metrics(path: Path, history: History) -> None:
    buffer = io.StringIO()
    columns = ["epoch", "step", "lr", "train_loss", "val_loss", "val_metric", "seconds"]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for record in history.records:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in record.items()})
    _atomic_bytes(path, buffer.getvalue().encode())


def _plot_curves(history: History, path: Path, metric: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = history.to_frame()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2), dpi=100)
    ax1.plot(frame["epoch"], frame["train_loss"], marker="o", label="train")
    ax1.plot(frame["epoch"], frame["val_loss"], marker="o", label="val")
    ax1.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax1.legend()
    ax2.plot(frame["epoch"], frame["val_metric"], marker="o", color="C2")
    ax2.set(xlabel="epoch", ylabel=metric, title=f"Validation {metric}")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    _atomic_bytes(path, buffer.getvalue())
    return path


# ---------------------------------------------------------------------------------------
# entry point


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


def _versions() -> dict[str, str]:
    import torchvision

    import dataprep

    return {
        "dataprep": dataprep.__version__,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "python": platform.python_version(),
    }


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise OutputError(f"{out}: already exists. Pass --overwrite to replace it, --resume {out} to continue it")
        if not (out / "config.json").is_file():
            raise OutputError(f"{out}: not a run folder (no config.json); refusing to replace it. Choose another --out")
        import shutil

        shutil.rmtree(out)


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
    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo" if config.device == "cpu" else "nccl")
    state = None
    if resume:
        state = load_checkpoint(out / "weights" / "last.pt")
        config = TrainConfig.from_dict(state["config"])
    else:
        config.check()
        if rank == 0:
            _check_out(out, overwrite)
        _barrier(world)
    threads = config.threads or free_cores()
    config = config.replace(threads=threads)
    torch.set_num_threads(threads)
    ds = prepare_dataset(data, config)
    setup = _setup(ds, config)
    torch.manual_seed(config.seed)
    net = build_net(setup.meta).to(config.device)
    if state is not None:
        net.load_state_dict(state["model"])
    run_config = {
        "train": config.to_dict(),
        "data": str(data) if not isinstance(data, Dataset) else repr(data),
        "task": setup.task,
        "threads": threads,
        "versions": _versions(),
        "meta": setup.meta,
        "splits": {k: len(v.images) for k, v in setup.datasets.items()},
        "parameters": sum(p.numel() for p in net.parameters()),
    }
    run_config["world_size"] = world
    if rank == 0:
        _atomic_bytes(out / "config.json", (json.dumps(run_config, indent=2, sort_keys=True) + "\n").encode())
        if on_start is not None:
            on_start(run_config)
    history = fit(net, setup, config, out, state=state, on_step=on_step if rank == 0 else None, on_epoch=on_epoch)
    if rank != 0:
        return TrainResult(out, config, setup.meta, history, None, None, threads, rank=rank)
    if history.records:
        _plot_curves(history, out / "curves.png", METRIC[setup.task])
    test, report = None, None
    if history.stopped != "interrupted" and setup.test is not None:
        test, report = _test(setup, config, out)
    result = TrainResult(out, config, setup.meta, history, test, report, threads)
    _atomic_bytes(out / "result.json", (json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n").encode())
    return result


def _test(setup: _Setup, config: TrainConfig, out: Path) -> tuple[dict[str, Any], Path]:
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
        pred = _detection_predictions(net, setup, setup.test, config)
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
