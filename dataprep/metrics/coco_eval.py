"""COCO detection evaluation on columnar arrays: objects, IoU pairs, greedy matching, accumulate, summarize.

`coco_evaluate` reproduces pycocotools' ``COCOeval`` (evaluate + accumulate + summarize) number for
number, vectorized over images and classes instead of looping in Python:

- boxes are seen as pycocotools sees them: ``[x, y, w, h]`` with ``x + w == x_max`` (see `coco_xywh`);
  box IoU is maskApi.c's ``bbIou`` formula evaluated in the same float64 order, crowd IoU is
  ``intersection / detection area``; masks go through ``pycocotools.mask.iou``;
- per (image, class) the top 100 detections by score (stable on input order) are kept;
- greedy matching is pycocotools' loop, run for all images, classes, area ranges and IoU
  thresholds at once one detection rank at a time: each detection takes the not-yet-matched
  ground truth (crowd regions can be taken again) with the highest IoU >= the threshold, preferring
  not-ignored ones, ties to the later one;
- accumulation sorts each class's detections by score (stable in image-id then per-image order),
  interpolates precision at the 101 recall thresholds and averages with the same numpy calls, so
  the 12 stats are bit-identical to pycocotools.

Ground truth that pycocotools treats specially is treated the same: annotation id 0 never counts as
a match (its detection becomes a false positive, pycocotools' ``dtm > 0`` test), crowd regions are
ignored, images and classes without ground truth give -1 where a number is undefined.
Nothing here imports torch.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from dataprep.boxes import shortest_size

# pycocotools Params.setDetParams, written the same way so the floats are the same.
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_RANGES: dict[str, tuple[float, float]] = {
    "all": (0**2, 1e5**2),
    "small": (0**2, 32**2),
    "medium": (32**2, 96**2),
    "large": (96**2, 1e5**2),
}
MAX_DETS = (1, 10, 100)
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class Objects:
    """Ground truth or detections as columns (one row per object).

    Attributes:
        image_id, category_id: ``(N,)`` int64.
        xywh: ``(N, 4)`` float64 absolute ``[x, y, width, height]`` as pycocotools reads it.
        area: ``(N,)`` float64 pixels², the area used for COCO's area ranges.
        iscrowd: ``(N,)`` bool (ground truth only; False for detections).
        score: ``(N,)`` float64 (detections; NaN for ground truth).
        annotation_id: ``(N,)`` int64; a ground-truth id of 0 never matches (pycocotools).
        masks: ``N`` pycocotools RLE dicts for ``segm`` evaluation, else None.
        ignore: ``(N,)`` bool extra ignore flag (VOC ``difficult``); COCO uses `iscrowd` only.
    """

    image_id: IntArray
    category_id: IntArray
    xywh: FloatArray
    area: FloatArray
    iscrowd: BoolArray
    score: FloatArray
    annotation_id: IntArray
    masks: list[Any] | None = None
    ignore: BoolArray | None = None

    def __len__(self) -> int:
        return len(self.image_id)

    def take(self, index: npt.ArrayLike) -> Objects:
        """The rows at `index` (int positions or a bool mask), as a new `Objects`."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return Objects(
            self.image_id[idx],
            self.category_id[idx],
            self.xywh[idx],
            self.area[idx],
            self.iscrowd[idx],
            self.score[idx],
            self.annotation_id[idx],
            None if self.masks is None else [self.masks[i] for i in idx.tolist()],
            None if self.ignore is None else self.ignore[idx],
        )


def coco_xywh(xyxy: FloatArray) -> FloatArray:
    """``(N, 4)`` xyxy -> xywh whose ``x + w`` gives back ``x_max`` exactly, with the fewest decimals.

    COCO files store ``[x, y, w, h]``; readers keep ``x_max = x + w``. ``x_max - x`` can be off by
    one ulp from the file's ``w`` (0.1 + 0.2 - 0.1 != 0.2), which changes areas and IoUs in the
    last bit. The shortest decimal that still adds up to ``x_max`` is, for files written with a
    fixed number of decimals, the file's own number.
    """
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    out = xyxy.copy()
    for k in (0, 1):
        out[:, k + 2] = shortest_size(xyxy[:, k], xyxy[:, k + 2], max_decimals=16)
    return out


# ---------------------------------------------------------------------------------------
# pairs and IoU


