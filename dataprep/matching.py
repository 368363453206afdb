"""Evaluation inputs: read ground truth and predictions, and match them by id or by name.

Predictions may be a COCO results list, a COCO dataset with scores, a folder of YOLO label files
with a confidence column (Ultralytics ``save_conf``, no images needed: sizes come from the ground
truth), a classification csv (``file_name,label[,score]`` or ``file_name`` plus one score column
per class) or any dataset dataprep reads. Images and classes are matched by id when the ids agree
with the ground truth's file and class names, else by file name (relative path, then base name,
then stem) and class name (case-insensitive); `align` says which. Predictions naming an image or
class the ground truth does not have are dropped and counted as findings, where pycocotools
refuses or ignores them.

This is the matching of *records*; the IoU matching of detections to ground truth is
`dataprep.metrics.detection.match`. `dataprep.evaluation` is the only caller.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import Finding, InputError, Severity, UsageError

__all__ = [
    "align",
    "clean_predictions",
    "count_finding",
    "is_csv",
    "load_dataset",
    "load_predictions",
    "predicted_classes",
    "select_split",
]


def count_finding(code: str, count: int, message: str, hint: str, severity: Severity = Severity.WARNING) -> Finding:
    """A finding about `count` records: ``"<count> <message>"``."""
    return Finding(code=code, severity=severity, message=f"{count} {message}", hint=hint)


def is_csv(src: Any) -> bool:
    """True for a path ending in ``.csv`` (classification predictions)."""
    return not isinstance(src, Dataset) and Path(src).suffix.lower() == ".csv"


def load_dataset(src: Dataset | str | Path, fmt: str, what: str, notes: list[str], findings: list[Finding]) -> Dataset:
    """`src` as a Dataset; the reader's notes (prefixed by `what`) and findings are appended."""
    if isinstance(src, Dataset):
        return src
    from dataprep.formats import load

    result = load(src, fmt)
    notes.extend(f"{what}: {n}" for n in result.notes)
    findings.extend(result.findings)
    return result.dataset


def select_split(ds: Dataset, split: str) -> Dataset:
    """The images of `split` (and their annotations); `UsageError` naming the splits there are."""
    mask = (ds.images["split"] == split).fillna(False).to_numpy(dtype=bool)
    if not mask.any():
        have = ", ".join(ds.splits) or "none"
        raise UsageError(f"the ground truth has no images in split {split!r} (splits: {have}); pass one of those")
    return ds.select_images(mask)


# -- detection predictions -------------------------------------------------------------------


