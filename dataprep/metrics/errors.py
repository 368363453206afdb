"""False positives and misses by kind (TIDE-style) and the AP each costs, at one IoU threshold (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dataprep.metrics.coco_eval import BoolArray, FloatArray, IntArray, Matches, Objects
from dataprep.metrics.confusion import _image_pairs
from dataprep.metrics.voc import _class_order, _curves

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
    n_k = len(cat_ids)
    kk = np.searchsorted(cat_ids, dt.category_id[det])
    ii = np.searchsorted(img_ids, dt.image_id[det])
    gk = np.searchsorted(cat_ids, gt.category_id)
    counted_gt = ~m.gt_ignored[0]
    n_pos = np.bincount(gk[counted_gt], minlength=n_k)
    base = _curves(kk, _class_order(dt, det, m.rank, kk, ii), tp, fp, n_pos)
    base_ap = _mean_ap(base.ap)

    (s_gt, s_iou), (o_gt, o_iou) = _best_overlaps(gt, dt, det)
    kind = _fp_kinds(fp, s_iou, o_iou, fg=fg, bg=bg)
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
        f_kk, f_tp, f_keep, f_pos = kk.copy(), tp.copy(), np.ones(len(det), bool), n_pos
        this = kind == name
        if name in ("localization", "classification"):
            target = s_gt if name == "localization" else o_gt
            f_kk[this] = gk[target[this]]
            win = _oracle_winners(dt, m, f_kk, ii, this, target, used)
            f_tp |= win
            f_keep &= ~(this & ~win)
        elif name == "missed":
            f_pos = n_pos - np.bincount(gk[missed], minlength=n_k)
        else:
            f_keep &= ~this
        f_fp = ~f_tp & ~m.ignored[0, 0] & f_keep
        f_tp &= f_keep
        fixed = _curves(f_kk, _class_order(dt, det, m.rank, f_kk, ii), f_tp, f_fp, f_pos)
        ap = fixed.ap.copy()
        ap[(n_pos > 0) & (f_pos == 0)] = 1.0  # every object of the class was a miss: fixed, nothing left to find
        delta[name] = _mean_ap(ap) - base_ap if base_ap >= 0 else 0.0
    return ErrorBreakdown(counts, delta, kind, base_ap)


def _best_overlaps(
    gt: Objects, dt: Objects, det: IntArray
) -> tuple[tuple[IntArray, FloatArray], tuple[IntArray, FloatArray]]:
    """Per kept detection, its highest-IoU non-crowd object of the same class, then of another class.

    Returns:
        For the same class, then for another: ``(D,)`` ground-truth row (-1 if none) and ``(D,)``
        that IoU (0 if none); ties go to the earlier ground-truth row.
    """
    n_d = len(det)
    plain_rows = np.flatnonzero(~gt.iscrowd)
    pd_, pg, iou = _image_pairs(gt.take(plain_rows), dt.take(det))
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
    return best[True], best[False]


def _fp_kinds(fp: BoolArray, s_iou: FloatArray, o_iou: FloatArray, *, fg: float, bg: float) -> npt.NDArray[np.object_]:
    """``(D,)`` error kind of each false positive (first rule that fits, in `error_breakdown`'s order), else ``""``."""
    kind = np.full(len(fp), "", dtype=object)
    rest = fp.copy()
    for name, cond in (
        ("duplicate", s_iou >= fg),
        ("localization", (s_iou >= bg) & (s_iou < fg)),
        ("classification", o_iou >= fg),
        ("both", (o_iou >= bg) & (o_iou < fg)),
        ("background", np.ones(len(fp), bool)),
    ):
        hit = rest & cond
        kind[hit] = name
        rest &= ~hit
    return kind


def _oracle_winners(
    dt: Objects, m: Matches, f_kk: IntArray, ii: IntArray, this: BoolArray, target: IntArray, used: BoolArray
) -> BoolArray:
    """``(D,)`` the fixed detections (`this`) that become true positives: in score order, the first on a free object."""
    o = _class_order(dt, m.det, m.rank, f_kk, ii)
    cand = o[this[o]]
    free = cand[~used[target[cand]]]
    _, first = np.unique(target[free], return_index=True)
    win = np.zeros(len(m.det), bool)
    win[free[first]] = True
    return win


def _mean_ap(ap: FloatArray) -> float:
    valid = ap > -1
    return float(ap[valid].mean()) if valid.any() else -1.0
