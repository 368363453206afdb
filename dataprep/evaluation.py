"""``evaluate(gt, pred)``: how good predictions are against ground truth, in numbers a user already knows.

Detection (the ground truth has boxes): the 12 COCO stats exactly as pycocotools computes them
(`dataprep.metrics.detection`), per-class AP/AP50/AP75, VOC AP (all-point and 11-point), P/R/F1 at
the best-F1 confidence, PR curves, the IoU of matched pairs, a confusion matrix with background and
an error breakdown. Classification (image-level labels): accuracy, top-k, per-class P/R/F1,
averages, confusion matrices and the most confused pairs (`dataprep.metrics.classification`).

Inputs are datasets or paths. Predictions may be a COCO results list, a COCO dataset with scores,
a folder of YOLO label files with a confidence column (Ultralytics ``save_conf``, no images
needed: sizes come from the ground truth), a classification csv (``file_name,label[,score]`` or
``file_name`` plus one score column per class) or any dataset dataprep reads. Images and classes
are matched by id when the ids agree with the ground truth's file and class names, else by file
name and class name; the result says which (`DetectionResult.matched_by`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import Finding, InputError, Severity, UsageError
from dataprep.metrics import classification as cls_metrics
from dataprep.metrics import detection as det_metrics

__all__ = ["ClassificationResult", "DetectionResult", "evaluate"]

IOU_TYPES = ("bbox", "segm")
_STATUS = ("tp", "fp", "ignored")


# ---------------------------------------------------------------------------------------
# results


@dataclass
class DetectionResult:
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
            "matched_by": self.matched_by,
            "counts": self.counts,
            "findings": [f.to_dict() for f in self.findings],
            "notes": self.notes,
        }

    def to_frame(self) -> pd.DataFrame:
        """The per-class table (index ``category_id``)."""
        return self.per_class.copy()

    def write_report(self, out_dir: str | Path, *, overwrite: bool = False) -> Path:
        """Write PNG plots, ``result.json`` and ``index.html`` into `out_dir` (atomically); returns it."""
        from dataprep.report.html import write_report

        return write_report(self, out_dir, overwrite=overwrite)

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
class ClassificationResult:
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
            "matched_by": self.matched_by,
            "counts": self.counts,
            "findings": [f.to_dict() for f in self.findings],
            "notes": self.notes,
        }

    def to_frame(self) -> pd.DataFrame:
        """The per-class table (index ``category_id``)."""
        return self.per_class.copy()

    def write_report(self, out_dir: str | Path, *, overwrite: bool = False) -> Path:
        """Write PNG plots, ``result.json`` and ``index.html`` into `out_dir` (atomically); returns it."""
        from dataprep.report.html import write_report

        return write_report(self, out_dir, overwrite=overwrite)

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
        pred: a Dataset whose annotations carry ``score``, or a path (see the module docstring).
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
    gt_ds = _load_dataset(gt, gt_format, "ground truth", notes, findings)
    if split is not None:
        gt_ds = _select_split(gt_ds, split)
    detection = gt_ds.has_boxes or (len(gt_ds.annotations) == 0 and not _is_csv(pred))
    if not detection:
        return _evaluate_classification(gt_ds, pred, pred_format, notes, findings)
    pred_ds, matched_by, mask_area = _load_predictions(gt_ds, pred, pred_format, notes, findings)
    return _evaluate_detection(gt_ds, pred_ds, matched_by, iou_type, iou, conf, notes, findings, mask_area=mask_area)


def _is_csv(src: Any) -> bool:
    return not isinstance(src, Dataset) and Path(src).suffix.lower() == ".csv"


def _load_dataset(src: Dataset | str | Path, fmt: str, what: str, notes: list[str], findings: list[Finding]) -> Dataset:
    if isinstance(src, Dataset):
        return src
    from dataprep.formats import load

    result = load(src, fmt)
    notes.extend(f"{what}: {n}" for n in result.notes)
    findings.extend(result.findings)
    return result.dataset


def _select_split(ds: Dataset, split: str) -> Dataset:
    mask = (ds.images["split"] == split).fillna(False).to_numpy(dtype=bool)
    if not mask.any():
        have = ", ".join(ds.splits) or "none"
        raise UsageError(f"the ground truth has no images in split {split!r} (splits: {have}); pass one of those")
    return ds.select_images(mask)


def _finding(code: str, count: int, message: str, hint: str, severity: Severity = Severity.WARNING) -> Finding:
    return Finding(code=code, severity=severity, message=f"{count} {message}", hint=hint)


# ---------------------------------------------------------------------------------------
# reading predictions


def _load_predictions(
    gt: Dataset, src: Dataset | str | Path, fmt: str, notes: list[str], findings: list[Finding]
) -> tuple[Dataset, dict[str, str], bool]:
    """Predictions in the ground truth's image and category ids (unknown ones dropped, counted).

    The flag is True for a results file without any ``bbox``: the reader derived the boxes from
    the masks, and pycocotools' ``loadRes`` takes such results' areas from the masks.
    """
    if isinstance(src, Dataset):
        return (*_align(gt, src, findings), False)
    path = Path(src)
    if not path.exists():
        raise InputError(path, "no such file or directory", hint="Check the predictions path")
    if fmt == "auto" and path.is_file() and path.suffix.lower() == ".json" and _is_results_file(path):
        from dataprep.formats import coco

        notes.append("predictions: COCO results list, matched to the ground truth by image and category id")
        return (*_align(gt, coco.read_results(path, gt), findings), not _mentions(path, b'"bbox"'))
    if fmt == "auto" and path.is_dir() and _is_label_folder(path):
        return _read_yolo_predictions(path, gt, notes, findings), {"images": "file name", "classes": "index"}, False
    ds = _load_dataset(path, fmt, "predictions", notes, findings)
    return (*_align(gt, ds, findings), False)


def _mentions(path: Path, token: bytes) -> bool:
    import mmap

    with open(path, "rb") as fh:
        if path.stat().st_size == 0:
            return False
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return mm.find(token) >= 0


def _is_results_file(path: Path) -> bool:
    """A json list, or a dict without ``images`` (annotations only): what ``loadRes`` takes."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    text = head.lstrip()
    if text.startswith(b"["):
        return True
    return text.startswith(b"{") and re.search(rb'"images"\s*:', head) is None