@dataclass
class _Pairs:
    """Detections kept (top `max_det` per group) and their same-group ground-truth pairs."""

    det: IntArray  # (D,) rows of the detections, in (group, rank) order
    rank: IntArray  # (D,) 0-based rank by score within its (image, class) group
    pair_det: IntArray  # (P,) position in `det`
    pair_gt: IntArray  # (P,) row of the ground truth
    iou: FloatArray  # (P,)


def _group_key(objs: Objects, img_ids: IntArray, cat_ids: IntArray) -> IntArray:
    ii = np.searchsorted(img_ids, objs.image_id)
    kk = np.searchsorted(cat_ids, objs.category_id)
    return kk.astype(np.int64) * max(len(img_ids), 1) + ii


def _ranked(dt: Objects, key: IntArray) -> tuple[IntArray, IntArray]:
    """Detection rows sorted by (group, -score, input order), and each one's rank in its group."""
    order = np.lexsort((np.arange(len(dt)), -dt.score, key))
    k = key[order]
    rank = np.arange(len(order)) - np.searchsorted(k, k, side="left")
    return order, rank


def _box_iou(d: FloatArray, g: FloatArray, crowd: BoolArray) -> FloatArray:
    """maskApi.c ``bbIou`` for paired rows: ``d``, ``g`` ``(P, 4)`` xywh; crowd divides by the detection area."""
    iw = np.minimum(d[:, 2] + d[:, 0], g[:, 2] + g[:, 0]) - np.maximum(d[:, 0], g[:, 0])
    ih = np.minimum(d[:, 3] + d[:, 1], g[:, 3] + g[:, 1]) - np.maximum(d[:, 1], g[:, 1])
    inter = iw * ih
    da = d[:, 2] * d[:, 3]
    union = np.where(crowd, da, da + g[:, 2] * g[:, 3] - inter)
    ok = (iw > 0) & (ih > 0)
    out = np.zeros(len(d))
    np.divide(inter, union, out=out, where=ok)
    return out


def _pairs(
    gt: Objects, dt: Objects, img_ids: IntArray, cat_ids: IntArray, *, iou_type: str, max_det: int | None
) -> _Pairs:
    gkey = _group_key(gt, img_ids, cat_ids)
    gorder = np.argsort(gkey, kind="stable")
    gkey_sorted = gkey[gorder]
    dkey = _group_key(dt, img_ids, cat_ids)
    dorder, rank = _ranked(dt, dkey)
    if max_det is not None:
        keep = rank < max_det
        dorder, rank = dorder[keep], rank[keep]
    dk = dkey[dorder]
    start = np.searchsorted(gkey_sorted, dk, side="left")
    count = np.searchsorted(gkey_sorted, dk, side="right") - start
    pair_det = np.repeat(np.arange(len(dorder)), count)
    first = np.cumsum(count) - count
    pair_gt = gorder[np.repeat(start, count) + np.arange(int(count.sum())) - np.repeat(first, count)]
    if iou_type == "bbox":
        iou = _box_iou(dt.xywh[dorder[pair_det]], gt.xywh[pair_gt], gt.iscrowd[pair_gt])
    else:
        iou = _mask_iou(gt, dt, dorder, pair_det, pair_gt)
    return _Pairs(dorder, rank, pair_det, pair_gt, iou)


def _mask_iou(gt: Objects, dt: Objects, dorder: IntArray, pair_det: IntArray, pair_gt: IntArray) -> FloatArray:
    """pycocotools.mask.iou per (image, class) block of pairs (the RLE work stays in C)."""
    from pycocotools import mask as mask_utils

    out = np.zeros(len(pair_det))
    if not len(pair_det) or gt.masks is None or dt.masks is None:
        return out
    dets = dorder[pair_det]
    # pairs come grouped by detection, and a group's detections are consecutive
    change = (dt.image_id[dets[1:]] != dt.image_id[dets[:-1]]) | (dt.category_id[dets[1:]] != dt.category_id[dets[:-1]])
    bounds = np.r_[np.flatnonzero(np.r_[True, change]), len(pair_det)]
    for s, e in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        d_rows, d_inv = np.unique(pair_det[s:e], return_inverse=True)
        g_rows, g_inv = np.unique(pair_gt[s:e], return_inverse=True)
        d_masks = [dt.masks[i] for i in dorder[d_rows].tolist()]
        g_masks = [gt.masks[i] for i in g_rows.tolist()]
        ious = np.asarray(mask_utils.iou(d_masks, g_masks, gt.iscrowd[g_rows].astype(np.uint8).tolist()))
        out[s:e] = ious.reshape(len(d_rows), len(g_rows))[d_inv, g_inv]
    return out


