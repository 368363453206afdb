"""The run folder's files: checkpoints (written to a temporary file and renamed), the net a
checkpoint describes, ``metrics.csv``, ``curves.png``, JSON files, library versions."""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from dataprep.errors import InputError, OutputError
from dataprep.nets import make_net
from dataprep.training.config import TrainConfig

CHECKPOINT_VERSION = 1


def atomic_bytes(path: Path, data: bytes) -> None:
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
    atomic_bytes(Path(path), buffer.getvalue())
    return Path(path)


def checkpoint_state(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: dict[str, float],
    epoch: int,
    history: dict[str, Any],
    meta: dict[str, Any],
    config: TrainConfig,
) -> dict[str, Any]:
    """What a checkpoint holds: weights, optimizer, schedule (``step, elapsed, total_steps``), epoch,
    torch RNG state, history, the net's meta (class map, layout) and the run's config."""
    return {
        "version": CHECKPOINT_VERSION,
        "model": net.state_dict(),
        "optimizer": optimizer.state_dict(),
        "schedule": schedule,
        "epoch": epoch,
        "rng": {"torch": torch.get_rng_state()},
        "history": history,
        "meta": meta,
        "config": config.to_dict(),
    }


def write_epoch(out: Path, ckpt: dict[str, Any], records: list[dict[str, float]], *, best: bool) -> None:
    """An epoch's files: ``weights/last.pt`` (and ``weights/best.pt`` when `best`), ``metrics.csv``."""
    save_checkpoint(out / "weights" / "last.pt", ckpt)
    if best:
        save_checkpoint(out / "weights" / "best.pt", ckpt)
    write_metrics(out / "metrics.csv", records)


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


def write_json(path: Path, data: dict[str, Any]) -> None:
    """`data` as indented, key-sorted JSON, written atomically."""
    atomic_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def write_metrics(path: Path, records: list[dict[str, float]]) -> None:
    """``metrics.csv``: one row per epoch record, floats to 6 significant digits."""
    buffer = io.StringIO()
    columns = ["epoch", "step", "lr", "train_loss", "val_loss", "val_metric", "seconds"]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in record.items()})
    atomic_bytes(path, buffer.getvalue().encode())


def plot_curves(records: list[dict[str, float]], path: Path, metric: str) -> Path:
    """``curves.png``: train/val loss and the validation `metric` per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = pd.DataFrame(records)
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
    atomic_bytes(path, buffer.getvalue())
    return path


def versions() -> dict[str, str]:
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


def check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise OutputError(f"{out}: already exists. Pass --overwrite to replace it, --resume {out} to continue it")
        if not (out / "config.json").is_file():
            raise OutputError(f"{out}: not a run folder (no config.json); refusing to replace it. Choose another --out")
        import shutil

        shutil.rmtree(out)
