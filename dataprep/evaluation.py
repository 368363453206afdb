"""``evaluate(gt, pred)``: how good predictions are against ground truth, in numbers a user already knows.

Detection (the ground truth has boxes): the 12 COCO stats exactly as pycocotools computes them
(`dataprep.metrics.detection`), per-class AP/AP50/AP75, VOC AP (all-point and 11-point), P/R/F1 at
the best-F1 confidence, PR curves, the IoU of matched pairs, a confusion matrix with background and
an error breakdown. Classification (image-level labels): accuracy, top-k, per-class P/R/F1,
averages, confusion matrices and the most confused pairs (`dataprep.metrics.classification`).

Inputs are datasets or paths: a COCO results list, a COCO dataset with scores, a folder of YOLO
label files with a confidence column, a classification csv, or any dataset dataprep reads.
`dataprep.matching` reads them and matches predictions to the ground truth's images and classes,
by id or by file and class name; the result says which (`DetectionResult.matched_by`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import Finding, InputError, UsageError
from dataprep.matching import (
    clean_predictions,
    count_finding,
    is_csv,
    load_dataset,
    load_predictions,
    predicted_classes,
    select_split,
)
from dataprep.metrics import classification as cls_metrics
from dataprep.metrics import detection as det_metrics

__all__ = ["ClassificationResult", "DetectionResult", "evaluate"]

IOU_TYPES = ("bbox", "segm")
_STATUS = ("tp", "fp", "ignored")


# ---------------------------------------------------------------------------------------
# results


class _Result:
    """What the evaluation results share: their per-class table, report and JSON tail."""

    per_class: pd.DataFrame
    matched_by: dict[str, str]
    counts: dict[str, int]
    findings: list[Finding]
    notes: list[str]

    def to_frame(self) -> pd.DataFrame:
        """The per-class table (index ``category_id``)."""
        return self.per_class.copy()

    def write_report(self, out_dir: str | Path, *, overwrite: bool = False) -> Path:
        """Write PNG plots, ``result.json`` and ``index.html`` into `out_dir` (atomically); returns it."""
        from dataprep.report.html import write_report

        return write_report(self, out_dir, overwrite=overwrite)

    def _provenance(self) -> dict[str, Any]:
        """The JSON entries on how predictions met ground truth and what was met on the way."""
        return {
            "matched_by": self.matched_by,
            "counts": self.counts,
            "findings": [f.to_dict() for f in self.findings],
            "notes": self.notes,
        }


@dataclass
class DetectionResult(_Result):
    """Detection metrics; every number is a plain float (``-1`` where undefined, as pycocotools).

    Attributes:
        stats: the 12 COCO stats by name (`STAT_NAMES`: ``AP``, ``AP50``, ... ``ARl``), in pycocotools' order.
        per_class: index ``category_id``; ``name``, ``gt``, ``predictions``, ``AP``, ``AP50``, ``AP75``
            (COCO, area all, 100 detections), ``AP_iou`` (COCO-style at `iou`), ``voc_ap``, ``voc07_ap``
            (at `iou`), ``precision``, ``recall``, ``f1`` (at the best-F1 confidence).
        voc: ``mAP`` and ``mAP07`` over classes with ground truth.
        best_f1: ``confidence``, ``precision``, ``recall``, ``f1`` (micro over classes).
        pr_curves: index ``recall`` (101 points), one column of interpolated precision per class name.
        matched_iou: ``(N,)`` IoU of each true-positive pair at `iou`.
        confusion: rows predicted, columns true, classes by name plus ``background`` (Ultralytics).
        errors: index kind; ``count``, ``delta_ap`` (see `metrics.detection.error_breakdown`).
        matched_by: ``{"images": "id" | "file name", "classes": "id" | "name"}``.
        counts: images, ground truth and predictions read and evaluated.
        findings: predictions dropped or questionable, counted by code.
        notes: what was read and guessed.
        gt, predictions: the aligned datasets (predictions in ground-truth ids).
        prediction_status: per prediction ``annotation_id``: ``tp``, ``fp`` or ``ignored`` at `iou`
            (NaN if not among an image's 100 best of its class).
        gt_status: per ground-truth ``annotation_id``: ``matched``, ``missed`` or ``ignored``.
    """

    iou_type: str
    iou: float
    stats: dict[str, float]
    per_class: pd.DataFrame
    voc: dict[str, float]
    best_f1: dict[str, float]
    pr_curves: pd.DataFrame
    matched_iou: npt.NDArray[np.float64]
    confusion: pd.DataFrame
    errors: pd.DataFrame
    matched_by: dict[str, str]
    counts: dict[str, int]
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gt: Dataset | None = field(default=None, repr=False)
    predictions: Dataset | None = field(default=None, repr=False)
    prediction_status: pd.Series | None = field(default=None, repr=False)
    gt_status: pd.Series | None = field(default=None, repr=False)

    task = "detection"

    @property
    def stats_list(self) -> list[float]:
        """The 12 stats in pycocotools' order (``COCOeval.stats``)."""
        return [self.stats[name] for name in det_metrics.STAT_NAMES]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: every number at full precision; ``stats`` plus the named keys."""
        hist, edges = np.histogram(self.matched_iou, bins=20, range=(0.0, 1.0))
        return {
            "task": self.task,
            "iou_type": self.iou_type,
            "iou": self.iou,
            "stats": self.stats_list,
            **self.stats,
            "per_class": _records(self.per_class),
            "voc": self.voc,
            "best_f1": self.best_f1,
            "pr_curves": {
                "recall": self.pr_curves.index.tolist(),
                "precision": {str(c): self.pr_curves[c].tolist() for c in self.pr_curves.columns},
            },
            "matched_iou": {
                "count": len(self.matched_iou),
                "mean": float(self.matched_iou.mean()) if len(self.matched_iou) else None,
                "median": float(np.median(self.matched_iou)) if len(self.matched_iou) else None,
                "bins": edges.tolist(),
                "counts": hist.tolist(),
            },
            "confusion": {
                "labels": [str(c) for c in self.confusion.columns],
                "rows": "predicted",
                "columns": "true",
                "matrix": self.confusion.to_numpy().tolist(),
            },
            "errors": _records(self.errors, index="kind"),
            **self._provenance(),
        }

    def __str__(self) -> str:
        lines = [det_metrics.format_stats(self.stats_list, iou_type=self.iou_type)]
        lines.append(
            f" VOC AP@{self.iou:g} (all-point) = {self.voc['mAP']:0.3f}   (11-point) = {self.voc['mAP07']:0.3f}"
        )
        b = self.best_f1
        lines.append(
            f" best F1 = {b['f1']:0.3f} at confidence {b['confidence']:0.3f}"
            f" (precision {b['precision']:0.3f}, recall {b['recall']:0.3f})"
        )
        return "\n".join(lines)


@dataclass
class ClassificationResult(_Result):
    """Classification metrics (scikit-learn's definitions, ``zero_division=0``).

    Attributes:
        accuracy: fraction of evaluated images whose predicted class is the true one.
        top_k: ``{"top1": ..., "top5": ...}`` when class scores were given.
        per_class: index ``category_id``; ``name``, ``precision``, ``recall``, ``f1``, ``support``, ``predicted``.
        macro, weighted: averaged ``precision``, ``recall``, ``f1``.
        confusion, confusion_normalized: rows true, columns predicted, by class name (row-normalized).
        most_confused: ``{"true", "predicted", "count"}`` dicts, largest first.
    """

    accuracy: float
    top_k: dict[str, float]
    per_class: pd.DataFrame
    macro: dict[str, float]
    weighted: dict[str, float]
    confusion: pd.DataFrame
    confusion_normalized: pd.DataFrame
    most_confused: list[dict[str, Any]]
    matched_by: dict[str, str]
    counts: dict[str, int]
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    task = "classification"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, every number at full precision."""
        labels = [str(c) for c in self.confusion.columns]
        return {
            "task": self.task,
            "accuracy": self.accuracy,
            **self.top_k,
            "macro": self.macro,
            "weighted": self.weighted,
            "per_class": _records(self.per_class),
            "confusion": {
                "labels": labels,
                "rows": "true",
                "columns": "predicted",
                "matrix": self.confusion.to_numpy().tolist(),
                "normalized": self.confusion_normalized.to_numpy().tolist(),
            },
            "most_confused": self.most_confused,
            **self._provenance(),
        }

    def __str__(self) -> str:
        n = self.counts.get("evaluated", 0)
        parts = [f" accuracy = {self.accuracy:0.4f} over {n} images"]
        parts += [f" {k} accuracy = {v:0.4f}" for k, v in self.top_k.items()]
        parts.append(
            " macro    precision = {precision:0.4f}  recall = {recall:0.4f}  f1 = {f1:0.4f}".format(**self.macro)
        )
        parts.append(
            " weighted precision = {precision:0.4f}  recall = {recall:0.4f}  f1 = {f1:0.4f}".format(**self.weighted)
        )
        return "\n".join(parts)


def _records(frame: pd.DataFrame, *, index: str | None = None) -> list[dict[str, Any]]:
    df = frame.reset_index() if index is None else frame.rename_axis(index).reset_index()
    out = []
    for row in df.to_dict(orient="records"):
        out.append({k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()})
    return out


# ---------------------------------------------------------------------------------------
# entry point


def evaluate(
    gt: Dataset | str | Path,
    pred: Dataset | str | Path,
    *,
    iou_type: str = "bbox",
    iou: float = 0.5,
    split: str | None = None,
    conf: float = 0.25,
    gt_format: str = "auto",
    pred_format: str = "auto",
) -> DetectionResult | ClassificationResult:
    """Evaluate predictions against ground truth.

    Args:
        gt: a Dataset, a dataset folder, or a COCO json file.
        pred: a Dataset whose annotations carry ``score``, or a path (see `dataprep.matching`).
        iou_type: ``"bbox"`` or ``"segm"`` (masks: polygons or RLE on both sides).
        iou: the IoU threshold of the single-threshold metrics (VOC AP, best F1, PR curves,
            confusion, errors); the COCO stats always use 0.50:0.95.
        split: evaluate only the ground-truth images of this split.
        conf: the confusion matrix's score threshold (Ultralytics' ``conf``).
        gt_format, pred_format: format names to skip detection.

    Returns:
        `DetectionResult` when the ground truth has boxes, else `ClassificationResult`.

    Raises:
        InputError: a path is unreadable, or predictions cannot be read.
        UsageError: an unknown `iou_type`, an IoU outside (0, 1], an unknown split, or ``segm``
            without masks.
    """
    if iou_type not in IOU_TYPES:
        raise UsageError(f"unknown iou_type {iou_type!r}; choose one of {', '.join(IOU_TYPES)}")
    if not 0 < iou <= 1:
        raise UsageError(f"iou must be in (0, 1], got {iou}")
    notes: list[str] = []
    findings: list[Finding] = []
    gt_ds = load_dataset(gt, gt_format, "ground truth", notes, findings)
    if split is not None:
        gt_ds = select_split(gt_ds, split)
    detection = gt_ds.has_boxes or (len(gt_ds.annotations) == 0 and not is_csv(pred))
    if not detection:
        return _evaluate_classification(gt_ds, pred, pred_format, notes, findings)
    pred_ds, matched_by, mask_area = load_predictions(gt_ds, pred, pred_format, notes, findings)
    return _evaluate_detection(gt_ds, pred_ds, matched_by, iou_type, iou, conf, notes, findings, mask_area=mask_area)


# ---------------------------------------------------------------------------------------
# detection


def _objects(ds: Dataset, *, is_gt: bool, iou_type: str, mask_area: bool = False) -> det_metrics.Objects:
    anns = ds.annotations
    xywh = det_metrics.coco_xywh(anns[BOX_COLUMNS].to_numpy(dtype=np.float64))
    box_area = xywh[:, 2] * xywh[:, 3]
    masks = _masks(ds) if iou_type == "segm" else None
    if is_gt:
        area = anns["area"].to_numpy(dtype=np.float64)
        derived = np.asarray([_rle_area(m) for m in masks]) if masks is not None else box_area
        area = np.where(np.isfinite(area), area, derived)
        ignore = np.array([bool((a or {}).get("difficult")) for a in anns["attributes"]], dtype=bool)
    else:
        # pycocotools' loadRes: area = w * h when the result has a box, else the mask's area
        area = box_area
        if masks is not None:
            no_box = ~np.isfinite(box_area) | mask_area
            area = np.where(
                no_box, [_rle_area(m) if nb else 0.0 for m, nb in zip(masks, no_box, strict=True)], box_area
            )
        ignore = None
    return det_metrics.Objects(
        anns["image_id"].to_numpy(dtype=np.int64),
        anns["category_id"].to_numpy(dtype=np.int64),
        xywh,
        area,
        anns["iscrowd"].to_numpy(dtype=bool) if is_gt else np.zeros(len(anns), dtype=bool),
        anns["score"].to_numpy(dtype=np.float64),
        anns.index.to_numpy(dtype=np.int64),
        masks,
        ignore,
    )


def _rle_area(rle: dict[str, Any]) -> float:
    """pycocotools' area of one RLE."""
    from pycocotools import mask as mask_utils

    return float(mask_utils.area(rle))


def _masks(ds: Dataset) -> list[dict[str, Any]]:
    """pycocotools RLE per annotation, as ``COCO.annToRLE`` builds it (a box polygon when there is no mask)."""
    from pycocotools import mask as mask_utils

    anns = ds.annotations
    sizes = ds.images[["height", "width"]].reindex(anns["image_id"].to_numpy())
    out = []
    for (ann_id, seg, x0, y0, x1, y1), (h, w) in zip(
        anns[["segmentation", *BOX_COLUMNS]].itertuples(), sizes.itertuples(index=False), strict=True
    ):
        if isinstance(seg, dict):
            if isinstance(seg.get("counts"), list):
                out.append(mask_utils.frPyObjects(seg, *seg["size"]))
            else:
                out.append(seg)
            continue
        if pd.isna(h) or pd.isna(w):
            raise InputError(
                None,
                f"annotation {ann_id}: segm evaluation needs the image size to rasterise polygons",
                hint="Give the images width and height (or use --iou-type bbox)",
            )
        if seg is None or (isinstance(seg, float) and np.isnan(seg)):
            seg = [np.array([[x0, y0], [x0, y1], [x1, y1], [x1, y0]])]
        flat = [np.asarray(p, dtype=np.float64).ravel().tolist() for p in seg]
        out.append(mask_utils.merge(mask_utils.frPyObjects(flat, int(h), int(w))))
    return out


def _evaluate_detection(
    gt: Dataset,
    pred: Dataset,
    matched_by: dict[str, str],
    iou_type: str,
    iou: float,
    conf: float,
    notes: list[str],
    findings: list[Finding],
    *,
    mask_area: bool = False,
) -> DetectionResult:
    n_pred_read = len(pred.annotations)
    pred = clean_predictions(gt, pred, findings)
    if iou_type == "segm" and len(gt.annotations) and not gt.has_segmentation:
        raise UsageError("segm evaluation needs ground-truth masks (polygons or RLE); this ground truth has none")
    img_ids = gt.images.index.to_numpy(dtype=np.int64)
    cat_ids = gt.categories.index.to_numpy(dtype=np.int64)
    gt = _listed_gt(gt, img_ids, cat_ids, findings)
    g = _objects(gt, is_gt=True, iou_type=iou_type)
    d = _objects(pred, is_gt=False, iou_type=iou_type, mask_area=mask_area)
    coco = det_metrics.coco_evaluate(g, d, img_ids, cat_ids, iou_type=iou_type)
    all_areas = [det_metrics.AREA_RANGES["all"]]  # one threshold, all areas: what the other metrics use
    m1 = det_metrics.match(
        g, d, img_ids, cat_ids, iou_type=iou_type, iou_thresholds=np.array([iou]), area_ranges=all_areas
    )
    curves = det_metrics.class_curves(g, d, m1, img_ids, cat_ids)
    f1 = det_metrics.best_f1(g, d, m1, cat_ids)
    voc = det_metrics.voc_evaluate(g, d, img_ids, cat_ids, iou=iou, iou_type=iou_type)
    errors = det_metrics.error_breakdown(g, d, m1, img_ids, cat_ids, fg=iou)
    per_class = _per_class(gt, g, d, cat_ids, coco.class_ap(), curves, voc, f1)
    names = per_class["name"].tolist()
    labels = pd.Index([*names, "background"])
    has_gt = per_class["gt"].to_numpy() > 0
    prediction_status, gt_status, matched_iou = _statuses(gt, pred, len(g), m1)
    return DetectionResult(
        iou_type=iou_type,
        iou=float(iou),
        stats=dict(zip(det_metrics.STAT_NAMES, coco.stats.tolist(), strict=True)),
        per_class=per_class,
        voc={
            "mAP": float(voc.ap[has_gt].mean()) if has_gt.any() else -1.0,
            "mAP07": float(voc.ap07[has_gt].mean()) if has_gt.any() else -1.0,
        },
        best_f1={"confidence": f1.confidence, "precision": f1.precision, "recall": f1.recall, "f1": f1.f1},
        pr_curves=pd.DataFrame(
            curves.precision.T, index=pd.Index(det_metrics.RECALL_THRESHOLDS, name="recall"), columns=names
        ),
        matched_iou=matched_iou,
        confusion=pd.DataFrame(
            det_metrics.confusion_matrix(g, d, cat_ids, iou=iou, conf=conf),
            index=labels.rename("predicted"),
            columns=labels.rename("true"),
        ),
        errors=pd.DataFrame(
            {"count": errors.counts, "delta_ap": errors.delta_ap}, index=pd.Index(det_metrics.ERROR_KINDS, name="kind")
        ),
        matched_by=matched_by,
        counts={
            "images": len(gt.images),
            "gt": int((~g.iscrowd).sum()),
            "gt_crowd": int(g.iscrowd.sum()),
            "predictions_read": n_pred_read,
            "predictions": len(d),
            "classes": len(cat_ids),
        },
        findings=findings,
        notes=notes,
        gt=gt,
        predictions=pred,
        prediction_status=prediction_status,
        gt_status=gt_status,
    )


def _listed_gt(
    gt: Dataset, img_ids: npt.NDArray[np.int64], cat_ids: npt.NDArray[np.int64], findings: list[Finding]
) -> Dataset:
    """`gt` without annotations of unlisted images or classes (pycocotools' getAnnIds filter), counted."""
    gt_anns = gt.annotations
    listed = gt_anns["category_id"].isin(cat_ids).to_numpy() & gt_anns["image_id"].isin(img_ids).to_numpy()
    if listed.all():
        return gt
    findings.append(
        count_finding(
            "gt-dangling",
            int((~listed).sum()),
            "ground-truth annotations of an unlisted image or class: not evaluated",
            "Run dataprep validate on the ground truth",
        )
    )
    return gt.replace(annotations=gt_anns.loc[listed])


def _per_class(
    gt: Dataset,
    g: det_metrics.Objects,
    d: det_metrics.Objects,
    cat_ids: npt.NDArray[np.int64],
    class_ap: dict[str, npt.NDArray[np.float64]],
    curves: det_metrics.ClassCurves,
    voc: det_metrics.VocResult,
    f1: det_metrics.BestF1,
) -> pd.DataFrame:
    """The per-class table of `DetectionResult` (index ``category_id``)."""
    gk = np.searchsorted(cat_ids, g.category_id)
    return pd.DataFrame(
        {
            "name": gt.categories["name"].astype(str).tolist(),
            "gt": np.bincount(gk[~g.iscrowd], minlength=len(cat_ids)),
            "predictions": np.bincount(np.searchsorted(cat_ids, d.category_id), minlength=len(cat_ids)),
            "AP": class_ap["AP"],
            "AP50": class_ap["AP50"],
            "AP75": class_ap["AP75"],
            "AP_iou": curves.ap,
            "voc_ap": voc.ap,
            "voc07_ap": voc.ap07,
            "precision": f1.class_precision,
            "recall": f1.class_recall,
            "f1": f1.class_f1,
        },
        index=pd.Index(cat_ids, name="category_id"),
    )


def _statuses(
    gt: Dataset, pred: Dataset, n_gt: int, m: det_metrics.Matches
) -> tuple[pd.Series, pd.Series, npt.NDArray[np.float64]]:
    """What each prediction and ground truth became at the single IoU threshold of `m`.

    Returns:
        per prediction ``tp``, ``fp`` or ``ignored`` (NaN outside its image's 100 best of its
        class); per ground truth ``matched``, ``missed`` or ``ignored``; ``(N,)`` IoU of each
        true-positive pair.
    """
    tp, ign = m.tp[0, 0], m.ignored[0, 0]
    status_codes = np.where(tp, 0, np.where(ign, 2, 1))
    prediction_status = pd.Series(np.nan, index=pred.annotations.index, dtype=object)
    prediction_status.iloc[m.det] = np.array(_STATUS, dtype=object)[status_codes]
    gt_state = np.full(n_gt, "missed", dtype=object)
    gt_state[m.gt_ignored[0]] = "ignored"
    gt_state[m.gt_match[0, 0][tp]] = "matched"
    return prediction_status, pd.Series(gt_state, index=gt.annotations.index), _matched_iou(m, tp)


def _matched_iou(m: det_metrics.Matches, tp: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """IoU of each true-positive (detection, ground truth) pair."""
    if not tp.any():
        return np.zeros(0)
    det_pos = np.flatnonzero(tp)
    gt_rows = m.gt_match[0, 0][det_pos]
    pair = pd.Series(m.pair_iou, index=pd.MultiIndex.from_arrays([m.pair_det, m.pair_gt]))
    return pair.reindex(pd.MultiIndex.from_arrays([det_pos, gt_rows])).to_numpy(dtype=np.float64)


# ---------------------------------------------------------------------------------------
# classification


def _evaluate_classification(
    gt: Dataset, pred: Dataset | str | Path, fmt: str, notes: list[str], findings: list[Finding]
) -> ClassificationResult:
    names = gt.categories["name"].astype(str)
    class_index = pd.Series(np.arange(len(names)), index=gt.categories.index)
    labels = gt.annotations[gt.annotations["x_min"].isna()]
    first = labels[~labels["image_id"].duplicated()]
    if len(first) < len(labels):
        notes.append("ground truth: images with several labels are judged on their first label")
    truth = pd.Series(class_index.reindex(first["category_id"]).to_numpy(), index=first["image_id"].to_numpy())
    truth = truth.dropna().astype(np.int64)
    predicted, scores, matched_by = predicted_classes(gt, pred, fmt, notes, findings)
    common = truth.index.intersection(predicted.index)
    missing = len(truth) - len(common)
    if missing:
        findings.append(
            count_finding(
                "image-without-prediction",
                missing,
                "labelled images have no prediction: left out of the metrics",
                "Predict every image of the ground truth",
            )
        )
    y_true = truth.reindex(common).to_numpy(dtype=np.int64)
    y_pred = predicted.reindex(common).to_numpy(dtype=np.int64)
    score_arr = None if scores is None else scores.reindex(common).to_numpy(dtype=np.float64)
    mt = cls_metrics.classification_metrics(y_true, y_pred, len(names), scores=score_arr)
    per_class = pd.DataFrame(
        {
            "name": names.to_numpy(),
            "precision": mt.precision,
            "recall": mt.recall,
            "f1": mt.f1,
            "support": mt.support,
            "predicted": mt.predicted,
        },
        index=pd.Index(gt.categories.index.to_numpy(), name="category_id"),
    )
    idx = pd.Index(names.to_numpy())
    return ClassificationResult(
        accuracy=mt.accuracy,
        top_k={f"top{k}": v for k, v in mt.top_k.items()},
        per_class=per_class,
        macro=mt.macro,
        weighted=mt.weighted,
        confusion=pd.DataFrame(mt.confusion, index=idx.rename("true"), columns=idx.rename("predicted")),
        confusion_normalized=pd.DataFrame(
            mt.confusion_normalized, index=idx.rename("true"), columns=idx.rename("predicted")
        ),
        most_confused=[{"true": names.iloc[t], "predicted": names.iloc[p], "count": c} for t, p, c in mt.most_confused],
        matched_by=matched_by,
        counts={"images": len(gt.images), "labelled": len(truth), "evaluated": len(common)},
        findings=findings,
        notes=notes,
    )