# ---------------------------------------------------------------------------------------
# greedy matching (pycocotools evaluateImg, all images and classes at once)


@dataclass
class Matches:
    """Matching of the kept detections at each area range and IoU threshold.

    Attributes:
        det: ``(D,)`` detection rows kept (top `max_det` per image and class), grouped by (class, image).
        rank: ``(D,)`` rank of each by score within its (image, class).
        gt_match: ``(A, T, D)`` int64 ground-truth row matched, -1 if none.
        tp, ignored: ``(A, T, D)`` bool: true positive / ignored (neither TP nor FP).
        gt_ignored: ``(A, G)`` bool: ground truth ignored per area range (crowd, outside the range).
        pair_det, pair_gt, pair_iou: candidate pairs with IoU >= the lowest threshold.
    """

    det: IntArray
    rank: IntArray
    gt_match: IntArray
    tp: BoolArray
    ignored: BoolArray
    gt_ignored: BoolArray
    pair_det: IntArray
    pair_gt: IntArray
    pair_iou: FloatArray


def match(
    gt: Objects,
    dt: Objects,
    img_ids: IntArray,
    cat_ids: IntArray,
    *,
    iou_type: str = "bbox",
    iou_thresholds: FloatArray = IOU_THRESHOLDS,
    area_ranges: list[tuple[float, float]] | None = None,
    max_det: int = MAX_DETS[-1],
) -> Matches:
    """pycocotools' greedy matching for every image, class, area range and IoU threshold.

    Detections of images or classes outside `img_ids`/`cat_ids` must be removed by the caller.
    """
    ranges = list(AREA_RANGES.values()) if area_ranges is None else area_ranges
    thr = np.minimum(np.asarray(iou_thresholds, dtype=np.float64), 1 - 1e-10)
    pairs = _pairs(gt, dt, img_ids, cat_ids, iou_type=iou_type, max_det=max_det)
    n_a, n_t, n_d = len(ranges), len(thr), len(pairs.det)
    lo = np.array([r[0] for r in ranges])[:, None]
    hi = np.array([r[1] for r in ranges])[:, None]
    gt_ig = gt.iscrowd[None, :] | (gt.area[None, :] < lo) | (gt.area[None, :] > hi)  # (A, G)
    keep = pairs.iou >= thr.min() if len(thr) else np.zeros(len(pairs.iou), bool)
    p_det, p_gt, p_iou = pairs.pair_det[keep], pairs.pair_gt[keep], pairs.iou[keep]
    p_rank = pairs.rank[p_det]
    order = np.lexsort((p_gt, p_iou, p_det, p_rank))  # rank-major, then per detection by (iou, gt order)
    p_det, p_gt, p_iou, p_rank = p_det[order], p_gt[order], p_iou[order], p_rank[order]
    seg = np.flatnonzero(np.r_[True, p_det[1:] != p_det[:-1]]) if len(p_det) else np.zeros(0, np.int64)
    q = np.arange(len(p_det)) - np.repeat(seg, np.diff(np.r_[seg, len(p_det)]))  # rank within detection
    big = int(q.max()) + 2 if len(q) else 1
    q1 = (q + 1).astype(np.int32)

    # int32 (not int64) halves the traffic of these (A, T, D) arrays: 9M cells on COCO-sized sets
    gt_match = np.full((n_a, n_t, n_d), -1, dtype=np.int32)
    gt_taken = np.zeros((n_a, n_t, len(gt)), dtype=bool)
    rank_bounds = np.flatnonzero(np.r_[True, p_rank[1:] != p_rank[:-1], True]) if len(p_rank) else [0]
    for s, e in itertools.pairwise(rank_bounds):
        gi, di = p_gt[s:e], p_det[s:e]
        starts = np.flatnonzero(np.r_[True, di[1:] != di[:-1]])
        valid = (p_iou[s:e][None, None, :] >= thr[None, :, None]) & ~(gt_taken[:, :, gi] & ~gt.iscrowd[gi])
        key = np.where(valid, (~gt_ig[:, gi])[:, None, :].astype(np.int32) * big + q1[s:e], np.int32(0))
        best = np.maximum.reduceat(key, starts, axis=2)
        seg_of = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, e - s]))
        a_i, t_i, p_i = np.nonzero((key == best[:, :, seg_of]) & (key > 0))
        gt_match[a_i, t_i, di[p_i]] = gi[p_i]
        gt_taken[a_i, t_i, gi[p_i]] = True

    d_area = dt.area[pairs.det]
    outside = (d_area[None, :] < lo) | (d_area[None, :] > hi)  # (A, D)
    # unmatched detections are ignored when outside the area range; only matched cells need a lookup
    ignored = np.broadcast_to(outside[:, None, :], gt_match.shape).copy()
    tp = np.zeros(gt_match.shape, dtype=bool)
    cells = np.nonzero(gt_match >= 0)
    g_rows = gt_match[cells]
    # pycocotools stores the matched gt id in dtm and tests dtm > 0: a gt id of 0 reads as "no match"
    real = gt.annotation_id[g_rows] != 0
    ig = gt_ig[cells[0], g_rows] | (~real & outside[cells[0], cells[2]])
    ignored[cells] = ig
    tp[cells] = real & ~ig
    return Matches(pairs.det, pairs.rank, gt_match, tp, ignored, gt_ig, pairs.pair_det, pairs.pair_gt, pairs.iou)


