"""Anchors from data: k-means on box (w, h) with distance 1 - IoU, and how well anchors fit.

darknet's ``calc_anchors`` (random start, means as centres, sorted by area, no restarts) made
reproducible: k-means++ seeding with a seeded generator, several restarts keeping the best mean
IoU, Lloyd steps on the distinct sizes weighted by their counts. Restarts run on a seeded
sample of at most `sample` distinct sizes; the best is then refined on all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from dataprep.encoding.anchors import ratio_metric, shape_iou
from dataprep.errors import UsageError

FloatArray = npt.NDArray[np.float64]
_CHUNK = 1 << 16


@dataclass(frozen=True)
class AnchorFit:
    """Anchors and how well they cover a set of boxes.

    Attributes:
        anchors: ``(k, 2)`` float64 (w, h), same units as the boxes (pixels at the network
            size in the CLI), sorted by area.
        scale: ``(k,)`` int scale of each anchor (0 = finest), anchors split evenly by area.
        mean_iou: mean over boxes of the best shape-IoU with any anchor.
        bpr: best possible recall, share of boxes whose best anchor has size ratio < `ratio_threshold`.
        anchors_above: mean number of anchors per box with size ratio < `ratio_threshold`.
        ratio_threshold: Ultralytics' ``anchor_t`` (4).
        num_boxes: boxes measured.
    """

    anchors: FloatArray
    scale: npt.NDArray[np.int64]
    mean_iou: float
    bpr: float
    anchors_above: float
    ratio_threshold: float
    num_boxes: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: anchors as ``[[w, h], ...]`` rounded to 0.01, metrics to 1e-4."""
        return {
            "anchors": [[round(float(w), 2), round(float(h), 2)] for w, h in self.anchors],
            "scale": [int(s) for s in self.scale],
            "mean_iou": round(self.mean_iou, 4),
            "bpr": round(self.bpr, 4),
            "anchors_above_threshold": round(self.anchors_above, 4),
            "ratio_threshold": self.ratio_threshold,
            "num_boxes": self.num_boxes,
        }


