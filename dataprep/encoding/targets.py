"""Sparse YOLO targets: one row per assigned slot, and the seed's dense per-cell layout.

`encode` turns a batch of boxes (any number of images) into `Targets`: columns of ``(M,)``
arrays, one row per (image, scale, anchor, row, column) slot a box trains. That is what a loss
indexes into predictions with, and it scales to any dataset; `to_dense` builds the seed's
``Y = (P, bx, by, bw, bh, c1..cC)`` per cell for a few images (inspection, the v1 loss).

Target units (``shared/specs/yolo-targets.md``):
- ``tx, ty``: centre offset in its cell, ``gx - col`` with ``gx = cx / stride``; in [0, 1]
  (``best``/``iou``) or [-0.5, 1.5] (``ratio``, neighbour cells). Darknet decodes ``σ(t)``,
  Ultralytics ``2σ(t) - 0.5``.
- ``tw, th``: anchors ``ln(w / anchor_w)``; grid ``w / img_size`` (``wh_units="image"``) or
  ``w / stride`` (``"cell"``).
- ``weight``: anchors ``2 - w·h / img_size²`` (darknet's box-loss scale); grid 1.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep.encoding.anchors import assign_anchors
from dataprep.encoding.grid import assign_grid
from dataprep.encoding.layout import CHANNELS, GRID_MIN_SIDE, Layout
from dataprep.errors import UsageError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Why a box got no slot; the order is the order of the checks.
DROP_REASONS = (
    "box-non-finite",  # NaN or inf coordinate
    "class-out-of-range",  # class_index not in 0..C-1
    "box-inverted",  # x_max < x_min or y_max < y_min
    "box-zero-area",  # zero width or height
    "box-outside-image",  # centre outside the network input (clip to the image first: encode_dataset does)
    "box-tiny",  # grid: a side under 0.5 % of the image side (spec rule 2)
    "no-anchor-match",  # ratio:R: no anchor within the ratio
    "collision",  # every slot of the box went to another box (keep=largest|last)
)
ROW_COLUMNS = (
    "image", "scale", "anchor", "slot", "row", "col", "tx", "ty", "tw", "th", "class_index", "weight", "annotation_id",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class Targets:
    """Sparse targets: ``(M,)`` arrays, one row per assigned slot, plus what was dropped.

    Attributes:
        layout: the `Layout` the rows index into.
        image: the caller's image key (batch position or image_id), int64.
        scale: index into ``layout.strides`` (finest first).
        anchor: global anchor index into ``layout.anchors`` (0 for grids).
        slot: predictor block within the scale, ``anchor - scale * layout.predictors`` (0 for grids).
        row, col: cell, ``0 <= row, col < layout.grid_sizes[scale]``.
        tx, ty, tw, th: float64 targets (units in the module docstring).
        class_index: 0..C-1.
        weight: float64 box-loss weight.
        annotation_id: the box each row came from (several rows per box for ``iou``/``ratio``).
        dropped: one row per box with no slot: ``image``, ``annotation_id``, ``reason`` (one of
            `DROP_REASONS`), ``by_annotation_id`` (the box that took the slot, -1 otherwise).
        collisions: rows that met another row in the same slot (lost ones, or shared ones
            with ``keep="all"``).
        num_boxes: boxes given.
    """

    layout: Layout
    image: IntArray
    scale: IntArray
    anchor: IntArray
    slot: IntArray
    row: IntArray
    col: IntArray
    tx: FloatArray
    ty: FloatArray
    tw: FloatArray
    th: FloatArray
    class_index: IntArray
    weight: FloatArray
    annotation_id: IntArray
    dropped: pd.DataFrame
    collisions: int
    num_boxes: int

    def __len__(self) -> int:
        return len(self.image)

    def columns(self) -> dict[str, npt.NDArray]:
        """The row columns by name (`ROW_COLUMNS` order), as the arrays themselves."""
        return {name: getattr(self, name) for name in ROW_COLUMNS}

    def to_frame(self) -> pd.DataFrame:
        """The rows as a DataFrame (for inspection)."""
        return pd.DataFrame(self.columns(), copy=False)

    def select(self, mask: npt.NDArray[np.bool_]) -> Targets:
        """Rows where `mask` (``(M,)`` bool) is true (`dropped` and counts unchanged)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update({name: values[name][mask] for name in ROW_COLUMNS})
        return Targets(**values)