# ---------------------------------------------------------------------------------------
# COCO accumulate + summarize


@dataclass
class CocoEval:
    """pycocotools' ``COCOeval.eval`` arrays and ``stats``.

    Attributes:
        precision: ``(T, R, K, A, M)`` float64 (T=10 IoU thresholds, R=101 recall thresholds,
            K classes in `category_ids` order, A=4 area ranges, M=3 maxDets); -1 where undefined.
        recall: ``(T, K, A, M)`` float64; -1 where undefined.
        stats: ``(12,)`` float64 in pycocotools' order (`STAT_NAMES`).
        category_ids: ``(K,)`` int64 (sorted GT category ids).
        matches: the matching at every area range and threshold.
    """

    precision: FloatArray
    recall: FloatArray
    stats: FloatArray
    category_ids: IntArray
    matches: Matches = field(repr=False)

    def class_ap(self) -> dict[str, FloatArray]:
        """Per class ``AP`` (0.50:0.95), ``AP50``, ``AP75`` at area all, 100 detections; -1 if undefined."""
        out = {}
        for name, t in (("AP", slice(None)), ("AP50", slice(0, 1)), ("AP75", slice(5, 6))):
            s = self.precision[t, :, :, 0, -1]  # (T', R, K)
            valid = s > -1
            total = np.where(valid, s, 0).sum(axis=(0, 1))
            n = valid.sum(axis=(0, 1))
            out[name] = np.where(n > 0, total / np.maximum(n, 1), -1.0)
        return out


def coco_evaluate(
    gt: Objects, dt: Objects, img_ids: IntArray, cat_ids: IntArray, *, iou_type: str = "bbox"
) -> CocoEval:
    """The 12 COCO stats and precision/recall arrays, as ``COCOeval(...).evaluate(); accumulate(); summarize()``.

    Args:
        gt: ground truth (area = the annotation's ``area``; crowd regions flagged).
        dt: detections of images in `img_ids` and classes in `cat_ids` only (area = box ``w*h`` for
            ``bbox``, as pycocotools' ``loadRes`` sets it).
        img_ids: ``(I,)`` sorted unique image ids evaluated (all GT images).
        cat_ids: ``(K,)`` sorted unique category ids evaluated (all GT categories).
        iou_type: ``"bbox"`` or ``"segm"`` (both need `masks` for segm).
    """
    img_ids = np.asarray(img_ids, dtype=np.int64)
    cat_ids = np.asarray(cat_ids, dtype=np.int64)
    m = match(gt, dt, img_ids, cat_ids, iou_type=iou_type)
    precision, recall = _accumulate(gt, dt, m, img_ids, cat_ids)
    return CocoEval(precision, recall, summarize(precision, recall), cat_ids, m)


