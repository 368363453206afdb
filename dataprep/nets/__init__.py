"""The bundled networks (torch): the `NETS` registry from name to constructor, and `make_net`.

Classifiers take ``(N, C_in, S, S)`` float32 images and return ``(N, num_classes)`` logits; the
grid detector returns per-scale raw outputs on a `dataprep.encoding.Layout` (see
`dataprep.nets.grid_detector`). Presets for each net live in the repository's ``models/``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from dataprep.encoding.layout import Layout
from dataprep.errors import UsageError
from dataprep.nets.classifiers import AlexNet, LeNet, MiniGoogLeNet, MiniVGGNet, ResNet
from dataprep.nets.grid_detector import GridDetector, LossGains, detection_loss

__all__ = [
    "CLASSIFIERS",
    "DETECTORS",
    "NETS",
    "AlexNet",
    "GridDetector",
    "LeNet",
    "LossGains",
    "MiniGoogLeNet",
    "MiniVGGNet",
    "ResNet",
    "detection_loss",
    "make_net",
]

NETS: dict[str, Callable[..., nn.Module]] = {
    "lenet": LeNet,
    "alexnet": AlexNet,
    "minivgg": MiniVGGNet,
    "minigooglenet": MiniGoogLeNet,
    "resnet": ResNet,
    "grid-detector": GridDetector,
}
CLASSIFIERS = ("lenet", "alexnet", "minivgg", "minigooglenet", "resnet")
DETECTORS = ("grid-detector",)


def make_net(
    name: str,
    *,
    num_classes: int,
    in_channels: int,
    img_size: int,
    layout: Layout | None = None,
    options: dict[str, Any] | None = None,
) -> nn.Module:
    """Build the net `name` for `num_classes` classes and ``(C_in, img_size, img_size)`` inputs.

    `options` are the constructor's extra keyword arguments (``width`` of the detector,
    ``dropout``...); a detector needs its `layout`.

    Raises:
        UsageError: an unknown name, or a detector without a layout.
    """
    if name not in NETS:
        raise UsageError(f"--model {name!r}: unknown net. Choose one of {', '.join(NETS)} or a preset file")
    options = dict(options or {})
    if name in DETECTORS:
        if layout is None:
            raise UsageError(f"--model {name}: a detector needs a target layout")
        return NETS[name](layout, in_channels=in_channels, **options)
    return NETS[name](num_classes, in_channels=in_channels, img_size=img_size, **options)