def encode(
    xyxy: npt.ArrayLike,
    class_index: npt.ArrayLike,
    layout: Layout,
    *,
    image: npt.ArrayLike | None = None,
    annotation_id: npt.ArrayLike | None = None,
) -> Targets:
    """Assign and encode boxes of any number of images into sparse targets.

    Args:
        xyxy: ``(N, 4)`` box corners in network pixels (after `letterbox`), ``[0, img_size]``.
        class_index: ``(N,)`` int class 0..C-1.
        layout: from `grid_layout` or `anchor_layout`.
        image: ``(N,)`` int image key of each box (batch position or image_id); default all 0.
        annotation_id: ``(N,)`` int id of each box, carried to rows and reports; default 0..N-1.

    Returns:
        `Targets`. Boxes that are non-finite, inverted, empty, centred outside the input, tiny
        (grid), matched by no anchor (``ratio``) or that lose every slot in a collision are in
        ``dropped`` with their reason, never encoded. Boxes are not clipped here (a centre on
        the far border is kept, offset 1.0): clip in image pixels before `letterbox`.
    """
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    n = len(boxes)
    cls = np.asarray(class_index, dtype=np.int64).reshape(-1)
    img = np.zeros(n, np.int64) if image is None else np.asarray(image, dtype=np.int64).reshape(-1)
    ann = np.arange(n, dtype=np.int64) if annotation_id is None else np.asarray(annotation_id, np.int64).reshape(-1)
    if not len(cls) == len(img) == len(ann) == n:
        raise UsageError(f"encode: {n} boxes but {len(cls)} classes, {len(img)} image keys, {len(ann)} ids")
    reason, cxcywh = _check_boxes(boxes, cls, layout)
    ok = np.flatnonzero(reason < 0)
    if layout.kind == "grid":
        box, anchor, row, col = assign_grid(cxcywh[ok], layout)
    else:
        box, anchor, row, col = assign_anchors(cxcywh[ok], layout)
    box = ok[box]  # index into the input
    scale = anchor // layout.predictors
    slot = anchor - scale * layout.predictors
    key = _slot_key(img[box], scale, slot, row, col, layout)
    keep, loser, winner, collisions = _resolve(key, cxcywh[box, 2] * cxcywh[box, 3], layout.keep)
    reason, by = _collision_drops(reason, box, keep, loser, winner, n)
    if not keep.all():  # settle collisions before computing targets: ratio:R makes ~14 rows per box
        box, anchor, scale, slot, row, col = (v[keep] for v in (box, anchor, scale, slot, row, col))
    stride = np.asarray(layout.strides, dtype=np.float64)[scale]
    cx, cy, w, h = (cxcywh[box, k] for k in range(4))
    tx = cx / stride - col
    ty = cy / stride - row
    if layout.kind == "grid":
        unit = float(layout.img_size) if layout.wh_units == "image" else stride
        tw, th, weight = w / unit, h / unit, np.ones(len(box))
    else:
        anchors = layout.anchors_px()
        tw = np.log(w / anchors[anchor, 0])
        th = np.log(h / anchors[anchor, 1])
        weight = 2.0 - w * h / float(layout.img_size) ** 2
    dropped_at = np.flatnonzero(reason >= 0)
    rows = {"image": img[box], "scale": scale, "anchor": anchor, "slot": slot, "row": row, "col": col}
    rows.update(tx=tx, ty=ty, tw=tw, th=th, class_index=cls[box], weight=weight, annotation_id=ann[box])
    dropped = pd.DataFrame(
        {
            "image": img[dropped_at],
            "annotation_id": ann[dropped_at],
            "reason": pd.Categorical.from_codes(reason[dropped_at], categories=list(DROP_REASONS)),
            "by_annotation_id": np.where(by[dropped_at] >= 0, ann[np.maximum(by[dropped_at], 0)], -1),
        }
    )
    return Targets(layout=layout, **rows, dropped=dropped, collisions=collisions, num_boxes=n)