def _accumulate(
    gt: Objects, dt: Objects, m: Matches, img_ids: IntArray, cat_ids: IntArray
) -> tuple[FloatArray, FloatArray]:
    n_t, n_r, n_k = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS), len(cat_ids)
    n_a, n_m = len(AREA_RANGES), len(MAX_DETS)
    precision = -np.ones((n_t, n_r, n_k, n_a, n_m))
    recall = -np.ones((n_t, n_k, n_a, n_m))
    kk = np.searchsorted(cat_ids, dt.category_id[m.det])
    ii = np.searchsorted(img_ids, dt.image_id[m.det])
    gk = np.searchsorted(cat_ids, gt.category_id)
    npig = np.stack([np.bincount(gk[~m.gt_ignored[a]], minlength=n_k) for a in range(n_a)])  # (A, K)
    # accumulate's order: per class, stable sort by -score of detections concatenated image by image
    order = np.lexsort((m.rank, ii, -dt.score[m.det], kk))
    fp_all = ~m.tp & ~m.ignored
    eps = np.spacing(1)
    for mi, max_det in enumerate(MAX_DETS):
        sub = order[m.rank[order] < max_det]
        bounds = np.searchsorted(kk[sub], np.arange(n_k + 1))
        for k in range(n_k):
            rows = sub[bounds[k] : bounds[k + 1]]
            nd = len(rows)
            tp_sum = np.cumsum(m.tp[:, :, rows], axis=2).astype(float)  # (A, T, nd)
            fp_sum = np.cumsum(fp_all[:, :, rows], axis=2).astype(float)
            for a in range(n_a):
                n_pos = npig[a, k]
                if n_pos == 0:
                    continue
                if not nd:
                    recall[:, k, a, mi] = 0
                    precision[:, :, k, a, mi] = 0
                    continue
                tp, fp = tp_sum[a], fp_sum[a]
                rc = tp / n_pos
                pr = tp / (fp + tp + eps)
                recall[:, k, a, mi] = rc[:, -1]
                pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
                for t in range(n_t):
                    inds = np.searchsorted(rc[t], RECALL_THRESHOLDS, side="left")
                    ok = inds < nd
                    q = np.zeros(n_r)
                    q[ok] = pr[t, inds[ok]]
                    precision[t, :, k, a, mi] = q
    return precision, recall


def summarize(precision: FloatArray, recall: FloatArray) -> FloatArray:
    """``COCOeval.summarize``'s 12 numbers from the ``(T, R, K, A, M)`` / ``(T, K, A, M)`` arrays."""

    def one(ap: bool, iou: float | None = None, area: str = "all", max_det: int = 100) -> float:
        aind = [list(AREA_RANGES).index(area)]
        mind = [MAX_DETS.index(max_det)]
        s = precision if ap else recall
        if iou is not None:
            s = s[np.where(iou == IOU_THRESHOLDS)[0]]
        s = s[:, :, :, aind, mind] if ap else s[:, :, aind, mind]
        return -1.0 if len(s[s > -1]) == 0 else float(np.mean(s[s > -1]))

    return np.array(
        [
            one(True),
            one(True, 0.5),
            one(True, 0.75),
            one(True, area="small"),
            one(True, area="medium"),
            one(True, area="large"),
            one(False, max_det=1),
            one(False, max_det=10),
            one(False),
            one(False, area="small"),
            one(False, area="medium"),
            one(False, area="large"),
        ]
    )


def format_stats(stats: npt.ArrayLike, *, iou_type: str = "bbox") -> str:
    """The 12 stats as ``COCOeval.summarize`` prints them."""
    stats = np.asarray(stats, dtype=np.float64)
    lines = []
    rows = [
        (True, None, "all", 100),
        (True, 0.5, "all", 100),
        (True, 0.75, "all", 100),
        (True, None, "small", 100),
        (True, None, "medium", 100),
        (True, None, "large", 100),
        (False, None, "all", 1),
        (False, None, "all", 10),
        (False, None, "all", 100),
        (False, None, "small", 100),
        (False, None, "medium", 100),
        (False, None, "large", 100),
    ]
    for value, (ap, iou, area, max_det) in zip(stats.tolist(), rows, strict=True):
        title = "Average Precision" if ap else "Average Recall"
        kind = "(AP)" if ap else "(AR)"
        iou_str = f"{IOU_THRESHOLDS[0]:0.2f}:{IOU_THRESHOLDS[-1]:0.2f}" if iou is None else f"{iou:0.2f}"
        where = f"IoU={iou_str:<9} | area={area:>6s} | maxDets={max_det:>3d}"
        lines.append(f" {title:<18} {kind} @[ {where} ] = {value:0.3f}")
    return "\n".join(lines)
