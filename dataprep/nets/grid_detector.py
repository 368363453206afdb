"""A Tiny-YOLO / YOLO-LITE-style grid detector and its loss, on the layout of `dataprep.encoding`.

The net: stages of a stride-2 3x3 convolution and a 3x3 convolution (BN + leaky ReLU) until the
layout's stride, one wider 3x3 convolution, then a 1x1 head of ``A · (5 + C)`` channels per
scale. Its raw output for scale ``s`` is reshaped to ``(N, A, S, S, 5 + C)``, channels in
`dataprep.encoding.CHANNELS` order ``(P, x, y, w, h)`` then the C class logits: exactly what
`dataprep.encoding.decode(outputs, layout, activation="darknet")` reads.

The loss (`detection_loss`) reads the sparse `Targets` rows of `dataprep.encoding.encode` on the
same `Layout` (anchors, ``assign="best"`` or ``"iou:T"``), per row ``(image, scale, slot, row, col)``:

- box: ``BCE(σ(x), tx) + BCE(σ(y), ty)`` (``tx = cx / stride - col`` in [0, 1]) and
  ``(w - tw)² + (h - th)²`` on the raw w/h (``tw = ln(w / anchor_w)``), each times the row's
  ``weight`` (darknet's ``2 - w·h / img_size²``, so small boxes count more);
- class: binary cross-entropy of the C logits against the one-hot ``class_index`` (YOLOv3);
- objectness: BCE of P against 1 at the rows' slots and 0 elsewhere, except the **ignore rule**
  (YOLOv2/v3): a slot without a target whose decoded box overlaps some ground-truth box of its
  image with IoU > `ignore_iou` is not pushed towards 0, since it predicts a real object.

Sums are divided by the batch size; `box`, `obj`, `noobj` and `cls` gains weight the parts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dataprep.encoding.layout import CHANNELS, Layout


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.1)
    )


class GridDetector(nn.Module):
    """YOLO-LITE-style single-scale detector for a one-scale anchor `Layout`.

    Input ``(N, C_in, img_size, img_size)`` float32 (letterboxed, 0..1); output a list with one
    ``(N, A, S, S, 5 + C)`` raw tensor per scale (``S = img_size / stride``).
    """

    def __init__(self, layout: Layout, *, in_channels: int = 3, width: int = 16) -> None:
        super().__init__()
        if layout.kind != "anchors" or layout.num_scales != 1:
            raise ValueError("GridDetector needs a one-scale anchor layout (anchor_layout(..., strides=(s,)))")
        self.layout = layout
        stride = layout.strides[0]
        stages = stride.bit_length() - 1  # stride 16 -> 4 stride-2 stages
        layers: list[nn.Module] = []
        c = in_channels
        for i in range(stages):
            cout = width * 2 ** min(i, 3)
            layers += [_conv(c, cout, 2), _conv(cout, cout)]
            c = cout
        layers.append(_conv(c, 2 * c))
        self.backbone = nn.Sequential(*layers)
        self.depth = len(CHANNELS) + layout.num_classes
        self.head = nn.Conv2d(2 * c, layout.predictors * self.depth, 1)
        with torch.no_grad():  # start with few objects: P bias at σ⁻¹(0.01) (RetinaNet's prior)
            bias = self.head.bias.view(layout.predictors, self.depth)
            bias.zero_()
            bias[:, 0] = -4.6

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        n = x.shape[0]
        y = self.head(self.backbone(x))  # (N, A·(5+C), S, S)
        s = y.shape[-1]
        return [y.view(n, self.layout.predictors, self.depth, s, s).permute(0, 1, 3, 4, 2).contiguous()]


@dataclass(frozen=True)
class LossGains:
    """Weights of the loss parts (darknet uses 1 for each; obj/noobj balance empty cells)."""

    box: float = 1.0
    obj: float = 1.0
    noobj: float = 1.0
    cls: float = 1.0
    ignore_iou: float = 0.5


def _box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(N, P, 4) x (N, M, 4) -> (N, P, M)`` IoU of xyxy boxes, batched per image."""
    lt = torch.maximum(a[:, :, None, :2], b[:, None, :, :2])
    rb = torch.minimum(a[:, :, None, 2:], b[:, None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp(min=0).prod(-1)
    return inter / (area_a[:, :, None] + area_b[:, None, :] - inter).clamp(min=1e-9)


def detection_loss(
    outputs: list[torch.Tensor],
    targets: dict[str, torch.Tensor],
    gt_boxes: torch.Tensor,
    layout: Layout,
    gains: LossGains = LossGains(),
) -> tuple[torch.Tensor, dict[str, float]]:
    """YOLOv3-style loss of raw `outputs` against sparse targets (see the module docstring).

    Args:
        outputs: per scale ``(N, A, S, S, 5 + C)`` raw.
        targets: `Targets` columns as tensors: ``image`` (batch position), ``scale``, ``slot``,
            ``row``, ``col`` (int64), ``tx, ty, tw, th, weight`` (float32), ``class_index``.
        gt_boxes: ``(N, M, 4)`` float32 ground-truth xyxy in network pixels, padded with zeros
            (used by the ignore rule only).

    Returns:
        The scalar loss and its parts (floats) by name: ``box``, ``obj``, ``noobj``, ``cls``.
    """
    n = outputs[0].shape[0]
    parts = {"box": outputs[0].new_zeros(()), "obj": outputs[0].new_zeros(()), "noobj": outputs[0].new_zeros(())}
    parts["cls"] = outputs[0].new_zeros(())
    anchors = torch.tensor(layout.anchors_px(), dtype=outputs[0].dtype, device=outputs[0].device)
    for s, out in enumerate(outputs):
        a, size = out.shape[1], out.shape[2]
        stride = float(layout.strides[s])
        on = targets["scale"] == s
        img, slot, row, col = (targets[k][on] for k in ("image", "slot", "row", "col"))
        pred = out[img, slot, row, col]  # (M, 5 + C)
        w = targets["weight"][on]
        if len(pred):
            xy = F.binary_cross_entropy_with_logits(
                pred[:, 1:3], torch.stack([targets["tx"][on], targets["ty"][on]], 1).clamp(0, 1), reduction="none"
            ).sum(1)
            wh = ((pred[:, 3:5] - torch.stack([targets["tw"][on], targets["th"][on]], 1)) ** 2).sum(1)
            parts["box"] = parts["box"] + ((xy + wh) * w).sum()
            onehot = F.one_hot(targets["class_index"][on], layout.num_classes).to(pred.dtype)
            parts["cls"] = parts["cls"] + F.binary_cross_entropy_with_logits(pred[:, 5:], onehot, reduction="sum")
        # objectness: positives at target slots, negatives elsewhere unless their box overlaps a GT
        positive = torch.zeros(out.shape[:4], dtype=torch.bool, device=out.device)
        positive[img, slot, row, col] = True
        with torch.no_grad():
            grid_y, grid_x = torch.meshgrid(
                torch.arange(size, device=out.device), torch.arange(size, device=out.device), indexing="ij"
            )
            cx = (grid_x + torch.sigmoid(out[..., 1])) * stride
            cy = (grid_y + torch.sigmoid(out[..., 2])) * stride
            scale_anchors = anchors[s * layout.predictors : (s + 1) * layout.predictors].view(1, a, 1, 1, 2)
            bw = scale_anchors[..., 0] * torch.exp(out[..., 3].clamp(max=8))
            bh = scale_anchors[..., 1] * torch.exp(out[..., 4].clamp(max=8))
            boxes = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], -1).view(n, -1, 4)
            if gt_boxes.shape[1]:
                best = _box_iou(boxes, gt_boxes).amax(-1).view(out.shape[:4])
                ignore = (best > gains.ignore_iou) & ~positive
            else:
                ignore = torch.zeros_like(positive)
        logit = out[..., 0]
        parts["obj"] = parts["obj"] + F.binary_cross_entropy_with_logits(
            logit[positive], torch.ones_like(logit[positive]), reduction="sum"
        )
        negative = ~positive & ~ignore
        parts["noobj"] = parts["noobj"] + F.binary_cross_entropy_with_logits(
            logit[negative], torch.zeros_like(logit[negative]), reduction="sum"
        )
    total = (
        gains.box * parts["box"] + gains.obj * parts["obj"] + gains.noobj * parts["noobj"] + gains.cls * parts["cls"]
    ) / n
    return total, {k: v.item() / n for k, v in parts.items()}