def _check_boxes(boxes: FloatArray, cls: IntArray, layout: Layout) -> tuple[npt.NDArray[np.int8], FloatArray]:
    """Per box: drop reason code (-1 = keep) and ``(N, 4)`` cxcywh."""
    size = float(layout.img_size)
    reason = np.full(len(boxes), -1, dtype=np.int8)
    with np.errstate(invalid="ignore"):  # inf - inf: those boxes are dropped as non-finite
        cxcywh = np.empty_like(boxes)
        cxcywh[:, :2] = (boxes[:, :2] + boxes[:, 2:]) / 2
        cxcywh[:, 2:] = boxes[:, 2:] - boxes[:, :2]
    w, h = cxcywh[:, 2], cxcywh[:, 3]
    checks = [
        ~np.isfinite(boxes).all(axis=1),
        (cls < 0) | (cls >= layout.num_classes),
        (w < 0) | (h < 0),
        (w == 0) | (h == 0),
        ((cxcywh[:, :2] < 0) | (cxcywh[:, :2] > size)).any(axis=1),
    ]
    if layout.kind == "grid":
        checks.append(np.minimum(w, h) < GRID_MIN_SIDE * size)
    for code in range(len(checks) - 1, -1, -1):  # the first failing check names the reason
        reason[checks[code]] = code
    return reason, cxcywh


def _image_rank(keys: IntArray) -> IntArray:
    """Dense rank of image keys (cheap when they come sorted, as a dataset's do)."""
    if len(keys) < 2 or (keys[1:] >= keys[:-1]).all():
        rank = np.zeros(len(keys), dtype=np.int64)
        if len(keys) > 1:
            np.cumsum(keys[1:] != keys[:-1], out=rank[1:])
        return rank
    return np.unique(keys, return_inverse=True)[1].astype(np.int64).reshape(-1)


def _slot_key(
    image: IntArray, scale: IntArray, slot: IntArray, row: IntArray, col: IntArray, layout: Layout
) -> IntArray:
    """One int64 per (image, scale, slot, row, col): equal keys are the same slot."""
    sizes = np.asarray(layout.grid_sizes, dtype=np.int64)
    per_scale = layout.predictors * sizes**2
    offset = np.concatenate([[0], np.cumsum(per_scale)[:-1]])
    size = sizes[scale]
    return _image_rank(image) * int(per_scale.sum()) + offset[scale] + (slot * size + row) * size + col


def _resolve(key: IntArray, area: FloatArray, keep: str) -> tuple[npt.NDArray[np.bool_], IntArray, IntArray, int]:
    """Settle rows sharing a slot (spec rule 4).

    Returns:
        ``(keep_mask, loser, winner, collisions)``: ``(M,)`` bool rows kept; rows that lost and
        the row that took each one's slot; rows that met another row in a slot.
    """
    m = len(key)
    empty = np.empty(0, dtype=np.int64)
    if m < 2:
        return np.ones(m, dtype=bool), empty, empty, 0
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    same = sorted_key[1:] == sorted_key[:-1]
    if not same.any():
        return np.ones(m, dtype=bool), empty, empty, 0
    in_group = np.zeros(m, dtype=bool)  # sorted positions of rows in a shared slot
    in_group[1:] |= same
    in_group[:-1] |= same
    rows = order[in_group]
    collisions = len(rows)
    if keep == "all":
        return np.ones(m, dtype=bool), empty, empty, collisions
    position = rows  # row indices are input order
    if keep == "largest":  # decreasing area, then input order
        ranked = rows[np.lexsort((position, -area[rows], key[rows]))]
    else:  # last: the last row in input order wins (darknet)
        ranked = rows[np.lexsort((-position, key[rows]))]
    first = np.ones(len(ranked), dtype=bool)
    first[1:] = key[ranked][1:] != key[ranked][:-1]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(ranked)), 0))
    loser = ranked[~first]
    winner = ranked[group_start[~first]]
    keep_mask = np.ones(m, dtype=bool)
    keep_mask[loser] = False
    return keep_mask, loser, winner, collisions


