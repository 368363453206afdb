#!/usr/bin/env python
"""Benchmark ``dataprep.encoding``: target encoding, k-means anchors, decode + NMS.

In-process timings (best of ``--repeat``), on synthetic data with COCO-like box statistics
(log-normal sizes at 416 px, ~7 boxes per image):

- sparse encode, YOLOv3 three scales, 9 anchors, ``assign`` best / iou:0.5 / ratio:4, and the
  v1 grid (target: >= 1,000,000 boxes/s for v3 best on 2 cores); a darknet-style per-box Python
  loop on a slice of the boxes for scale;
- k-means anchors (1 - IoU, 5 restarts) on ``--anchor-boxes`` boxes (target: 400k in < 10 s),
  with scikit-learn's Euclidean KMeans on the same (w, h) for comparison, when importable;
- decode + per-class NMS of ``--images`` images' raw outputs (target: 300 in < 1 s): the bundled
  ``GridDetector``'s shape on the samples (128 px, stride 16, 3 anchors, 5 classes), and YOLOv3
  shapes at 416 px ``(N, 3, S, S, 5 + C)`` for S = 52, 26, 13 with C = 5 (the samples' classes)
  and C = 80; objectness logits ~ N(-10, 2) plus 20 confident objects per image, at prediction
  (conf 0.25, IoU 0.45) and evaluation (conf 0.001, IoU 0.6) thresholds.

    python bench/encode.py                      # the targets above
    python bench/encode.py --boxes 200000 --anchor-boxes 50000 --images 50 --repeat 1   # quick look
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from dataprep.encoding import YOLOV3_ANCHORS, anchor_layout, decode, encode, grid_layout, kmeans_anchors, shape_iou


def boxes_416(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, 4)`` xyxy at 416 px, classes 0..79, sorted image keys (~7 boxes per image)."""
    rng = np.random.default_rng(seed)
    w = np.exp(rng.normal(3.4, 1.0, n)).clip(2, 416)
    h = (w * np.exp(rng.normal(0, 0.5, n))).clip(2, 416)
    cx = rng.uniform(w / 2, 416 - w / 2)
    cy = rng.uniform(h / 2, 416 - h / 2)
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return xyxy, rng.integers(0, 80, n), np.sort(rng.integers(0, max(n // 7, 1), n))


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, result = math.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def darknet_loop(xyxy: np.ndarray, cls: np.ndarray) -> list[tuple]:
    """One box at a time, as darknet's ``forward_yolo_layer`` walks its truth boxes."""
    anchors = np.asarray(YOLOV3_ANCHORS, dtype=float)
    rows = []
    for (x0, y0, x1, y1), c in zip(xyxy.tolist(), cls.tolist(), strict=True):
        w, h = x1 - x0, y1 - y0
        best, best_iou = 0, -1.0
        for a, (aw, ah) in enumerate(anchors.tolist()):
            inter = min(w, aw) * min(h, ah)
            iou = inter / (w * h + aw * ah - inter)
            if iou > best_iou:
                best, best_iou = a, iou
        stride = (8, 16, 32)[best // 3]
        gx, gy = (x0 + x1) / 2 / stride, (y0 + y1) / 2 / stride
        i, j = min(int(gx), 416 // stride - 1), min(int(gy), 416 // stride - 1)
        aw, ah = anchors[best]
        rows.append((best, j, i, gx - i, gy - j, math.log(w / aw), math.log(h / ah), c))
    return rows


def raw_outputs(images: int, classes: int, seed: int = 0, sizes: tuple[int, ...] = (52, 26, 13)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    outs = []
    for s in sizes:
        out = rng.normal(0, 1.5, (images, 3, s, s, 5 + classes)).astype(np.float32)
        out[..., 0] = rng.normal(-10, 2, (images, 3, s, s))
        out[..., 5:] -= 3  # class logits mostly low
        outs.append(out)
    for n in range(images):  # 20 confident objects per image, on random scales and cells
        for _ in range(20):
            s = int(rng.integers(0, len(sizes)))
            size = sizes[s]
            a, r, c = rng.integers(0, 3), rng.integers(0, size), rng.integers(0, size)
            outs[s][n, a, r, c, 0] = 6
            outs[s][n, a, r, c, 5 + rng.integers(0, classes)] = 6
    return outs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boxes", type=int, default=1_000_000)
    parser.add_argument("--anchor-boxes", type=int, default=400_000)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows: list[list[Any]] = []

    xyxy, cls, image = boxes_416(args.boxes)
    for name, layout, target in [
        ("encode v3 3 scales, best", anchor_layout(num_classes=80), 1e6),
        ("encode v3 3 scales, iou:0.5", anchor_layout(num_classes=80, assign="iou:0.5"), None),
        ("encode v3 3 scales, ratio:4", anchor_layout(num_classes=80, assign="ratio:4"), None),
        ("encode v1 grid 13 (416 px)", grid_layout(13, img_size=416, num_classes=80), None),
    ]:
        seconds, t = best_of(args.repeat, lambda layout=layout: encode(xyxy, cls, layout, image=image))
        rate = args.boxes / seconds
        detail = f"{len(t):,} rows, {len(t.dropped):,} dropped"
        rows.append([name, f"{args.boxes:,} boxes", seconds, f"{rate:,.0f} boxes/s", _verdict(rate, target), detail])
    n_loop = min(args.boxes, 50_000)
    seconds, _ = best_of(1, lambda: darknet_loop(xyxy[:n_loop], cls[:n_loop]))
    rate = n_loop / seconds
    rows.append(["per-box Python loop (darknet-style)", f"{n_loop:,} boxes", seconds, f"{rate:,.0f} boxes/s", "", ""])

    wh_xyxy, _, _ = boxes_416(args.anchor_boxes, seed=1)
    wh = wh_xyxy[:, 2:] - wh_xyxy[:, :2]
    seconds, fit = best_of(args.repeat, lambda: kmeans_anchors(wh, 9, seed=0, restarts=5))
    ok = "ok (< 10 s)" if seconds < 10 else "MISSED (>= 10 s)"
    detail = f"mean IoU {fit.mean_iou:.4f}, BPR {fit.bpr:.4f}"
    rows.append(["k-means anchors (1 - IoU), k=9, 5 restarts", f"{args.anchor_boxes:,} boxes", seconds, "", ok, detail])
    try:
        from sklearn.cluster import KMeans
    except ImportError:
        pass
    else:
        km = KMeans(9, n_init=5, random_state=0)
        seconds, model = best_of(1, lambda: km.fit(wh))
        centres = model.cluster_centers_
        miou = float(shape_iou(wh, centres).max(axis=1).mean())
        rows.append(["scikit-learn KMeans (Euclidean), n_init=5", f"{args.anchor_boxes:,} boxes", seconds, "", "",
                     f"mean IoU {miou:.4f}"])  # fmt: skip

    decode(raw_outputs(2, 5), anchor_layout(num_classes=5))  # import torch/torchvision outside the timing
    # the bundled GridDetector on the samples: 128 px, stride 16, 3 anchors, 5 classes, conf 0.01 / IoU 0.45
    bundled = anchor_layout([[12, 20], [20, 28], [30, 44]], img_size=128, strides=(16,), num_classes=5)
    outs = raw_outputs(args.images, 5, sizes=(8,))
    seconds, pred = best_of(args.repeat, lambda: decode(outs, bundled, conf_threshold=0.01, iou_threshold=0.45))
    ok = "ok (< 1 s)" if seconds < 1 else "MISSED (>= 1 s)"
    rows.append(["decode + NMS, bundled GridDetector (N, 3, 8, 8, 10), conf 0.01", f"{args.images} images", seconds,
                 f"{args.images / seconds:,.0f} images/s", ok, f"{len(pred):,} boxes kept"])  # fmt: skip
    for classes in (5, 80):
        outs = raw_outputs(args.images, classes)
        layout = anchor_layout(num_classes=classes)
        for label, conf, iou in (("predict", 0.25, 0.45), ("evaluate", 0.001, 0.6)):
            seconds, pred = best_of(
                args.repeat, lambda o=outs, c=conf, i=iou, lay=layout: decode(o, lay, conf_threshold=c, iou_threshold=i)
            )
            ok = "ok (< 1 s)" if seconds < 1 else "MISSED (>= 1 s)"
            rows.append([f"decode + NMS, C={classes}, {label} (conf {conf:g}, IoU {iou:g})",
                         f"{args.images} images", seconds, f"{args.images / seconds:,.0f} images/s", ok,
                         f"{len(pred):,} boxes kept"])  # fmt: skip
    _print(rows)


def _verdict(rate: float, target: float | None) -> str:
    if target is None:
        return ""
    return f"ok (>= {target:,.0f}/s)" if rate >= target else f"MISSED (< {target:,.0f}/s)"


def _print(rows: list[list[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="dataprep.encoding", title_justify="left", header_style="bold")
    for name in ("case", "size", "seconds", "rate", "target", "detail"):
        table.add_column(name, justify="right" if name == "seconds" else "left")
    for r in rows:
        table.add_row(r[0], r[1], f"{r[2]:.3f}", *r[3:])
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
