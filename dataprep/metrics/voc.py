"""One IoU threshold: per-class PR curves and COCO-style AP, best F1, Pascal VOC AP (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dataprep.metrics.coco_eval import (
    RECALL_THRESHOLDS,
    BoolArray,
    FloatArray,
    IntArray,
    Matches,
    Objects,
    _pairs,
)


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