def _collision_drops(
    reason: npt.NDArray[np.int8], box: IntArray, keep: npt.NDArray[np.bool_], loser: IntArray, winner: IntArray, n: int
) -> tuple[npt.NDArray[np.int8], IntArray]:
    """Mark boxes with no row left: ``no-anchor-match`` or ``collision`` (with the winning box)."""
    reason = reason.copy()
    by = np.full(n, -1, dtype=np.int64)
    had = np.bincount(box, minlength=n) > 0
    left = np.bincount(box[keep], minlength=n) > 0
    reason[(reason < 0) & ~had] = DROP_REASONS.index("no-anchor-match")
    lost = (reason < 0) & had & ~left
    if lost.any():
        reason[lost] = DROP_REASONS.index("collision")
        lost_box = box[loser]
        by[lost_box[::-1]] = box[winner][::-1]  # the first lost row's winner
        by[~lost] = -1
    return reason, by


def dense_bytes(layout: Layout, num_images: int, *, itemsize: int = 4) -> int:
    """Bytes of `to_dense` arrays for `num_images` images (float32 by default)."""
    return num_images * itemsize * sum(int(np.prod(shape)) for shape in layout.dense_shapes())


def to_dense(
    targets: Targets, *, images: npt.ArrayLike | None = None, repeat_predictors: bool = False
) -> tuple[IntArray, list[npt.NDArray[np.float32]]]:
    """The seed's per-cell layout ``Y = (P, bx, by, bw, bh, c1..cC)`` for a few images.

    Args:
        targets: from `encode`.
        images: image keys to lay out, in this order (default: the keys in `targets`, sorted).
        repeat_predictors: grid only: repeat ``(P, bx, by, bw, bh)`` for each of the B predictors,
            darknet v1's ``(S, S, B·5 + C)``, instead of the one truth block ``(S, S, 5 + C)``.

    Returns:
        ``(keys, arrays)``: ``(N,)`` image keys and one float32 array per scale,
        ``(N, A, S, S, 5 + C)`` for anchors or ``(N, S, S, 5 + C)`` for a grid (channels in
        `CHANNELS` order, then one-hot classes; bx..bh are tx..th). With ``keep="all"`` the first
        row of a shared slot is the one written.
    """
    layout = targets.layout
    keys = np.unique(targets.image) if images is None else np.asarray(images, dtype=np.int64).reshape(-1)
    order = np.argsort(keys, kind="stable")
    pos = np.minimum(np.searchsorted(keys[order], targets.image), max(len(keys) - 1, 0))
    inside = keys[order][pos] == targets.image if len(keys) else np.zeros(len(targets), dtype=bool)
    image_pos = order[pos] if len(keys) else pos
    depth = len(CHANNELS) + layout.num_classes
    arrays = []
    for s, size in enumerate(layout.grid_sizes):
        sel = np.flatnonzero(inside & (targets.scale == s))
        key = _slot_key(
            image_pos[sel], targets.scale[sel], targets.slot[sel], targets.row[sel], targets.col[sel], layout
        )
        sel = sel[np.unique(key, return_index=True)[1]]  # first row per slot
        out = np.zeros((len(keys), layout.predictors, size, size, depth), dtype=np.float32)
        where = (image_pos[sel], targets.slot[sel], targets.row[sel], targets.col[sel])
        values = np.stack([np.ones(len(sel)), targets.tx[sel], targets.ty[sel], targets.tw[sel], targets.th[sel]], 1)
        out[(*where, slice(0, 5))] = values
        out[(*where, 5 + targets.class_index[sel])] = 1.0
        if layout.kind == "grid":
            out = out[:, 0]
            if repeat_predictors:
                boxes = np.concatenate([out[..., :5]] * layout.predictors, axis=-1)
                out = np.concatenate([boxes, out[..., 5:]], axis=-1)
        arrays.append(out)
    return keys, arrays
