"""`TrainConfig`, the single source of a run's hyper-parameters, and the training errors.

CLI flags map onto its fields and presets in ``models/*.json`` fill it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dataprep.errors import DataprepError, ExitCode, UsageError
from dataprep.nets import DETECTORS, NETS

METRIC = {"classification": "accuracy", "detection": "AP50"}


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
