"""Decode: sparse targets or raw network outputs -> boxes with scores -> per-class NMS -> predictions.

The inverse of `encode` on one `Layout`: ``x = (col + tx) · stride``, ``w = anchor_w · exp(tw)``
(grid: ``w = tw · img_size`` or ``tw · stride``). Predictions come back as a table with the
dataset model's annotation columns (index ``annotation_id`` from 1) plus ``score``, in network
pixels, or in image pixels when the images' sizes are given (`unletterbox`, clipped).

torchvision (``ops.nms``, per image with classes shifted apart, as ``batched_nms`` does) is
imported only when NMS runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep.encoding.layout import CHANNELS, Layout
from dataprep.encoding.letterbox import unletterbox
from dataprep.encoding.targets import Targets
from dataprep.errors import UsageError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ACTIVATIONS = ("darknet", "ultralytics", "none")


def decode(
    source: Targets | Sequence[Any],
    layout: Layout | None = None,
    *,
    image_ids: npt.ArrayLike | None = None,
    images: pd.DataFrame | None = None,
    category_ids: npt.ArrayLike | None = None,
    activation: str = "darknet",
    conf_threshold: float = 0.25,
    iou_threshold: float = 0.45,
    max_det: int = 300,
    nms: bool | None = None,
) -> pd.DataFrame:
    """Boxes, scores and classes from targets or raw outputs, as a predictions table.

    Args:
        source: `Targets` from `encode` (score 1, one box per ``annotation_id``), or raw outputs:
            one array per scale (numpy or torch), ``(N, A, S, S, 5 + C)``, channels in
            `CHANNELS` order (P, x, y, w, h) then classes; a grid also takes ``(N, S, S, 5 + C)``
            or darknet v1's ``(N, S, S, B·5 + C)`` (classes shared by the B predictors).
        layout: required for raw outputs (targets carry theirs).
        image_ids: ``(N,)`` image_id of each batch position of raw outputs (default 0..N-1);
            for targets the image keys given to `encode` are the image ids.
        images: a table indexed by image_id with ``width``, ``height``: boxes are mapped back
            to those image pixels and clipped; without it they stay in network pixels.
        category_ids: ``(C,)`` category_id of each class_index (default the class_index itself).
        activation: raw outputs: ``"darknet"`` (``σ`` for P/x/y/classes, ``exp`` for w/h;
            grid w/h ``σ``), ``"ultralytics"`` (x/y ``2σ - 0.5``, w/h ``(2σ)² · anchor``) or
            ``"none"`` (already in target units, P and classes as probabilities).
        conf_threshold: keep scores ``σ(P) · p(class) > conf_threshold`` (raw outputs).
        iou_threshold, max_det: per-image, per-class NMS IoU and boxes kept per image.
        nms: run NMS (default: for raw outputs, not for targets).

    Returns:
        Predictions table: index ``annotation_id`` (1..K; for targets the encoded box's id when
        those are unique, so ``decode(encode(...))`` can be joined to its input), ``image_id``, ``category_id``,
        ``x_min, y_min, x_max, y_max`` (float64 pixels), ``segmentation`` None, ``iscrowd``
        False, ``score``, ``area`` NaN, ``attributes`` None; sorted by image_id, then score.
    """
    if activation not in ACTIVATIONS:
        raise UsageError(f"activation {activation!r}: expected one of {', '.join(ACTIVATIONS)}")
    ids = None
    if isinstance(source, Targets):
        image, xyxy, score, cls, ids = _from_targets(source)
        layout = source.layout
        do_nms = bool(nms)
    else:
        if layout is None:
            raise UsageError("decode: raw outputs need the Layout they were trained with")
        image, xyxy, score, cls = _from_outputs(source, layout, activation, conf_threshold)
        if image_ids is not None:
            image = np.asarray(image_ids, dtype=np.int64).reshape(-1)[image]
        do_nms = nms is None or nms
    if do_nms and len(score):
        keep = _batched_nms(xyxy, score, image, cls, iou_threshold)
        image, xyxy, score, cls = image[keep], xyxy[keep], score[keep], cls[keep]
        ids = None if ids is None else ids[keep]
    order = np.lexsort((-score, image))
    if max_det is not None and len(image):
        first = np.searchsorted(image[order], image[order], side="left")
        order = order[np.arange(len(order)) - first < max_det]
    image, xyxy, score, cls = image[order], xyxy[order], score[order], cls[order]
    ids = None if ids is None or len(np.unique(ids)) != len(ids) else ids[order]
    if images is not None:
        xyxy = _to_image_pixels(xyxy, image, images, layout.img_size)
    categories = cls if category_ids is None else np.asarray(category_ids, dtype=np.int64)[cls]
    return _predictions(image, categories, xyxy, score, ids)


def _from_targets(targets: Targets) -> tuple[IntArray, FloatArray, FloatArray, IntArray, IntArray]:
    """One box per (image, annotation_id): the first row of each box (rows of a box decode alike)."""
    layout = targets.layout
    pairs = np.stack([targets.image, targets.annotation_id], axis=1)
    first = np.sort(np.unique(pairs, axis=0, return_index=True)[1]) if len(pairs) else np.empty(0, np.int64)
    stride = np.asarray(layout.strides, dtype=np.float64)[targets.scale[first]]
    cx = (targets.col[first] + targets.tx[first]) * stride
    cy = (targets.row[first] + targets.ty[first]) * stride
    if layout.kind == "grid":
        unit = float(layout.img_size) if layout.wh_units == "image" else stride
        w, h = targets.tw[first] * unit, targets.th[first] * unit
    else:
        anchors = layout.anchors_px()[targets.anchor[first]]
        w, h = anchors[:, 0] * np.exp(targets.tw[first]), anchors[:, 1] * np.exp(targets.th[first])
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return targets.image[first], xyxy, np.ones(len(first)), targets.class_index[first], targets.annotation_id[first]


def _as_numpy(array: Any) -> npt.NDArray[np.float32]:
    if hasattr(array, "detach"):  # a torch tensor: no torch import needed to read it
        array = array.detach().cpu().numpy()
    return np.asarray(array)


def _sigmoid(x: npt.NDArray) -> npt.NDArray:
    return 1.0 / (1.0 + np.exp(-x))


def _from_outputs(
    outputs: Sequence[Any], layout: Layout, activation: str, conf: float
) -> tuple[IntArray, FloatArray, FloatArray, IntArray]:
    """Candidates above `conf` from every scale, decoded to network-pixel boxes."""
    if len(outputs) != layout.num_scales:
        raise UsageError(f"decode: {len(outputs)} output arrays for a layout with {layout.num_scales} scales")
    depth = len(CHANNELS) + layout.num_classes
    # P is the largest factor of the score, so thresholding P first skips most cells cheaply.
    p_min = conf if activation == "none" else float(np.log(conf / (1 - conf))) if 0 < conf < 1 else -np.inf
    parts = []
    for s, raw in enumerate(outputs):
        out = _shape_output(_as_numpy(raw), layout, s, depth)
        n, a, r, c = np.nonzero(out[..., 0] > p_min)
        picked = out[n, a, r, c]
        cls = picked[:, 5:].argmax(axis=1)  # σ is monotonic: the best logit is the best class
        # only P, x, y, w, h and the best class are activated (not all C class channels)
        cand = np.concatenate([picked[:, :5], picked[np.arange(len(cls)), 5 + cls][:, None]], axis=1)
        cand = cand.astype(np.float64)
        act = cand if activation == "none" else _sigmoid(cand)
        score = act[:, 0] * act[:, 5]
        keep = score > conf
        n, a, r, c, cand, act, cls, score = (v[keep] for v in (n, a, r, c, cand, act, cls, score))
        stride = float(layout.strides[s])
        if activation == "ultralytics":
            x, y = (c + 2 * act[:, 1] - 0.5) * stride, (r + 2 * act[:, 2] - 0.5) * stride
        else:
            x, y = (c + act[:, 1]) * stride, (r + act[:, 2]) * stride
        if layout.kind == "grid":
            unit = float(layout.img_size) if layout.wh_units == "image" else stride
            w, h = act[:, 3] * unit, act[:, 4] * unit
        else:
            anchors = layout.anchors_px()[s * layout.predictors + a]
            if activation == "ultralytics":
                w, h = anchors[:, 0] * (2 * act[:, 3]) ** 2, anchors[:, 1] * (2 * act[:, 4]) ** 2
            else:
                tw, th = (cand[:, 3], cand[:, 4]) if activation == "darknet" else (act[:, 3], act[:, 4])
                w, h = anchors[:, 0] * np.exp(tw), anchors[:, 1] * np.exp(th)
        parts.append((n.astype(np.int64), np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], 1), score, cls))
    return tuple(np.concatenate(v) for v in zip(*parts, strict=True))  # type: ignore[return-value]


def _shape_output(out: npt.NDArray, layout: Layout, s: int, depth: int) -> npt.NDArray:
    """``(N, A, S, S, 5 + C)`` view of one scale's raw output."""
    size = layout.grid_sizes[s]
    if layout.kind == "grid" and out.ndim == 4 and out.shape[1:3] == (size, size):
        b = layout.predictors
        if out.shape[3] == b * 5 + layout.num_classes and b > 1:  # darknet v1: B boxes, shared classes
            boxes = out[..., : b * 5].reshape(*out.shape[:3], b, 5)
            classes = np.broadcast_to(out[..., None, b * 5 :], (*out.shape[:3], b, layout.num_classes))
            out = np.concatenate([boxes, classes], axis=-1).transpose(0, 3, 1, 2, 4)
        else:
            out = out[:, None]
    predictors = layout.predictors if layout.kind == "anchors" else out.shape[1] if out.ndim == 5 else -1
    if out.ndim != 5 or out.shape[1:] != (predictors, size, size, depth):
        expected = f"(N, {layout.predictors}, {size}, {size}, {depth})"
        raise UsageError(f"decode: scale {s} output has shape {tuple(out.shape)}, expected {expected}")
    return out