def _check_wh(wh: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(wh, dtype=np.float64).reshape(-1, 2)
    if not (np.isfinite(arr).all() and (arr > 0).all()):
        raise UsageError("anchors: box sizes must be finite and > 0; drop empty or broken boxes first")
    return arr


def _split_scales(k: int, scales: int) -> npt.NDArray[np.int64]:
    if scales < 1 or k % scales:
        raise UsageError(f"--k {k} anchors cannot be split evenly across --scales {scales}: use a multiple of {scales}")
    return np.repeat(np.arange(scales, dtype=np.int64), k // scales)


def anchor_fit(
    wh: npt.ArrayLike, anchors: npt.ArrayLike, *, scales: int = 1, ratio_threshold: float = 4.0
) -> AnchorFit:
    """Mean best IoU, BPR and anchors above the ratio threshold of `anchors` on boxes `wh`.

    Args:
        wh: ``(N, 2)`` box (w, h) > 0; anchors: ``(k, 2)`` (w, h), same units (sorted by area here).
    """
    boxes = _check_wh(wh)
    arr = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    arr = arr[np.argsort(arr[:, 0] * arr[:, 1], kind="stable")]
    scale = _split_scales(len(arr), scales)
    best_iou = np.empty(len(boxes))
    best_ratio = np.empty(len(boxes))
    above = np.empty(len(boxes))
    for start in range(0, len(boxes), _CHUNK):
        part = boxes[start : start + _CHUNK]
        best_iou[start : start + _CHUNK] = shape_iou(part, arr).max(axis=1)
        ratio = ratio_metric(part, arr)
        best_ratio[start : start + _CHUNK] = ratio.min(axis=1)
        above[start : start + _CHUNK] = (ratio < ratio_threshold).sum(axis=1)
    n = len(boxes)
    return AnchorFit(
        anchors=arr,
        scale=scale,
        mean_iou=float(best_iou.mean()) if n else float("nan"),
        bpr=float((best_ratio < ratio_threshold).mean()) if n else float("nan"),
        anchors_above=float(above.mean()) if n else float("nan"),
        ratio_threshold=ratio_threshold,
        num_boxes=n,
    )


def kmeans_anchors(
    wh: npt.ArrayLike,
    k: int = 9,
    *,
    scales: int = 3,
    seed: int = 0,
    restarts: int = 5,
    max_iter: int = 300,
    sample: int = 20_000,
    ratio_threshold: float = 4.0,
) -> AnchorFit:
    """k anchors by k-means on box sizes with distance ``1 - IoU`` (boxes centred together).

    Args:
        wh: ``(N, 2)`` box (w, h) > 0, e.g. pixels at the network size after `letterbox`.
        k: number of anchors; a multiple of `scales`.
        scales: anchors are sorted by area and split evenly, finest scale first.
        seed: the result depends only on it and the data (byte-identical reruns).
        restarts: k-means++ starts; the best mean IoU wins.
        sample: restarts run on at most this many distinct sizes (seeded), then the winner is
            refined on all of them.

    Returns:
        `AnchorFit` of the anchors on all of `wh`.

    Raises:
        UsageError: `k` < 1, more anchors than distinct box sizes, or `k` not a multiple of `scales`.
    """
    boxes = _check_wh(wh)
    _split_scales(k, scales)
    if k < 1:
        raise UsageError(f"--k {k}: need at least one anchor")
    sizes, counts = np.unique(boxes, axis=0, return_counts=True)
    if k > len(sizes):
        raise UsageError(
            f"--k {k} is more than the {len(sizes)} distinct box sizes in the data: use --k {len(sizes)} or fewer"
        )
    rng = np.random.default_rng(seed)
    weights = counts.astype(np.float64)
    fit_sizes, fit_weights = sizes, weights
    if len(sizes) > sample:
        pick = rng.choice(len(sizes), size=sample, replace=False, p=weights / weights.sum())
        fit_sizes, fit_weights = sizes[np.sort(pick)], weights[np.sort(pick)]
    best, best_score = None, -1.0
    for _ in range(max(restarts, 1)):
        centres = _kmeanspp(fit_sizes, fit_weights, k, rng)
        centres, score = _lloyd(fit_sizes, fit_weights, centres, max_iter)
        if score > best_score:
            best, best_score = centres, score
    if fit_sizes is not sizes:
        best, _ = _lloyd(sizes, weights, best, max_iter)
    return anchor_fit(boxes, best, scales=scales, ratio_threshold=ratio_threshold)


def _kmeanspp(sizes: FloatArray, weights: FloatArray, k: int, rng: np.random.Generator) -> FloatArray:
    """k-means++ seeding with distance ``1 - IoU``, each size weighted by its count."""
    centres = [sizes[rng.choice(len(sizes), p=weights / weights.sum())]]
    dist = 1 - shape_iou(sizes, centres[0][None])[:, 0]
    for _ in range(1, k):
        p = weights * dist**2
        total = p.sum()
        idx = rng.choice(len(sizes), p=p / total) if total > 0 else int(np.argmax(dist))
        centres.append(sizes[idx])
        dist = np.minimum(dist, 1 - shape_iou(sizes, sizes[idx][None])[:, 0])
    return np.asarray(centres, dtype=np.float64)


def _assign(sizes: FloatArray, centres: FloatArray) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Nearest centre by shape-IoU (float32 inside: the hot loop of k-means) and that IoU."""
    label = np.empty(len(sizes), dtype=np.int64)
    best = np.empty(len(sizes))
    cw, ch = centres[:, 0].astype(np.float32), centres[:, 1].astype(np.float32)
    c_area = cw * ch
    for start in range(0, len(sizes), _CHUNK):
        part = sizes[start : start + _CHUNK].astype(np.float32)
        w, h = part[:, :1], part[:, 1:]
        inter = np.minimum(w, cw) * np.minimum(h, ch)
        iou = inter / (w * h + c_area - inter)
        idx = iou.argmax(axis=1)
        label[start : start + _CHUNK] = idx
        best[start : start + _CHUNK] = np.take_along_axis(iou, idx[:, None], axis=1)[:, 0]
    return label, best


def _lloyd(
    sizes: FloatArray, weights: FloatArray, centres: FloatArray, max_iter: int, tol: float = 1e-3
) -> tuple[FloatArray, float]:
    """Weighted Lloyd steps (mean of each cluster) until no centre moves by more than `tol` of its size."""
    k = len(centres)
    centres = centres.copy()
    for _ in range(max_iter):
        label, best = _assign(sizes, centres)
        mass = np.bincount(label, weights=weights, minlength=k)
        previous = centres.copy()
        for dim in range(2):
            total = np.bincount(label, weights=weights * sizes[:, dim], minlength=k)
            centres[:, dim] = np.where(mass > 0, total / np.maximum(mass, 1e-300), centres[:, dim])
        empty = np.flatnonzero(mass == 0)
        if len(empty):  # an empty cluster restarts at the worst-covered sizes
            centres[empty] = sizes[np.argsort(best, kind="stable")[: len(empty)]]
        elif (np.abs(centres - previous) <= tol * previous).all():
            break
    _, best = _assign(sizes, centres)
    score = float((best * weights).sum() / weights.sum())
    return centres[np.argsort(centres[:, 0] * centres[:, 1], kind="stable")], score
