"""YOLOv2/v3 anchor assignment: which (scale, anchor, cell) slots each box trains.

Pure numpy, vectorized over boxes. Rules (``shared/specs/yolo-targets.md`` §3): ``best`` (darknet
v3: the anchor of best shape-IoU over all scales, one slot per box, ties to the lowest index),
``iou:T`` (also every anchor of that scale with shape-IoU > T), ``ratio:R`` (Ultralytics v5:
every anchor on every scale with ``max(w/aw, aw/w, h/ah, ah/h) < R``, plus the two nearest
neighbour cells, offsets in [-0.5, 1.5]).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dataprep.encoding.layout import Layout

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_CHUNK = 1 << 15  # boxes per block: keeps the (n, A) temporaries in cache


def shape_iou(wh: npt.ArrayLike, anchors: npt.ArrayLike) -> FloatArray:
    """``(N, A)`` IoU of boxes and anchors placed on a common centre (only sizes matter).

    Args:
        wh: ``(N, 2)`` box (w, h); anchors: ``(A, 2)`` anchor (w, h), same units.
    """
    wh = np.asarray(wh, dtype=np.float64).reshape(-1, 2)
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    inter = np.minimum(wh[:, None, 0], anchors[None, :, 0]) * np.minimum(wh[:, None, 1], anchors[None, :, 1])
    union = (wh[:, 0] * wh[:, 1])[:, None] + (anchors[:, 0] * anchors[:, 1])[None, :] - inter
    return inter / union


def ratio_metric(wh: npt.ArrayLike, anchors: npt.ArrayLike) -> FloatArray:
    """``(N, A)`` Ultralytics' size ratio ``max(w/aw, aw/w, h/ah, ah/h)`` (1 = same size)."""
    wh = np.asarray(wh, dtype=np.float64).reshape(-1, 2)
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    r = wh[:, None, :] / anchors[None, :, :]
    return np.maximum(r, 1 / r).max(axis=2)


def _within_ratio(wh: FloatArray, anchors: FloatArray, limit: float) -> npt.NDArray[np.bool_]:
    """``(N, A)`` ``ratio_metric(wh, anchors) < limit``, in cache-sized blocks (same arithmetic as Ultralytics)."""
    out = np.empty((len(wh), len(anchors)), dtype=bool)
    for start in range(0, len(wh), _CHUNK):
        out[start : start + _CHUNK] = ratio_metric(wh[start : start + _CHUNK], anchors) < limit
    return out


def best_anchor(wh: FloatArray, anchors: FloatArray) -> tuple[IntArray, FloatArray]:
    """``(N,)`` index of the best shape-IoU anchor (lowest index on ties) and that IoU."""
    n = len(wh)
    best = np.empty(n, dtype=np.int64)
    best_iou = np.empty(n, dtype=np.float64)
    for start in range(0, n, _CHUNK):
        iou = shape_iou(wh[start : start + _CHUNK], anchors)
        idx = iou.argmax(axis=1)
        best[start : start + _CHUNK] = idx
        best_iou[start : start + _CHUNK] = np.take_along_axis(iou, idx[:, None], axis=1)[:, 0]
    return best, best_iou


def assign_anchors(cxcywh: FloatArray, layout: Layout) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Candidate slots for valid boxes in network pixels.

    Args:
        cxcywh: ``(N, 4)`` centre x, centre y, w, h in network pixels (w, h > 0, centres in
            ``[0, img_size]``).

    Returns:
        ``(box, anchor, row, col)``: ``(M,)`` int64 each, one per candidate slot, ordered by box,
        then anchor, then cell (centre cell first). ``anchor`` is the global anchor index;
        its scale is ``anchor // layout.predictors``.
    """
    anchors = layout.anchors_px()
    wh = cxcywh[:, 2:]
    n = len(cxcywh)
    mode = layout.assign.split(":")[0]
    if mode == "best":
        box = np.arange(n, dtype=np.int64)
        anchor = best_anchor(wh, anchors)[0]
    elif mode == "iou":
        best, _ = best_anchor(wh, anchors)
        iou = shape_iou(wh, anchors)
        same_scale = (np.arange(len(anchors))[None, :] // layout.predictors) == (best // layout.predictors)[:, None]
        chosen = same_scale & (iou > layout.assign_threshold)
        chosen[np.arange(n), best] = True
        box, anchor = np.nonzero(chosen)
    else:  # ratio
        box, anchor = np.nonzero(_within_ratio(wh, anchors, layout.assign_threshold))
    box = box.astype(np.int64, copy=False)
    anchor = anchor.astype(np.int64, copy=False)
    strides = np.asarray(layout.strides, dtype=np.float64)[anchor // layout.predictors]
    sizes = np.asarray(layout.grid_sizes, dtype=np.int64)[anchor // layout.predictors]
    gx = cxcywh[box, 0] / strides
    gy = cxcywh[box, 1] / strides
    col = np.minimum(np.floor(gx).astype(np.int64), sizes - 1)
    row = np.minimum(np.floor(gy).astype(np.int64), sizes - 1)
    if mode != "ratio":
        return box, anchor, row, col
    return _with_neighbours(box, anchor, row, col, gx, gy, sizes)


def _with_neighbours(
    box: IntArray, anchor: IntArray, row: IntArray, col: IntArray, gx: FloatArray, gy: FloatArray, sizes: IntArray
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Add Ultralytics' two neighbour cells: left/right by x's fraction, up/down by y's.

    Left when ``frac(gx) < 0.5`` and ``gx > 1``; right when ``frac(gx) > 0.5`` and ``S - gx > 1``
    (the same for y). A centre exactly on a border (frac 0) gets its left/upper neighbour only:
    Ultralytics' rule would add the centre cell a second time. A centre on the far image border
    (clamped cell, offset 1.0) gets no neighbour, so offsets stay in [-0.5, 1.5].
    """
    fx, fy = gx - col, gy - row  # in [0, 1]; 1.0 only for a centre on the far border (clamped cell)
    left = (fx < 0.5) & (gx > 1)
    right = (fx > 0.5) & (sizes - gx > 1)
    up = (fy < 0.5) & (gy > 1)
    down = (fy > 0.5) & (sizes - gy > 1)
    has_x, has_y = left | right, up | down
    dx = np.where(left, -1, np.where(right, 1, 0))
    dy = np.where(up, -1, np.where(down, 1, 0))
    # (pairs, 3) candidates: centre, x-neighbour, y-neighbour; a C-order mask keeps box/anchor order
    valid = np.stack([np.ones(len(box), dtype=bool), has_x, has_y], axis=1)
    rows = np.stack([row, row, row + dy], axis=1)[valid]
    cols = np.stack([col, col + dx, col], axis=1)[valid]
    count = valid.sum(axis=1)
    return np.repeat(box, count), np.repeat(anchor, count), rows, cols