def _batched_nms(xyxy: FloatArray, score: FloatArray, image: IntArray, cls: IntArray, iou: float) -> IntArray:
    """Indices kept by per-image, per-class NMS (``torchvision.ops.nms``), best score first per image.

    One NMS call per image with boxes shifted apart by class (torchvision's coordinate trick):
    a single call over all images is quadratic in the whole batch's boxes, and
    ``batched_nms`` falls back to one call per (image, class) group past 4,000 boxes.
    """
    import torch
    from torchvision.ops import nms

    order = np.argsort(image, kind="stable")
    starts = np.flatnonzero(np.r_[True, image[order][1:] != image[order][:-1]])
    stops = np.r_[starts[1:], len(order)]
    span = float(np.abs(xyxy).max()) + 1.0
    shifted = xyxy + (cls * span)[:, None]
    kept = []
    with torch.no_grad():
        for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
            idx = order[start:stop]
            keep = nms(torch.from_numpy(shifted[idx]), torch.from_numpy(score[idx]), iou).numpy()
            kept.append(idx[keep])
    return np.concatenate(kept) if kept else np.empty(0, dtype=np.int64)


def _to_image_pixels(xyxy: FloatArray, image: IntArray, images: pd.DataFrame, img_size: int) -> FloatArray:
    sizes = images.reindex(image)[["width", "height"]]
    if sizes.isna().any().any():
        missing = image[sizes.isna().any(axis=1).to_numpy()][:5].tolist()
        raise UsageError(f"decode: no width/height for image ids {missing}. Pass the dataset's images table")
    width = sizes["width"].to_numpy(dtype=np.float64)
    height = sizes["height"].to_numpy(dtype=np.float64)
    out = unletterbox(xyxy, width, height, img_size=img_size)
    out[:, 0::2] = np.clip(out[:, 0::2], 0, width[:, None])
    out[:, 1::2] = np.clip(out[:, 1::2], 0, height[:, None])
    return out


def _predictions(
    image: IntArray, category: IntArray, xyxy: FloatArray, score: FloatArray, ids: IntArray | None
) -> pd.DataFrame:
    from dataprep.dataset import ANNOTATION_COLUMNS

    n = len(image)
    columns = {
        "image_id": image.astype(np.int64),
        "category_id": category.astype(np.int64),
        "x_min": xyxy[:, 0],
        "y_min": xyxy[:, 1],
        "x_max": xyxy[:, 2],
        "y_max": xyxy[:, 3],
        "segmentation": np.full(n, None, dtype=object),
        "iscrowd": np.zeros(n, dtype=bool),
        "score": score.astype(np.float64),
        "area": np.full(n, np.nan),
        "attributes": np.full(n, None, dtype=object),
    }
    index = np.arange(1, n + 1, dtype=np.int64) if ids is None else ids.astype(np.int64)
    frame = {name: columns[name] for name in ANNOTATION_COLUMNS}
    return pd.DataFrame(frame, index=pd.Index(index, name="annotation_id"))