def load_predictions(
    gt: Dataset, src: Dataset | str | Path, fmt: str, notes: list[str], findings: list[Finding]
) -> tuple[Dataset, dict[str, str], bool]:
    """Predictions in the ground truth's image and category ids (unknown ones dropped, counted).

    The flag is True for a results file without any ``bbox``: the reader derived the boxes from
    the masks, and pycocotools' ``loadRes`` takes such results' areas from the masks.
    """
    if isinstance(src, Dataset):
        return (*align(gt, src, findings), False)
    path = Path(src)
    if not path.exists():
        raise InputError(path, "no such file or directory", hint="Check the predictions path")
    if fmt == "auto" and path.is_file() and path.suffix.lower() == ".json" and _is_results_file(path):
        from dataprep.formats import coco

        notes.append("predictions: COCO results list, matched to the ground truth by image and category id")
        return (*align(gt, coco.read_results(path, gt), findings), not _mentions(path, b'"bbox"'))
    if fmt == "auto" and path.is_dir() and _is_label_folder(path):
        return _read_yolo_predictions(path, gt, notes, findings), {"images": "file name", "classes": "index"}, False
    ds = load_dataset(path, fmt, "predictions", notes, findings)
    return (*align(gt, ds, findings), False)


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
    skipped = {"unknown-file": 0, "unknown-class": 0, "no-conf": 0}
    for label in sorted(folder.rglob("*.txt")):
        image_id = stems.get(label.stem)
        if image_id is None:
            skipped["unknown-file"] += 1
            continue
        for line_no, line in enumerate(label.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            row = _yolo_prediction(line, len(class_ids), label, line_no)
            if isinstance(row, str):
                skipped[row] += 1
            elif row is not None:
                rows.append((int(image_id), int(class_ids[row[0]]), *row[1:]))
    arr = np.array([r[2:] for r in rows], dtype=np.float64).reshape(-1, 5)
    image_ids = np.array([r[0] for r in rows], dtype=np.int64)
    sizes = gt.images.loc[image_ids, ["width", "height"]].to_numpy(dtype=np.float64, na_value=np.nan)
    xyxy = cxcywh_norm_to_xyxy(arr[:, :4], sizes[:, 0], sizes[:, 1])
    notes.append(
        "predictions: YOLO label files matched to ground-truth images by file stem; class index i is the "
        "i-th ground-truth category in id order"
    )
    findings.extend(_yolo_findings(skipped))
    annotations = {
        "annotation_id": np.arange(1, len(rows) + 1),
        "image_id": image_ids,
        "category_id": np.array([r[1] for r in rows], dtype=np.int64),
        **{c: xyxy[:, k] for k, c in enumerate(BOX_COLUMNS)},
        "score": arr[:, 4],
    }
    return Dataset.from_frames(gt.images, annotations, gt.categories, root=gt.root)


def _yolo_prediction(
    line: str, n_classes: int, path: Path, line_no: int
) -> tuple[int, float, float, float, float, float] | str | None:
    """One label line as ``(class_index, cx, cy, w, h, conf)`` (normalized), a skip reason, or None if blank.

    Raises:
        InputError: a field is not a number, or the line has fewer than 5 numbers.
    """
    parts = line.split()
    if not parts:
        return None
    try:
        values = [float(v) for v in parts]
    except ValueError:
        raise InputError(
            path, f"not a number in {line.strip()!r}", line=line_no, hint="Write 'class cx cy w h conf'"
        ) from None
    if len(values) == 5 or (len(values) > 6 and len(values) % 2 == 1):
        return "no-conf"
    if len(values) < 5:
        raise InputError(path, f"{len(values)} numbers", line=line_no, hint="Write 'class cx cy w h conf'")
    first = values[0]
    if not (math.isfinite(first) and first.is_integer() and 0 <= first < n_classes):  # nan/inf: no class either
        return "unknown-class"
    if len(values) == 6:
        cx, cy, w, h = values[1:5]
    else:  # polygon then conf: its bounds
        pts = np.asarray(values[1:-1]).reshape(-1, 2)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        cx, cy, w, h = (lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, hi[0] - lo[0], hi[1] - lo[1]
    return int(first), float(cx), float(cy), float(w), float(h), values[-1]


def _yolo_findings(skipped: dict[str, int]) -> list[Finding]:
    """The YOLO reader's skipped files and lines, counted (keys of `_read_yolo_predictions`' tally)."""
    out = []
    if skipped["unknown-file"]:
        out.append(
            count_finding(
                "prediction-unknown-image",
                skipped["unknown-file"],
                "label files name no ground-truth image: skipped",
                "Name each label file after its image",
            )
        )
    if skipped["unknown-class"]:
        out.append(
            count_finding(
                "prediction-unknown-class",
                skipped["unknown-class"],
                "predictions with a class index outside the ground truth's classes: dropped",
                "Check the class order",
            )
        )
    if skipped["no-conf"]:
        out.append(
            count_finding(
                "prediction-without-score",
                skipped["no-conf"],
                "label lines without a confidence column: dropped",
                "Save predictions with Ultralytics' save_conf=True",
            )
        )
    return out


def align(gt: Dataset, pred: Dataset, findings: list[Finding]) -> tuple[Dataset, dict[str, str]]:
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
            count_finding(
                "prediction-unknown-image",
                int(bad_img.sum()),
                "predictions on images the ground truth does not "
                "have: dropped (pycocotools refuses such results files)",
                "Evaluate against the matching ground truth",
            )
        )
    if bad_cat.any():
        findings.append(
            count_finding(
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


def clean_predictions(gt: Dataset, pred: Dataset, findings: list[Finding]) -> Dataset:
    """Drop predictions that cannot be ranked (NaN score) or placed (no box); count the odd ones kept."""
    anns = pred.annotations
    if len(anns) == 0:
        return pred
    score = anns["score"].to_numpy(dtype=np.float64)
    xyxy = anns[BOX_COLUMNS].to_numpy(dtype=np.float64)
    if np.isnan(score).all():
        findings.append(
            count_finding(
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
            count_finding(
                "prediction-nan-score",
                int(no_score.sum()),
                "predictions with a NaN score: dropped",
                "Write a finite score for every prediction",
                Severity.ERROR,
            )
        )
    if no_box.any():
        findings.append(
            count_finding(
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
            count_finding(
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


# -- classification predictions --------------------------------------------------------------


def predicted_classes(
    gt: Dataset, pred: Dataset | str | Path, fmt: str, notes: list[str], findings: list[Finding]
) -> tuple[pd.Series, pd.DataFrame | None, dict[str, str]]:
    """Each ground-truth image's predicted class, from a classification csv or a dataset.

    Returns:
        ``predicted``: class index (position in the ground truth's categories) by ground-truth
        ``image_id``; ``scores``: ``(images, classes)`` by ``image_id`` when the csv has one score
        column per class, else None; ``matched_by``. From a dataset, an image's prediction is
        its highest-scoring label (its first, without scores).
    """
    names = gt.categories["name"].astype(str)
    if is_csv(pred) and fmt == "auto":
        return _read_prediction_csv(Path(pred), gt, names, notes, findings)
    class_index = pd.Series(np.arange(len(names)), index=gt.categories.index)
    aligned, matched_by = align(gt, load_dataset(pred, fmt, "predictions", notes, findings), findings)
    anns = aligned.annotations
    if anns["score"].notna().any():
        anns = anns.sort_values("score", ascending=False, kind="stable")
    top = anns[~anns["image_id"].duplicated()]
    predicted = pd.Series(class_index.reindex(top["category_id"]).to_numpy(), index=top["image_id"].to_numpy())
    return predicted, None, matched_by


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
    image_map = _map_by_name(df[file_col], gt.images["file_name"])
    pred_index, scores = _csv_classes(path, df, label_col, names, notes, findings)
    known = pred_index.notna() & pd.Series(df.index.isin(image_map.index), index=df.index)
    unknown_img = int((~pd.Series(df.index.isin(image_map.index))).sum())
    if unknown_img:
        findings.append(
            count_finding(
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


def _csv_classes(
    path: Path, df: pd.DataFrame, label_col: str | None, names: pd.Series, notes: list[str], findings: list[Finding]
) -> tuple[pd.Series, pd.DataFrame | None]:
    """Per csv row: the predicted class index (NaN for an unknown name), and ``(rows, classes)`` scores if given.

    Per-class score columns (named after the classes) win over a label column; the top score
    is the prediction.
    """
    name_to_index = {n: i for i, n in enumerate(names.tolist())}
    class_cols = [c for c in df.columns if c in name_to_index]
    if class_cols:
        values = df[class_cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
        full = np.full((len(df), len(names)), -np.inf)
        full[:, [name_to_index[c] for c in class_cols]] = np.nan_to_num(values, nan=-np.inf)
        notes.append(f"predictions: class scores from {len(class_cols)} columns; the top score is the prediction")
        return pd.Series(full.argmax(axis=1)), pd.DataFrame(full)
    if label_col is None:
        raise InputError(
            path,
            "no label column and no per-class score columns",
            record="line 1",
            hint="Add a 'label' column, or one score column per class name",
        )
    lookup = {n.strip().lower(): i for n, i in name_to_index.items()}
    pred_index = df[label_col].str.strip().str.lower().map(lookup)
    unknown = int(pred_index.isna().sum())
    if unknown:
        findings.append(
            count_finding(
                "prediction-unknown-class",
                unknown,
                "rows predict a class the ground truth does not have: dropped",
                "Use the ground truth's class names",
            )
        )
    return pred_index, None
