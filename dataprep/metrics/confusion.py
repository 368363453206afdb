"""Detection confusion matrix with a background class (Ultralytics' rule), boxes only (numpy only)."""

from __future__ import annotations

import numpy as np

from dataprep.metrics.coco_eval import FloatArray, IntArray, Objects, _box_iou


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
