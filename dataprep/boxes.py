"""Vectorized box math on ``(N, 4)`` float64 arrays.

Names follow torchvision's box formats: ``xyxy`` (x_min, y_min, x_max, y_max), ``xywh``
(COCO: x_min, y_min, width, height) and ``cxcywh`` (centre, width, height). A ``_norm``
suffix means coordinates divided by the image width/height (YOLO). Absolute coordinates are
continuous (COCO convention): a box covering a whole W x H image is ``(0, 0, W, H)``.
Pascal VOC's 1-based inclusive pixel indices are handled by `voc_to_xyxy`/`xyxy_to_voc`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _as_boxes(boxes: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"expected boxes of shape (N, 4), got {arr.shape}")
    return arr


def xywh_to_xyxy(xywh: npt.ArrayLike) -> FloatArray:
    """``(N, 4)`` x_min, y_min, w, h -> ``(N, 4)`` x_min, y_min, x_max, y_max."""
    b = _as_boxes(xywh)
    out = b.copy()
    out[:, 2:] += b[:, :2]
    return out


def xyxy_to_xywh(xyxy: npt.ArrayLike) -> FloatArray:
    """``(N, 4)`` x_min, y_min, x_max, y_max -> ``(N, 4)`` x_min, y_min, w, h."""
    b = _as_boxes(xyxy)
    out = b.copy()
    out[:, 2:] -= b[:, :2]
    return out


def xyxy_to_cxcywh(xyxy: npt.ArrayLike) -> FloatArray:
    """``(N, 4)`` corners -> ``(N, 4)`` centre x, centre y, w, h."""
    b = _as_boxes(xyxy)
    out = np.empty_like(b)
    out[:, :2] = (b[:, :2] + b[:, 2:]) / 2
    out[:, 2:] = b[:, 2:] - b[:, :2]
    return out


def cxcywh_to_xyxy(cxcywh: npt.ArrayLike) -> FloatArray:
    """``(N, 4)`` centre x, centre y, w, h -> ``(N, 4)`` corners."""
    b = _as_boxes(cxcywh)
    half = b[:, 2:] / 2
    return np.concatenate([b[:, :2] - half, b[:, :2] + half], axis=1)


def _size_columns(width: npt.ArrayLike, height: npt.ArrayLike) -> FloatArray:
    w = np.asarray(width, dtype=np.float64)
    h = np.asarray(height, dtype=np.float64)
    return np.stack(np.broadcast_arrays(w, h, w, h), axis=-1)


def xyxy_to_cxcywh_norm(xyxy: npt.ArrayLike, width: npt.ArrayLike, height: npt.ArrayLike) -> FloatArray:
    """Absolute corners -> YOLO's normalized centre/size.

    Args:
        xyxy: ``(N, 4)`` absolute pixels.
        width, height: scalars or ``(N,)`` image sizes in pixels.
    """
    return xyxy_to_cxcywh(xyxy) / _size_columns(width, height)


def cxcywh_norm_to_xyxy(cxcywh_norm: npt.ArrayLike, width: npt.ArrayLike, height: npt.ArrayLike) -> FloatArray:
    """YOLO's normalized centre/size -> absolute corners (`width`, `height` scalar or ``(N,)``)."""
    return cxcywh_to_xyxy(_as_boxes(cxcywh_norm) * _size_columns(width, height))


def voc_to_xyxy(voc: npt.ArrayLike) -> FloatArray:
    """Pascal VOC ``xmin, ymin, xmax, ymax`` (1-based, inclusive pixels) -> continuous xyxy.

    VOC's pixel ``(1, 1)`` is the top-left pixel, covering ``[0, 1)`` continuously, so
    x_min = xmin - 1 while x_max = xmax (detectron2 ``data/datasets/pascal_voc.py`` states it).
    """
    out = _as_boxes(voc).copy()
    out[:, :2] -= 1.0
    return out


def xyxy_to_voc(xyxy: npt.ArrayLike) -> FloatArray:
    """Continuous xyxy -> Pascal VOC 1-based inclusive pixel coordinates (inverse of `voc_to_xyxy`)."""
    out = _as_boxes(xyxy).copy()
    out[:, :2] += 1.0
    return out


def shortest_size(start: npt.ArrayLike, stop: npt.ArrayLike, *, max_decimals: int = 15) -> FloatArray:
    """``stop - start`` as the shortest decimal (at most `max_decimals` places) that still gives `stop`.

    xyxy storage turns a COCO ``[x, y, w, h]`` into ``x + w``; subtracting back leaves float noise
    (0.1 + 0.2 - 0.1 != 0.2). The fewest decimals that round-trip restore the source's number, so
    COCO -> COCO writes the same bytes and areas/IoUs match pycocotools' to the last bit. Sizes
    that no rounding restores are returned as ``stop - start``.
    """
    start = np.asarray(start, dtype=np.float64)
    stop = np.asarray(stop, dtype=np.float64)
    size = stop - start
    out = size.copy()
    todo = np.isfinite(size)
    for decimals in range(max_decimals + 1):
        if not todo.any():
            break
        idx = np.flatnonzero(todo)
        cand = np.round(size[idx], decimals)
        ok = start[idx] + cand == stop[idx]
        out[idx[ok]] = cand[ok]
        todo[idx[ok]] = False
    return out


def box_area(xyxy: npt.ArrayLike) -> FloatArray:
    """``(N,)`` areas of ``(N, 4)`` xyxy boxes; inverted boxes give 0, NaN stays NaN."""
    b = _as_boxes(xyxy)
    wh = b[:, 2:] - b[:, :2]
    return np.where(np.isnan(wh).any(axis=1), np.nan, np.clip(wh, 0, None).prod(axis=1))


def clip_xyxy(xyxy: npt.ArrayLike, width: npt.ArrayLike, height: npt.ArrayLike) -> FloatArray:
    """Clip ``(N, 4)`` xyxy boxes to ``[0, width] x [0, height]`` (scalars or ``(N,)``)."""
    b = _as_boxes(xyxy)
    upper = _size_columns(width, height)
    return np.clip(b, 0.0, upper)


def is_inverted_or_empty(xyxy: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """``(N,)`` mask of boxes with x_max <= x_min or y_max <= y_min (zero area or inverted)."""
    b = _as_boxes(xyxy)
    return (b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])


def is_outside(
    xyxy: npt.ArrayLike, width: npt.ArrayLike, height: npt.ArrayLike, *, tol: float = 0.0
) -> npt.NDArray[np.bool_]:
    """``(N,)`` mask of boxes reaching outside ``[0, width] x [0, height]`` by more than `tol` pixels.

    Negative coordinates are always outside; the right/bottom edges are not checked on images
    of unknown size (NaN width/height).
    """
    b = _as_boxes(xyxy)
    w = np.asarray(width, dtype=np.float64)
    h = np.asarray(height, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return (b[:, 0] < -tol) | (b[:, 1] < -tol) | (b[:, 2] > w + tol) | (b[:, 3] > h + tol)
