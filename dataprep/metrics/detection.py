"""Detection metrics on columnar arrays: COCO mAP (pycocotools' algorithm), VOC AP, best-F1, confusion, errors.

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
        start, stop = xyxy[:, k], xyxy[:, k + 2]
        size = stop - start
        best = size.copy()
        todo = np.isfinite(size)
        for decimals in range(0, 17):
            if not todo.any():
                break
            idx = np.flatnonzero(todo)
            cand = np.round(size[idx], decimals)
            ok = start[idx] + cand == stop[idx]
            best[idx[ok]] = cand[ok]
            todo[idx[ok]] = False
        out[:, k + 2] = best
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


# ---------------------------------------------------------------------------------------
# one IoU threshold: PR curves, AP, best F1, VOC AP, confusion, error kinds


@dataclass
class ClassCurves:
    """Per-class precision/recall at one IoU threshold (area all, top 100 per image and class).

    Attributes:
        precision: ``(K, 101)`` interpolated precision at `RECALL_THRESHOLDS` (COCO's rule); -1 rows
            for classes without ground truth.
        ap: ``(K,)`` mean of each row (COCO-style AP at this threshold); -1 if undefined.
        n_gt: ``(K,)`` ground truth counted (not crowd).
        n_det: ``(K,)`` detections kept.
    """

    precision: FloatArray
    ap: FloatArray
    n_gt: IntArray
    n_det: IntArray


def _class_order(dt: Objects, det: IntArray, rank: IntArray, kk: IntArray, ii: IntArray) -> IntArray:
    return np.lexsort((rank, ii, -dt.score[det], kk))


def _curves(kk: IntArray, order: IntArray, tp: BoolArray, fp: BoolArray, n_pos: IntArray) -> ClassCurves:
    """Interpolated precision per class from detections sorted by (class, -score); `tp`/`fp` per detection."""
    n_k = len(n_pos)
    precision = -np.ones((n_k, len(RECALL_THRESHOLDS)))
    ks = kk[order]
    bounds = np.searchsorted(ks, np.arange(n_k + 1))
    eps = np.spacing(1)
    for k in range(n_k):
        if n_pos[k] == 0:
            continue
        rows = order[bounds[k] : bounds[k + 1]]
        tp_sum = np.cumsum(tp[rows]).astype(float)
        fp_sum = np.cumsum(fp[rows]).astype(float)
        rc = tp_sum / n_pos[k]
        pr = np.maximum.accumulate((tp_sum / (fp_sum + tp_sum + eps))[::-1])[::-1]
        inds = np.searchsorted(rc, RECALL_THRESHOLDS, side="left")
        ok = inds < len(rows)
        precision[k] = 0
        precision[k, ok] = pr[inds[ok]]
    ap = np.where(n_pos > 0, precision.mean(axis=1), -1.0)
    return ClassCurves(precision, ap, n_pos, np.diff(bounds))


def class_curves(gt: Objects, dt: Objects, m: Matches, img_ids: IntArray, cat_ids: IntArray) -> ClassCurves:
    """PR curves and AP per class from a single-threshold, single-area-range `match` result."""
    kk = np.searchsorted(cat_ids, dt.category_id[m.det])
    ii = np.searchsorted(img_ids, dt.image_id[m.det])
    n_pos = np.bincount(np.searchsorted(cat_ids, gt.category_id[~m.gt_ignored[0]]), minlength=len(cat_ids))
    order = _class_order(dt, m.det, m.rank, kk, ii)
    tp = m.tp[0, 0]
    fp = ~tp & ~m.ignored[0, 0]
    return _curves(kk, order, tp, fp, n_pos)


@dataclass
class BestF1:
    """Precision, recall and F1 where micro-averaged F1 over all classes is highest.

    Attributes:
        confidence: the score threshold (detections with ``score >= confidence`` are kept).
        precision, recall, f1: overall (micro) values at that threshold.
        class_precision, class_recall, class_f1: ``(K,)`` per class at the same threshold (0 where
            a class has no detection or no ground truth).
    """

    confidence: float
    precision: float
    recall: float
    f1: float
    class_precision: FloatArray
    class_recall: FloatArray
    class_f1: FloatArray


def _f1(p: FloatArray, r: FloatArray) -> FloatArray:
    denom = p + r
    return np.divide(2 * p * r, denom, out=np.zeros_like(denom, dtype=float), where=denom > 0)


def best_f1(gt: Objects, dt: Objects, m: Matches, cat_ids: IntArray) -> BestF1:
    """The confidence threshold that maximises micro F1, and per-class P/R/F1 there."""
    tp = m.tp[0, 0]
    counted = ~m.ignored[0, 0]
    scores = dt.score[m.det]
    kk = np.searchsorted(cat_ids, dt.category_id[m.det])
    n_pos_k = np.bincount(np.searchsorted(cat_ids, gt.category_id[~m.gt_ignored[0]]), minlength=len(cat_ids))
    n_k = len(cat_ids)
    rows = np.flatnonzero(counted)
    rows = rows[np.argsort(-scores[rows], kind="stable")]
    n_pos = int(n_pos_k.sum())
    if not len(rows) or n_pos == 0:
        z = np.zeros(n_k)
        return BestF1(float("nan"), 0.0, 0.0, 0.0, z, z.copy(), z.copy())
    tp_sum = np.cumsum(tp[rows]).astype(float)
    n = np.arange(1, len(rows) + 1, dtype=float)
    p, r = tp_sum / n, tp_sum / n_pos
    f1 = _f1(p, r)
    s = scores[rows]
    end = np.r_[s[1:] != s[:-1], True]  # a threshold keeps all tied scores
    best = int(np.flatnonzero(end)[np.argmax(f1[end])])
    conf = float(s[best])
    keep = rows[: best + 1]
    tp_k = np.bincount(kk[keep], weights=tp[keep], minlength=n_k)
    det_k = np.bincount(kk[keep], minlength=n_k).astype(float)
    cp = np.divide(tp_k, det_k, out=np.zeros(n_k), where=det_k > 0)
    cr = np.divide(tp_k, n_pos_k, out=np.zeros(n_k), where=n_pos_k > 0)
    return BestF1(conf, float(p[best]), float(r[best]), float(f1[best]), cp, cr, _f1(cp, cr))


def voc_ap(recall: npt.ArrayLike, precision: npt.ArrayLike, *, use_07_metric: bool = False) -> float:
    """Pascal VOC average precision from a detection-ordered recall/precision curve.

    ``use_07_metric`` gives VOC2007's 11-point mean of the best precision at recall >= 0, 0.1, ..., 1;
    otherwise VOC2010+'s all-point area under the precision envelope.
    """
    rec = np.asarray(recall, dtype=np.float64)
    prec = np.asarray(precision, dtype=np.float64)
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            above = prec[rec >= t]
            ap += (float(above.max()) if above.size else 0.0) / 11.0
        return ap
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


@dataclass
class VocResult:
    """VOC AP per class at one IoU threshold: ``(K,)`` all-point (`ap`) and 11-point (`ap07`); -1 if no GT."""

    ap: FloatArray
    ap07: FloatArray
    n_gt: IntArray


def voc_evaluate(
    gt: Objects, dt: Objects, img_ids: IntArray, cat_ids: IntArray, *, iou: float = 0.5, iou_type: str = "bbox"
) -> VocResult:
    """Pascal VOC detection AP (the devkit's matching): every detection, no per-image cap.

    Each detection, in descending score order per class, goes to the ground truth it overlaps most
    (first on ties); IoU > `iou` makes it a true positive if that object is still free, a false positive
    if it was taken; `ignore` (VOC ``difficult``) and crowd objects neither count nor penalise.
    """
    pairs = _pairs(gt, dt, img_ids, cat_ids, iou_type=iou_type, max_det=None)
    n_d = len(pairs.det)
    ignore_gt = gt.iscrowd if gt.ignore is None else (gt.iscrowd | gt.ignore)
    order = np.lexsort((pairs.pair_gt, -pairs.iou, pairs.pair_det))
    first = order[np.r_[True, pairs.pair_det[order][1:] != pairs.pair_det[order][:-1]]] if len(order) else order
    best_gt = np.full(n_d, -1)
    best_iou = np.zeros(n_d)
    best_gt[pairs.pair_det[first]] = pairs.pair_gt[first]
    best_iou[pairs.pair_det[first]] = pairs.iou[first]
    hit = (best_gt >= 0) & (best_iou > iou)
    ignored = hit.copy()
    ignored[hit] = ignore_gt[best_gt[hit]]
    kk = np.searchsorted(cat_ids, dt.category_id[pairs.det])
    ii = np.searchsorted(img_ids, dt.image_id[pairs.det])
    cls_order = _class_order(dt, pairs.det, pairs.rank, kk, ii)
    claim = cls_order[(hit & ~ignored)[cls_order]]  # claims in score order
    _, first_claim = np.unique(best_gt[claim], return_index=True)
    tp = np.zeros(n_d, dtype=bool)
    tp[claim[first_claim]] = True
    fp = ~tp & ~ignored
    n_pos = np.bincount(np.searchsorted(cat_ids, gt.category_id[~ignore_gt]), minlength=len(cat_ids))
    ap = -np.ones(len(cat_ids))
    ap07 = -np.ones(len(cat_ids))
    bounds = np.searchsorted(kk[cls_order], np.arange(len(cat_ids) + 1))
    eps = np.finfo(np.float64).eps
    for k in np.flatnonzero(n_pos > 0).tolist():
        rows = cls_order[bounds[k] : bounds[k + 1]]
        tp_sum = np.cumsum(tp[rows]).astype(float)
        fp_sum = np.cumsum(fp[rows]).astype(float)
        rec = tp_sum / n_pos[k]
        prec = tp_sum / np.maximum(tp_sum + fp_sum, eps)
        ap[k] = voc_ap(rec, prec)
        ap07[k] = voc_ap(rec, prec, use_07_metric=True)
    return VocResult(ap, ap07, n_pos)


def _image_pairs(gt: Objects, dt: Objects) -> tuple[IntArray, IntArray, FloatArray]:
    """All (detection, ground truth) pairs on the same image, any class, with plain box IoU > 0."""
    gorder = np.argsort(gt.image_id, kind="stable")
    gimg = gt.image_id[gorder]
    start = np.searchsorted(gimg, dt.image_id, side="left")
    count = np.searchsorted(gimg, dt.image_id, side="right") - start
    pd_ = np.repeat(np.arange(len(dt)), count)
    first = np.cumsum(count) - count
    pg = gorder[np.repeat(start, count) + np.arange(int(count.sum())) - np.repeat(first, count)]
    iou = _box_iou(dt.xywh[pd_], gt.xywh[pg], np.zeros(len(pg), dtype=bool))
    keep = iou > 0
    return pd_[keep], pg[keep], iou[keep]


def confusion_matrix(gt: Objects, dt: Objects, cat_ids: IntArray, *, iou: float = 0.5, conf: float = 0.25) -> IntArray:
    """Detection confusion matrix with a background class, as Ultralytics' ``ConfusionMatrix.process_batch``.

    Per image, class-agnostic: detections with ``score > conf`` and non-crowd ground truth are paired
    where box IoU ``> iou``; each detection keeps its highest-IoU object, then each object its
    highest-IoU detection. A matched pair counts at ``[predicted class, true class]``; an unmatched
    object at ``[background, true class]`` (missed); an unmatched detection at ``[predicted class,
    background]`` (false positive).

    Returns:
        ``(K + 1, K + 1)`` int64 counts; rows predicted, columns true; index K is background.
    """
    n_k = len(cat_ids)
    gt = gt.take(~gt.iscrowd & np.isin(gt.category_id, cat_ids))
    dt = dt.take((dt.score > conf) & np.isin(dt.category_id, cat_ids))
    pd_, pg, iou_v = _image_pairs(gt, dt)
    keep = iou_v > iou
    pd_, pg, iou_v = pd_[keep], pg[keep], iou_v[keep]
    order = np.lexsort((pg, pd_, -iou_v))
    pd_, pg, iou_v = pd_[order], pg[order], iou_v[order]
    _, first = np.unique(pd_, return_index=True)  # each detection: its best object
    first.sort()
    pd_, pg = pd_[first], pg[first]
    _, first = np.unique(pg, return_index=True)  # each object: its best detection
    pd_, pg = pd_[first], pg[first]
    gk = np.searchsorted(cat_ids, gt.category_id)
    dk = np.searchsorted(cat_ids, dt.category_id)
    matrix = np.zeros((n_k + 1, n_k + 1), dtype=np.int64)
    np.add.at(matrix, (dk[pd_], gk[pg]), 1)
    missed = np.ones(len(gt), bool)
    missed[pg] = False
    np.add.at(matrix, (np.full(int(missed.sum()), n_k), gk[missed]), 1)
    extra = np.ones(len(dt), bool)
    extra[pd_] = False
    np.add.at(matrix, (dk[extra], np.full(int(extra.sum()), n_k)), 1)
    return matrix


ERROR_KINDS = ("classification", "localization", "both", "duplicate", "background", "missed")


@dataclass
class ErrorBreakdown:
    """False positives and misses by kind (after TIDE, Bolya et al. 2020) and the AP each costs.

    Attributes:
        counts: kind -> number of detections (or, for ``missed``, ground-truth objects).
        delta_ap: kind -> mAP gained at the foreground IoU if every error of that kind were fixed
            (COCO-style 101-point AP averaged over classes with ground truth).
        kind: ``(D,)`` per kept detection: ``""`` for true positives and ignored ones, else its kind.
        ap: the mAP before any fix.
    """

    counts: dict[str, int]
    delta_ap: dict[str, float]
    kind: npt.NDArray[np.object_]
    ap: float


def error_breakdown(
    gt: Objects, dt: Objects, m: Matches, img_ids: IntArray, cat_ids: IntArray, *, fg: float = 0.5, bg: float = 0.1
) -> ErrorBreakdown:
    """Classify each false positive of a single-threshold `match` (made at IoU `fg`) and each miss.

    A false positive is, in this order: ``duplicate`` (IoU >= fg with an object of its class that a
    higher-scored detection took), ``localization`` (IoU in [bg, fg) with an object of its class),
    ``classification`` (IoU >= fg with an object of another class), ``both`` (IoU in [bg, fg) with an
    object of another class), else ``background``. ``missed``: objects no true positive and no
    localization or classification error points at. The fix for each kind (the oracle that gives
    ``delta_ap``): localization and classification errors become true positives of their object
    when it is still free (else they are removed), the other false positives are removed, missed
    objects are removed from the ground truth. Boxes only (plain IoU, crowd regions left out).
    """
    tp = m.tp[0, 0]
    fp = ~tp & ~m.ignored[0, 0]
    det = m.det
    n_d, n_k = len(det), len(cat_ids)
    kk = np.searchsorted(cat_ids, dt.category_id[det])
    ii = np.searchsorted(img_ids, dt.image_id[det])
    gk = np.searchsorted(cat_ids, gt.category_id)
    counted_gt = ~m.gt_ignored[0]
    n_pos = np.bincount(gk[counted_gt], minlength=n_k)
    order = _class_order(dt, det, m.rank, kk, ii)
    base = _curves(kk, order, tp, fp, n_pos)
    base_ap = _mean_ap(base.ap)

    kept = dt.take(det)
    plain = gt.take(~gt.iscrowd)
    plain_rows = np.flatnonzero(~gt.iscrowd)
    pd_, pg, iou = _image_pairs(plain, kept)
    pg = plain_rows[pg]
    same = dt.category_id[det][pd_] == gt.category_id[pg]
    best = {}
    for flag in (True, False):
        sel = np.flatnonzero(same == flag)
        o = sel[np.lexsort((pg[sel], -iou[sel], pd_[sel]))]
        first = o[np.r_[True, pd_[o][1:] != pd_[o][:-1]]] if len(o) else o
        b_gt, b_iou = np.full(n_d, -1), np.zeros(n_d)
        b_gt[pd_[first]], b_iou[pd_[first]] = pg[first], iou[first]
        best[flag] = (b_gt, b_iou)
    (s_gt, s_iou), (o_gt, o_iou) = best[True], best[False]
    kind = np.full(n_d, "", dtype=object)
    rest = fp.copy()
    for name, cond in (
        ("duplicate", s_iou >= fg),
        ("localization", (s_iou >= bg) & (s_iou < fg)),
        ("classification", o_iou >= fg),
        ("both", (o_iou >= bg) & (o_iou < fg)),
        ("background", np.ones(n_d, bool)),
    ):
        hit = rest & cond
        kind[hit] = name
        rest &= ~hit
    used = np.zeros(len(gt), bool)
    used[m.gt_match[0, 0][tp]] = True
    pointed = np.zeros(len(gt), bool)
    pointed[s_gt[kind == "localization"]] = True
    pointed[o_gt[kind == "classification"]] = True
    missed = counted_gt & ~used & ~pointed

    counts = {k: int((kind == k).sum()) for k in ERROR_KINDS[:-1]}
    counts["missed"] = int(missed.sum())
    delta = {}
    for name in ERROR_KINDS:
        f_kk, f_tp, f_keep, f_pos = kk.copy(), tp.copy(), np.ones(n_d, bool), n_pos
        this = kind == name
        if name in ("localization", "classification"):
            target = s_gt if name == "localization" else o_gt
            f_kk[this] = gk[target[this]]
            # in score order, the first fixed detection of a free object takes it
            o = _class_order(dt, det, m.rank, f_kk, ii)
            cand = o[this[o]]
            free = cand[~used[target[cand]]]
            _, first = np.unique(target[free], return_index=True)
            win = np.zeros(n_d, bool)
            win[free[first]] = True
            f_tp |= win
            f_keep &= ~(this & ~win)
        elif name == "missed":
            f_pos = n_pos - np.bincount(gk[missed], minlength=n_k)
        else:
            f_keep &= ~this
        f_fp = ~f_tp & ~m.ignored[0, 0] & f_keep
        f_tp &= f_keep
        o = _class_order(dt, det, m.rank, f_kk, ii)
        fixed = _curves(f_kk, o, f_tp, f_fp, f_pos)
        ap = fixed.ap.copy()
        ap[(n_pos > 0) & (f_pos == 0)] = 1.0  # every object of the class was a miss: fixed, nothing left to find
        delta[name] = _mean_ap(ap) - base_ap if base_ap >= 0 else 0.0
    return ErrorBreakdown(counts, delta, kind, base_ap)


def _mean_ap(ap: FloatArray) -> float:
    valid = ap > -1
    return float(ap[valid].mean()) if valid.any() else -1.0