_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")


def _is_label_folder(path: Path) -> bool:
    """A folder of YOLO ``.txt`` label files and no images (Ultralytics ``predict`` ``labels/``)."""
    names = [p.name.lower() for p in path.rglob("*") if p.is_file()]
    return any(n.endswith(".txt") for n in names) and not any(n.endswith(_IMAGE_SUFFIXES) for n in names)


def _read_yolo_predictions(folder: Path, gt: Dataset, notes: list[str], findings: list[Finding]) -> Dataset:
    """``class cx cy w h conf`` (or a polygon then conf) per line; the stem names the ground-truth image."""
    from dataprep.boxes import cxcywh_norm_to_xyxy

    stems = pd.Series(gt.images.index.to_numpy(), index=[Path(f).stem for f in gt.images["file_name"]])
    stems = stems[~stems.index.duplicated(keep=False)]
    class_ids = gt.categories.index.to_numpy()
    rows: list[tuple[int, int, float, float, float, float, float]] = []
    unknown_files = unknown_class = no_conf = 0
    for label in sorted(folder.rglob("*.txt")):
        image_id = stems.get(label.stem)
        if image_id is None:
            unknown_files += 1
            continue
        for line_no, line in enumerate(label.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            try:
                values = [float(v) for v in parts]
            except ValueError:
                raise InputError(
                    label, f"not a number in {line.strip()!r}", line=line_no, hint="Write 'class cx cy w h conf'"
                ) from None
            if len(values) == 5 or (len(values) > 6 and len(values) % 2 == 1):
                no_conf += 1
                continue
            if len(values) < 5:
                raise InputError(label, f"{len(values)} numbers", line=line_no, hint="Write 'class cx cy w h conf'")
            index = int(values[0])
            if not (values[0] == index and 0 <= index < len(class_ids)):
                unknown_class += 1
                continue
            if len(values) == 6:
                cx, cy, w, h = values[1:5]
            else:  # polygon then conf: its bounds
                pts = np.asarray(values[1:-1]).reshape(-1, 2)
                lo, hi = pts.min(axis=0), pts.max(axis=0)
                cx, cy, w, h = (lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, hi[0] - lo[0], hi[1] - lo[1]
            rows.append((int(image_id), int(class_ids[index]), cx, cy, w, h, values[-1]))
    arr = np.array([r[2:] for r in rows], dtype=np.float64).reshape(-1, 5)
    image_ids = np.array([r[0] for r in rows], dtype=np.int64)
    sizes = gt.images.loc[image_ids, ["width", "height"]].to_numpy(dtype=np.float64, na_value=np.nan)
    xyxy = cxcywh_norm_to_xyxy(arr[:, :4], sizes[:, 0], sizes[:, 1])
    notes.append(
        "predictions: YOLO label files matched to ground-truth images by file stem; class index i is the "
        "i-th ground-truth category in id order"
    )
    if unknown_files:
        findings.append(
            _finding(
                "prediction-unknown-image",
                unknown_files,
                "label files name no ground-truth image: skipped",
                "Name each label file after its image",
            )
        )
    if unknown_class:
        findings.append(
            _finding(
                "prediction-unknown-class",
                unknown_class,
                "predictions with a class index outside the ground truth's classes: dropped",
                "Check the class order",
            )
        )
    if no_conf:
        findings.append(
            _finding(
                "prediction-without-score",
                no_conf,
                "label lines without a confidence column: dropped",
                "Save predictions with Ultralytics' save_conf=True",
            )
        )
    annotations = {
        "annotation_id": np.arange(1, len(rows) + 1),
        "image_id": image_ids,
        "category_id": np.array([r[1] for r in rows], dtype=np.int64),
        **{c: xyxy[:, k] for k, c in enumerate(BOX_COLUMNS)},
        "score": arr[:, 4],
    }
    return Dataset.from_frames(gt.images, annotations, gt.categories, root=gt.root)


def _align(gt: Dataset, pred: Dataset, findings: list[Finding]) -> tuple[Dataset, dict[str, str]]:
    """Re-key `pred`'s images and categories to the ground truth's ids; drop and count what has no match."""
    anns = pred.annotations
    by = {}
    # images: same ids naming the same files -> by id; else by file name (path, then base name, then stem)
    p_names = pred.images["file_name"]
    same_ids = pred.images.index.isin(gt.images.index)
    g_names = gt.images["file_name"].reindex(pred.images.index)
    if pred.images is gt.images or (same_ids.all() and (p_names.isna() | (p_names == g_names)).all()):
        by["images"] = "id"
        image_map = pd.Series(pred.images.index.to_numpy(), index=pred.images.index)
    else:
        by["images"] = "file name"
        image_map = _map_by_name(p_names, gt.images["file_name"])
    # classes: same ids with the same names -> by id; else by name
    p_cats = pred.categories["name"]
    g_cat_names = gt.categories["name"].reindex(p_cats.index)
    if pred.categories is gt.categories or (p_cats == g_cat_names).all():
        by["classes"] = "id"
        cat_map = pd.Series(p_cats.index.to_numpy(), index=p_cats.index)
        cat_map = cat_map[cat_map.isin(gt.categories.index)]
    else:
        by["classes"] = "name"
        lookup = pd.Series(gt.categories.index.to_numpy(), index=gt.categories["name"].str.strip().str.lower())
        lookup = lookup[~lookup.index.duplicated()]
        cat_map = pd.Series(lookup.reindex(p_cats.str.strip().str.lower()).to_numpy(), index=p_cats.index).dropna()
    new_img = anns["image_id"].map(image_map)
    new_cat = anns["category_id"].map(cat_map)
    bad_img = new_img.isna().to_numpy()
    bad_cat = new_cat.isna().to_numpy() & ~bad_img
    if bad_img.any():
        findings.append(
            _finding(
                "prediction-unknown-image",
                int(bad_img.sum()),
                "predictions on images the ground truth does not "
                "have: dropped (pycocotools refuses such results files)",
                "Evaluate against the matching ground truth",
            )
        )
    if bad_cat.any():
        findings.append(
            _finding(
                "prediction-unknown-class",
                int(bad_cat.sum()),
                "predictions of classes the ground truth does not have: dropped (pycocotools ignores them)",
                "Check the class names or ids",
            )
        )
    keep = ~(bad_img | bad_cat)
    out = anns.loc[keep].copy()
    out["image_id"] = new_img[keep].astype(np.int64).to_numpy()
    out["category_id"] = new_cat[keep].astype(np.int64).to_numpy()
    ds = Dataset.from_frames(gt.images, out, gt.categories, root=gt.root)
    return ds, by


def _map_by_name(pred_names: pd.Series, gt_names: pd.Series) -> pd.Series:
    """pred image_id -> gt image_id by relative path, then base name, then stem (unique ones only)."""
    out = pd.Series(np.nan, index=pred_names.index, dtype=float)
    for key in (
        lambda s: s,
        lambda s: s.map(lambda n: Path(str(n)).name),
        lambda s: s.map(lambda n: Path(str(n)).stem),
    ):
        g = pd.Series(gt_names.index.to_numpy(), index=key(gt_names).to_numpy())
        g = g[~g.index.duplicated(keep=False)]
        todo = out.isna()
        if not todo.any():
            break
        out[todo] = g.reindex(key(pred_names[todo]).to_numpy()).to_numpy()
    return out.dropna()


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
    pred = _clean_predictions(gt, pred, findings)
    if iou_type == "segm" and len(gt.annotations) and not gt.has_segmentation:
        raise UsageError("segm evaluation needs ground-truth masks (polygons or RLE); this ground truth has none")
    img_ids = gt.images.index.to_numpy(dtype=np.int64)
    cat_ids = gt.categories.index.to_numpy(dtype=np.int64)
    # ground truth of classes or images that are not listed is not evaluated (pycocotools: getAnnIds filter)
    gt_anns = gt.annotations
    listed = gt_anns["category_id"].isin(cat_ids).to_numpy() & gt_anns["image_id"].isin(img_ids).to_numpy()
    if not listed.all():
        findings.append(
            _finding(
                "gt-dangling",
                int((~listed).sum()),
                "ground-truth annotations of an unlisted image or class: not evaluated",
                "Run dataprep validate on the ground truth",
            )
        )
        gt = gt.replace(annotations=gt_anns.loc[listed])
    g = _objects(gt, is_gt=True, iou_type=iou_type)
    d = _objects(pred, is_gt=False, iou_type=iou_type, mask_area=mask_area)
    coco = det_metrics.coco_evaluate(g, d, img_ids, cat_ids, iou_type=iou_type)
    stats = dict(zip(det_metrics.STAT_NAMES, coco.stats.tolist(), strict=True))
    m1 = det_metrics.match(
        g,
        d,
        img_ids,
        cat_ids,
        iou_type=iou_type,
        iou_thresholds=np.array([iou]),
        area_ranges=[det_metrics.AREA_RANGES["all"]],
    )
    curves = det_metrics.class_curves(g, d, m1, img_ids, cat_ids)
    f1 = det_metrics.best_f1(g, d, m1, cat_ids)
    voc = det_metrics.voc_evaluate(g, d, img_ids, cat_ids, iou=iou, iou_type=iou_type)
    errors = det_metrics.error_breakdown(g, d, m1, img_ids, cat_ids, fg=iou)
    confusion = det_metrics.confusion_matrix(g, d, cat_ids, iou=iou, conf=conf)
    class_ap = coco.class_ap()
    names = gt.categories["name"].astype(str).tolist()
    gk = np.searchsorted(cat_ids, g.category_id)
    per_class = pd.DataFrame(
        {
            "name": names,
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
    labels = [*names, "background"]
    pr = pd.DataFrame(curves.precision.T, index=pd.Index(det_metrics.RECALL_THRESHOLDS, name="recall"), columns=names)
    tp, ign = m1.tp[0, 0], m1.ignored[0, 0]
    status_codes = np.where(tp, 0, np.where(ign, 2, 1))
    prediction_status = pd.Series(np.nan, index=pred.annotations.index, dtype=object)
    prediction_status.iloc[m1.det] = np.array(_STATUS, dtype=object)[status_codes]
    gt_state = np.full(len(g), "missed", dtype=object)
    gt_state[m1.gt_ignored[0]] = "ignored"
    gt_state[m1.gt_match[0, 0][tp]] = "matched"
    matched_iou = _matched_iou(m1, tp)
    has_gt = per_class["gt"].to_numpy() > 0
    return DetectionResult(
        iou_type=iou_type,
        iou=float(iou),
        stats=stats,
        per_class=per_class,
        voc={
            "mAP": float(voc.ap[has_gt].mean()) if has_gt.any() else -1.0,
            "mAP07": float(voc.ap07[has_gt].mean()) if has_gt.any() else -1.0,
        },
        best_f1={"confidence": f1.confidence, "precision": f1.precision, "recall": f1.recall, "f1": f1.f1},
        pr_curves=pr,
        matched_iou=matched_iou,
        confusion=pd.DataFrame(
            confusion, index=pd.Index(labels, name="predicted"), columns=pd.Index(labels, name="true")
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
        gt_status=pd.Series(gt_state, index=gt.annotations.index),
    )


def _matched_iou(m: det_metrics.Matches, tp: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """IoU of each true-positive (detection, ground truth) pair."""
    if not tp.any():
        return np.zeros(0)
    det_pos = np.flatnonzero(tp)
    gt_rows = m.gt_match[0, 0][det_pos]
    pair = pd.Series(m.pair_iou, index=pd.MultiIndex.from_arrays([m.pair_det, m.pair_gt]))
    return pair.reindex(pd.MultiIndex.from_arrays([det_pos, gt_rows])).to_numpy(dtype=np.float64)


def _clean_predictions(gt: Dataset, pred: Dataset, findings: list[Finding]) -> Dataset:
    """Drop predictions that cannot be ranked (NaN score) or placed (no box); count the odd ones kept."""
    anns = pred.annotations
    if len(anns) == 0:
        return pred
    score = anns["score"].to_numpy(dtype=np.float64)
    xyxy = anns[BOX_COLUMNS].to_numpy(dtype=np.float64)
    if np.isnan(score).all():
        findings.append(
            _finding(
                "prediction-without-score",
                len(anns),
                "predictions have no score: all ranked equal (score 1)",
                "Give each prediction its confidence",
            )
        )
        anns = anns.assign(score=1.0)
        score = np.ones(len(anns))
    no_score = np.isnan(score)
    no_box = ~np.isfinite(xyxy).all(axis=1) & anns["segmentation"].isna().to_numpy()
    if no_score.any():
        findings.append(
            _finding(
                "prediction-nan-score",
                int(no_score.sum()),
                "predictions with a NaN score: dropped",
                "Write a finite score for every prediction",
                Severity.ERROR,
            )
        )
    if no_box.any():
        findings.append(
            _finding(
                "prediction-without-box",
                int(no_box.sum()),
                "predictions without a box or mask: dropped",
                "Give each detection a bbox",
                Severity.ERROR,
            )
        )
    negative = ((xyxy[:, 2] < xyxy[:, 0]) | (xyxy[:, 3] < xyxy[:, 1])) & ~no_box
    if negative.any():
        findings.append(
            _finding(
                "prediction-negative-size",
                int(negative.sum()),
                "predictions with a negative width or height: kept as pycocotools keeps them (they overlap nothing)",
                "Check the box format (x, y, width, height)",
            )
        )
    keep = ~(no_score | no_box)
    if keep.all() and anns is pred.annotations:
        return pred
    return Dataset.from_frames(pred.images, anns.loc[keep], pred.categories, root=pred.root, info=pred.info)


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
    if _is_csv(pred) and fmt == "auto":
        predicted, scores, matched_by = _read_prediction_csv(Path(pred), gt, names, notes, findings)
    else:
        pred_ds = _load_dataset(pred, fmt, "predictions", notes, findings)
        aligned, matched_by = _align(gt, pred_ds, findings)
        anns = aligned.annotations
        if anns["score"].notna().any():
            anns = anns.sort_values("score", ascending=False, kind="stable")
        top = anns[~anns["image_id"].duplicated()]
        predicted = pd.Series(class_index.reindex(top["category_id"]).to_numpy(), index=top["image_id"].to_numpy())
        scores = None
    common = truth.index.intersection(predicted.index)
    missing = len(truth) - len(common)
    if missing:
        findings.append(
            _finding(
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


_FILE_COLUMNS = ("file_name", "filename", "file", "image", "image_name", "image_path", "path", "img")
_LABEL_COLUMNS = ("label", "class", "class_name", "category", "category_name", "prediction", "predicted")


def _read_prediction_csv(
    path: Path, gt: Dataset, names: pd.Series, notes: list[str], findings: list[Finding]
) -> tuple[pd.Series, pd.DataFrame | None, dict[str, str]]:
    """``file_name,label[,score]`` or ``file_name,<class>,<class>...`` (scores) -> per gt image_id."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as err:  # pandas raises several parser error types
        raise InputError(path, f"not a readable csv ({err})", hint="Write 'file_name,label[,score]'") from None
    lower = {c.strip().lower(): c for c in df.columns}
    file_col = next((lower[c] for c in _FILE_COLUMNS if c in lower), None)
    if file_col is None:
        raise InputError(
            path,
            f"no file column in the header {list(df.columns)}",
            record="line 1",
            hint="Name the first column 'file_name'",
        )
    label_col = next((lower[c] for c in _LABEL_COLUMNS if c in lower), None)
    name_to_index = {n: i for i, n in enumerate(names.tolist())}
    class_cols = [c for c in df.columns if c in name_to_index]
    image_map = _map_by_name(df[file_col], gt.images["file_name"])
    scores = None
    if class_cols:
        values = df[class_cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
        full = np.full((len(df), len(names)), -np.inf)
        full[:, [name_to_index[c] for c in class_cols]] = np.nan_to_num(values, nan=-np.inf)
        scores = pd.DataFrame(full)
        pred_index = pd.Series(full.argmax(axis=1))
        notes.append(f"predictions: class scores from {len(class_cols)} columns; the top score is the prediction")
    elif label_col is not None:
        lookup = {n.strip().lower(): i for n, i in name_to_index.items()}
        pred_index = df[label_col].str.strip().str.lower().map(lookup)
        unknown = int(pred_index.isna().sum())
        if unknown:
            findings.append(
                _finding(
                    "prediction-unknown-class",
                    unknown,
                    "rows predict a class the ground truth does not have: dropped",
                    "Use the ground truth's class names",
                )
            )
    else:
        raise InputError(
            path,
            "no label column and no per-class score columns",
            record="line 1",
            hint="Add a 'label' column, or one score column per class name",
        )
    known = pred_index.notna() & pd.Series(df.index.isin(image_map.index), index=df.index)
    unknown_img = int((~pd.Series(df.index.isin(image_map.index))).sum())
    if unknown_img:
        findings.append(
            _finding(
                "prediction-unknown-image",
                unknown_img,
                "rows name no ground-truth image: dropped",
                "Use the ground truth's file names",
            )
        )
    rows = df.index[known.to_numpy()]
    image_ids = image_map.reindex(rows).astype(np.int64).to_numpy()
    predicted = pd.Series(pred_index[rows].astype(np.int64).to_numpy(), index=image_ids)
    dup = predicted.index.duplicated()
    predicted = predicted[~dup]
    if scores is not None:
        scores = scores.iloc[rows].set_axis(image_ids)[~dup]
    return predicted, scores, {"images": "file name", "classes": "name"}
