"""Semantic checks: one ``check_<rule>`` per finding code, each returning a findings frame.

Every check takes a `CheckContext` (or a bare `Dataset`) and returns a DataFrame with the
columns of `FINDING_COLUMNS`, one row per problem. Checks are vectorized over the tables:
masks over the annotations joined to their image sizes. The only per-item Python work is
what cannot be vectorized: opening image files (in `context.py`), and flattening polygon
parts for shapely's vectorized validity test. Checks never raise on user data.

Boxes are absolute continuous xyxy pixels (see `dataprep.dataset`); an image of unknown size
(``<NA>`` width/height, not probed) is never reported as "outside".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import Severity
from dataprep.validation.context import CheckContext

FINDING_COLUMNS = ["code", "severity", "message", "image_id", "annotation_id", "file", "record", "line", "hint"]
_ID_COLUMNS = ("image_id", "annotation_id", "line")

# -- findings frames ----------------------------------------------------------------------------


def empty_findings() -> pd.DataFrame:
    """A findings frame with no rows and the right columns/dtypes."""
    return _findings("", [])


def _findings(
    code: str,
    message: Any,
    *,
    image_id: Any = None,
    annotation_id: Any = None,
    file: Any = None,
    record: Any = None,
    line: Any = None,
    hint: Any = None,
    severity: Severity | str | None = None,
) -> pd.DataFrame:
    """Build a findings frame; scalars broadcast to the length of the array-like arguments."""
    values = {
        "message": message,
        "image_id": image_id,
        "annotation_id": annotation_id,
        "file": file,
        "record": record,
        "line": line,
        "hint": hint,
    }
    n = max((len(v) for v in values.values() if _is_array(v)), default=1)
    columns: dict[str, Any] = {}
    for name, value in values.items():
        arr = list(value) if _is_array(value) else [value] * n
        if name in _ID_COLUMNS:
            columns[name] = pd.array(arr, dtype="Int64")
        else:
            columns[name] = pd.Series(arr, dtype=object)
    sev = severity if severity is not None else (CHECKS[code].severity if code in CHECKS else Severity.ERROR)
    frame = pd.DataFrame(columns, index=pd.RangeIndex(n))
    frame.insert(0, "severity", str(sev))
    frame.insert(0, "code", code)
    return frame[FINDING_COLUMNS]


def _is_array(value: Any) -> bool:
    return isinstance(value, list | tuple | np.ndarray | pd.Series | pd.Index | pd.api.extensions.ExtensionArray)


def _fmt(value: float) -> str:
    """A coordinate for a message: integers without a fraction, others to 6 significant digits."""
    if not np.isfinite(value):
        return str(value)
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.6g}"


def _box_text(xyxy: npt.NDArray[np.float64]) -> list[str]:
    return ["(" + ", ".join(_fmt(v) for v in row) + ")" for row in xyxy]


def _ann_findings(ctx: CheckContext, code: str, mask: npt.NDArray[np.bool_], messages: Any, hint: str) -> pd.DataFrame:
    anns = ctx.ds.annotations
    return _findings(
        code,
        messages,
        image_id=anns["image_id"].to_numpy()[mask],
        annotation_id=anns.index.to_numpy()[mask],
        hint=hint,
    )


def _size_text(width: npt.NDArray[np.float64], height: npt.NDArray[np.float64]) -> list[str]:
    return [f"{_fmt(w)}x{_fmt(h)}" for w, h in zip(width, height, strict=True)]


# -- annotation geometry ------------------------------------------------------------------------


def check_box_non_finite(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``box-non-finite``: a box with a NaN or infinite coordinate (all-NaN = image-level label, fine)."""
    ctx = CheckContext.of(arg)
    xyxy = ctx.xyxy
    all_nan = np.isnan(xyxy).all(axis=1)
    mask = ~ctx.finite & ~all_nan
    if not mask.any():
        return empty_findings()
    messages = [f"box {t} has a non-finite coordinate" for t in _box_text(xyxy[mask])]
    hint = "Re-export the labels; every coordinate must be a number"
    return _ann_findings(ctx, "box-non-finite", mask, messages, hint)


def check_box_missing(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``box-missing``: in a detection dataset, an object with neither a box nor a mask."""
    ctx = CheckContext.of(arg)
    anns = ctx.ds.annotations
    no_box = np.isnan(ctx.xyxy).all(axis=1)
    if not no_box.any() or no_box.all():  # all-NaN everywhere = a classification dataset
        return empty_findings()
    mask = no_box & anns["segmentation"].isna().to_numpy()
    return _ann_findings(
        ctx, "box-missing", mask, "object has no box and no mask", "Add its box, or remove the annotation"
    )


def check_box_inverted(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``box-inverted``: x_max < x_min or y_max < y_min."""
    ctx = CheckContext.of(arg)
    xyxy = ctx.xyxy
    with np.errstate(invalid="ignore"):
        mask = ctx.finite & ((xyxy[:, 2] < xyxy[:, 0]) | (xyxy[:, 3] < xyxy[:, 1]))
    messages = [f"box {t} is inverted (x_max < x_min or y_max < y_min)" for t in _box_text(xyxy[mask])]
    hint = "Swap the corners, or check the box format (xyxy vs xywh)"
    return _ann_findings(ctx, "box-inverted", mask, messages, hint)


def check_box_zero_area(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``box-zero-area``: a box with zero width or height."""
    ctx = CheckContext.of(arg)
    xyxy = ctx.xyxy
    with np.errstate(invalid="ignore"):
        w, h = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
        mask = ctx.finite & (w >= 0) & (h >= 0) & ((w == 0) | (h == 0))
    messages = [f"box {t} has zero area" for t in _box_text(xyxy[mask])]
    return _ann_findings(ctx, "box-zero-area", mask, messages, "Remove the annotation or redraw the box")


def check_box_outside_image(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``box-outside-image``: a box reaching past ``[0, width] x [0, height]`` (beyond the tolerance)."""
    from dataprep.boxes import is_outside

    ctx = CheckContext.of(arg)
    xyxy = ctx.xyxy
    width, height = ctx.annotation_size
    tol = ctx.thresholds.outside_tolerance
    mask = ctx.finite & is_outside(xyxy, width, height, tol=tol)
    if not mask.any():
        return empty_findings()
    b, w, h = xyxy[mask], width[mask], height[mask]
    over = np.max(np.stack([-b[:, 0], -b[:, 1], b[:, 2] - w, b[:, 3] - h], axis=1), axis=1)
    messages = [
        f"box {t} reaches {_fmt(o)} px outside the {s} image"
        for t, o, s in zip(_box_text(b), over, _size_text(w, h), strict=True)
    ]
    return _ann_findings(
        ctx, "box-outside-image", mask, messages, "Clip the box to the image, or fix the image size in the labels"
    )


def _box_wh(ctx: CheckContext) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    xyxy = ctx.xyxy
    with np.errstate(invalid="ignore"):
        w, h = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
        proper = ctx.finite & (w > 0) & (h > 0)
    return w, h, proper


def check_box_tiny(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``box-tiny``: a box narrower or shorter than ``thresholds.min_box_side`` pixels."""
    ctx = CheckContext.of(arg)
    w, h, proper = _box_wh(ctx)
    limit = ctx.thresholds.min_box_side
    mask = proper & ((w < limit) | (h < limit))
    messages = [
        f"box is {_fmt(a)}x{_fmt(b)} px, below the {_fmt(limit)} px minimum"
        for a, b in zip(w[mask], h[mask], strict=True)
    ]
    return _ann_findings(
        ctx, "box-tiny", mask, messages, "Check it is not a stray click; tune with thresholds.min_box_side"
    )


def check_box_aspect_ratio(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``box-aspect-ratio``: ``max(w/h, h/w)`` above ``thresholds.max_aspect_ratio``."""
    ctx = CheckContext.of(arg)
    w, h, proper = _box_wh(ctx)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.maximum(w / h, h / w)
    limit = ctx.thresholds.max_aspect_ratio
    mask = proper & (ratio > limit)
    messages = [
        f"box is {_fmt(a)}x{_fmt(b)} px, aspect ratio {r:.1f}:1 above {_fmt(limit)}:1"
        for a, b, r in zip(w[mask], h[mask], ratio[mask], strict=True)
    ]
    return _ann_findings(
        ctx, "box-aspect-ratio", mask, messages, "Check the box; tune with thresholds.max_aspect_ratio"
    )


def check_yolo_out_of_range(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``yolo-out-of-range``: a YOLO label whose normalized cx, cy, w or h is outside ``[0, 1]``."""
    ctx = CheckContext.of(arg)
    if not ctx.applies("yolo-out-of-range") or not len(ctx.xyxy):
        return empty_findings()
    from dataprep.boxes import xyxy_to_cxcywh_norm

    width, height = ctx.annotation_size
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = xyxy_to_cxcywh_norm(ctx.xyxy, width, height)
        tol = ctx.thresholds.yolo_tolerance
        mask = ctx.finite & np.isfinite(norm).all(axis=1) & ((norm < -tol) | (norm > 1 + tol)).any(axis=1)
    messages = [
        "normalized cx, cy, w, h (" + ", ".join(f"{v:.6g}" for v in row) + ") outside [0, 1]" for row in norm[mask]
    ]
    return _ann_findings(
        ctx, "yolo-out-of-range", mask, messages, "YOLO values are fractions of the image size: clip them to [0, 1]"
    )


def check_duplicate_annotation(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``duplicate-annotation``: same image, same class and the same box (or label) as an earlier annotation."""
    ctx = CheckContext.of(arg)
    anns = ctx.ds.annotations
    if len(anns) < 2:
        return empty_findings()
    keys = anns[["image_id", "category_id", *BOX_COLUMNS]]
    group = keys.groupby(list(keys.columns), sort=False, dropna=False).ngroup().to_numpy()
    _, first_pos = np.unique(group, return_index=True)  # ngroup numbers groups 0..G-1
    first_of = first_pos[group]
    mask = first_of != np.arange(len(group))
    if not mask.any():
        return empty_findings()
    first_ids = anns.index.to_numpy()[first_of[mask]]
    messages = [f"same class and box as annotation {i}" for i in first_ids]
    return _ann_findings(ctx, "duplicate-annotation", mask, messages, "Remove the duplicate")


# -- ids and tables ----------------------------------------------------------------------------


def check_dangling_image(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``dangling-image``: an annotation whose image_id is not in the images table."""
    ctx = CheckContext.of(arg)
    ids = ctx.ds.annotations["image_id"]
    mask = ~ids.isin(ctx.ds.images.index).to_numpy()
    messages = [f"image_id {i} does not exist" for i in ids.to_numpy()[mask]]
    return _ann_findings(ctx, "dangling-image", mask, messages, "Add the image record or remove the annotation")


def check_dangling_category(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``dangling-category``: an annotation whose category_id is not in the categories table."""
    ctx = CheckContext.of(arg)
    ids = ctx.ds.annotations["category_id"]
    mask = ~ids.isin(ctx.ds.categories.index).to_numpy()
    known = ", ".join(map(str, ctx.ds.categories.index[:10].tolist())) or "none"
    messages = [f"category_id {i} does not exist (known: {known})" for i in ids.to_numpy()[mask]]
    return _ann_findings(ctx, "dangling-category", mask, messages, "Add the category or fix the class id")


def check_duplicate_file_name(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``duplicate-file-name``: two image records naming the same file."""
    ctx = CheckContext.of(arg)
    names = ctx.ds.images["file_name"].astype(object)
    key = names.str.replace("\\", "/", regex=False)
    mask = key.duplicated(keep="first").to_numpy()
    if not mask.any():
        return empty_findings()
    first = pd.Series(ctx.ds.images.index, index=key.to_numpy()).groupby(level=0).first()
    first_ids = first.reindex(key.to_numpy()[mask]).to_numpy()
    messages = [f"file {n!r} is also image {i}" for n, i in zip(names.to_numpy()[mask], first_ids, strict=True)]
    return _findings(
        "duplicate-file-name",
        messages,
        image_id=ctx.ds.images.index.to_numpy()[mask],
        hint="Merge the two image records into one",
    )


def check_coco_id_zero(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``coco-id-zero``: id 0 in COCO input, which pycocotools and many trainers misread.

    pycocotools' COCOeval stores matched ground-truth ids and tests ``> 0``, so an annotation
    with id 0 never counts as matched (torchvision #1530, CVAT #748, supervision #1895, d2go
    #447); category 0 is the background class of torchvision's detection models.
    """
    ctx = CheckContext.of(arg)
    if not ctx.applies("coco-id-zero"):
        return empty_findings()
    ds = ctx.ds
    frames = []
    ann_zero = (ds.annotations.index == 0) if len(ds.annotations) else np.zeros(0, bool)
    if ann_zero.any():
        frames.append(
            _ann_findings(
                ctx,
                "coco-id-zero",
                np.asarray(ann_zero),
                "annotation id 0: pycocotools' COCOeval treats id 0 as 'unmatched', so mAP comes out wrong",
                "Renumber annotation ids from 1",
            )
        )
    cat_zero = ds.annotations["category_id"].to_numpy() == 0
    if 0 in ds.categories.index:
        name = ds.categories.loc[0, "name"]
        frames.append(
            _findings(
                "coco-id-zero",
                f"category id 0 ({name!r}, {int(cat_zero.sum())} annotations): torchvision detectors reserve 0 "
                "for the background and many COCO tools skip it",
                record="categories[id=0]",
                hint="Renumber category ids from 1",
            )
        )
    if 0 in ds.images.index:
        frames.append(
            _findings(
                "coco-id-zero",
                "image id 0: some COCO tools treat 0 as 'no image'",
                image_id=[0],
                hint="Renumber image ids from 1",
            )
        )
    return _concat(frames)


def check_unused_category(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``unused-category``: a class no annotation uses.

    Quiet when the reader skipped label files whose images are missing (``label-without-image``):
    their classes are used there, only unreadable (issue 7, item 15).
    """
    ctx = CheckContext.of(arg)
    if "label-without-image" in ctx.reader_codes:
        return empty_findings()
    cats = ctx.ds.categories
    mask = ~cats.index.isin(ctx.ds.annotations["category_id"].unique())
    names = cats["name"].astype(object).to_numpy()[mask]
    ids = cats.index.to_numpy()[mask]
    messages = [f"class {n!r} (category_id {i}) has no annotations" for n, i in zip(names, ids, strict=True)]
    return _findings(
        "unused-category",
        messages,
        record=[f"categories[id={i}]" for i in ids],
        hint="Remove the class or label some examples of it",
    )


def _name_key(names: pd.Series) -> pd.Series:
    return names.str.casefold().str.replace(r"[\s_\-]+", " ", regex=True).str.strip()


def check_similar_category_names(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``similar-category-names``: class names equal up to case, spaces, ``_`` or ``-``."""
    ctx = CheckContext.of(arg)
    cats = ctx.ds.categories
    names = cats["name"].astype(object)
    key = _name_key(names.astype(str))
    mask = key.duplicated(keep="first").to_numpy()
    if not mask.any():
        return empty_findings()
    first = pd.Series(names.to_numpy(), index=key.to_numpy()).groupby(level=0).first()
    firsts = first.reindex(key.to_numpy()[mask]).to_numpy()
    ids = cats.index.to_numpy()[mask]
    messages = [
        f"class {n!r} differs from {f!r} only by case or spacing"
        for n, f in zip(names.to_numpy()[mask], firsts, strict=True)
    ]
    return _findings(
        "similar-category-names",
        messages,
        record=[f"categories[id={i}]" for i in ids],
        hint="Merge the classes under one name",
    )


def check_image_without_labels(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``image-without-labels`` (info): an image with no annotation (fine for negatives)."""
    ctx = CheckContext.of(arg)
    images = ctx.ds.images
    mask = ~images.index.isin(ctx.ds.annotations["image_id"].unique())
    return _findings(
        "image-without-labels",
        "image has no annotations",
        image_id=images.index.to_numpy()[mask],
        hint="Fine for background images; otherwise label it",
    )


def check_size_unknown(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``size-unknown`` (info): boxes on images of unknown size, so their bounds were not checked."""
    ctx = CheckContext.of(arg)
    width, height = ctx.annotation_size
    boxed = ~np.isnan(ctx.xyxy).all(axis=1) if len(ctx.xyxy) else np.zeros(0, bool)
    exists = ctx.ds.annotations["image_id"].isin(ctx.ds.images.index).to_numpy()
    unknown = boxed & (np.isnan(width) | np.isnan(height)) & exists
    image_ids = np.unique(ctx.ds.annotations["image_id"].to_numpy()[unknown])
    return _findings(
        "size-unknown",
        "image size unknown: its boxes were not checked against the image border",
        image_id=image_ids,
        hint="Record width/height in the labels, or validate with image checks on",
    )


# -- masks and crowds ----------------------------------------------------------------------------


def _segmentation_kinds(ctx: CheckContext) -> npt.NDArray[np.int8]:
    """``(N,)`` per annotation: 0 no mask, 1 polygon list, 2 RLE dict (one pass, cached)."""
    cached = ctx.__dict__.get("_segmentation_kinds")
    if cached is None:
        seg = ctx.ds.annotations["segmentation"].to_numpy()
        cached = np.fromiter(
            (2 if isinstance(s, dict) else 1 if isinstance(s, list) and s else 0 for s in seg), np.int8, len(seg)
        )
        ctx.__dict__["_segmentation_kinds"] = cached
    return cached


def _polygon_rows(ctx: CheckContext) -> tuple[npt.NDArray[np.int64], list[list[Any]]]:
    seg = ctx.ds.annotations["segmentation"].to_numpy()
    pos = np.flatnonzero(_segmentation_kinds(ctx) == 1)
    return pos.astype(np.int64), [seg[i] for i in pos]


@dataclass
class _PolygonVerdicts:
    invalid_pos: list[int] = field(default_factory=list)
    invalid_why: list[str] = field(default_factory=list)
    crossing_pos: list[int] = field(default_factory=list)
    crossing_why: list[str] = field(default_factory=list)


def _polygon_verdicts(ctx: CheckContext) -> _PolygonVerdicts:
    cached = ctx.__dict__.get("_polygon_verdicts")
    if cached is not None:
        return cached
    import shapely

    out = _PolygonVerdicts()
    pos, segs = _polygon_rows(ctx)
    coords: list[npt.NDArray[np.float64]] = []
    part_owner: list[int] = []
    for p, parts in zip(pos, segs, strict=True):
        bad = None
        arrays = []
        for part in parts:
            arr = np.asarray(part, dtype=np.float64) if not isinstance(part, np.ndarray) else part.astype(np.float64)
            arr = arr.reshape(-1, 2) if arr.size % 2 == 0 else arr
            if arr.ndim != 2 or arr.shape[1] != 2:
                bad = "a polygon part has an odd number of values"
            elif not np.isfinite(arr).all():
                bad = "a polygon has a non-finite coordinate"
            elif len(np.unique(arr, axis=0)) < 3:
                bad = f"a polygon part has {len(np.unique(arr, axis=0))} distinct points (needs 3)"
            arrays.append(arr)
            if bad:
                break
        if bad:
            out.invalid_pos.append(int(p))
            out.invalid_why.append(bad)
            continue
        for arr in arrays:
            coords.append(arr)
            part_owner.append(int(p))
    if coords:
        owner = np.asarray(part_owner)
        flat = np.concatenate(coords)
        ring_index = np.repeat(np.arange(len(coords)), [len(c) for c in coords])
        rings = shapely.linearrings(flat, indices=ring_index)
        polys = shapely.polygons(rings)
        valid = shapely.is_valid(polys)
        suspect = np.flatnonzero(~valid | (shapely.area(polys) <= 0))
        # a bow-tie's signed areas cancel: judge emptiness on the repaired shape
        repaired_area = shapely.area(shapely.make_valid(polys[suspect])) if len(suspect) else np.zeros(0)
        seen: set[int] = set()
        for i, area in zip(suspect, repaired_area, strict=True):
            p = int(owner[i])
            if p in seen:
                continue
            seen.add(p)
            if area <= 0:
                out.invalid_pos.append(p)
                out.invalid_why.append("a polygon part has zero area (its points are collinear)")
            else:
                out.crossing_pos.append(p)
                out.crossing_why.append(str(shapely.is_valid_reason(polys[i])))
    ctx.__dict__["_polygon_verdicts"] = out
    return out


def _pos_findings(ctx: CheckContext, code: str, pos: list[int], messages: list[str], hint: str) -> pd.DataFrame:
    mask = np.zeros(len(ctx.ds.annotations), bool)
    order = np.argsort(pos, kind="stable")
    mask[np.asarray(pos, dtype=np.int64)] = True
    return _ann_findings(ctx, code, mask, [messages[i] for i in order], hint)


def check_polygon_invalid(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``polygon-invalid``: a polygon with fewer than 3 distinct points, zero area or non-finite values."""
    ctx = CheckContext.of(arg)
    v = _polygon_verdicts(ctx)
    return _pos_findings(ctx, "polygon-invalid", v.invalid_pos, v.invalid_why, "Redraw the polygon or remove it")


def check_polygon_self_intersection(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``polygon-self-intersection``: a polygon whose outline crosses itself (shapely ``is_valid``)."""
    ctx = CheckContext.of(arg)
    v = _polygon_verdicts(ctx)
    messages = [f"polygon outline is invalid: {why}" for why in v.crossing_why]
    return _pos_findings(
        ctx,
        "polygon-self-intersection",
        v.crossing_pos,
        messages,
        "Redraw it without crossing edges; areas and masks computed from it are unreliable",
    )


def check_rle_size_mismatch(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``rle-size-mismatch``: an RLE mask whose ``size`` [h, w] differs from its image's size."""
    ctx = CheckContext.of(arg)
    seg = ctx.ds.annotations["segmentation"].to_numpy()
    pos = np.flatnonzero(_segmentation_kinds(ctx) == 2).tolist()
    if not pos:
        return empty_findings()
    width, height = ctx.annotation_size
    bad, messages = [], []
    for i in pos:
        size = seg[i].get("size")
        try:
            mh, mw = (float(size[0]), float(size[1]))
        except (TypeError, ValueError, IndexError):
            bad.append(i)
            messages.append(f"RLE mask has no valid size: {size!r}")
            continue
        if np.isfinite(width[i]) and np.isfinite(height[i]) and (mh != height[i] or mw != width[i]):
            bad.append(i)
            messages.append(f"RLE mask is {_fmt(mw)}x{_fmt(mh)} but the image is {_fmt(width[i])}x{_fmt(height[i])}")
    return _pos_findings(ctx, "rle-size-mismatch", bad, messages, "Re-encode the mask at the image's size")


def check_crowd_without_mask(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``crowd-without-mask``: ``iscrowd`` set on an annotation with no segmentation."""
    ctx = CheckContext.of(arg)
    anns = ctx.ds.annotations
    mask = anns["iscrowd"].to_numpy(dtype=bool) & anns["segmentation"].isna().to_numpy()
    return _ann_findings(
        ctx,
        "crowd-without-mask",
        mask,
        "crowd annotation has no mask: COCOeval ignores detections inside it by its box only",
        "Add the crowd region's RLE mask, or clear iscrowd",
    )


# -- image files ------------------------------------------------------------------------------


def _probe_findings(ctx: CheckContext, code: str, status: str, hint: str) -> pd.DataFrame:
    if not ctx.images or not len(ctx.ds.images):
        return empty_findings()
    probes = ctx.image_probes
    mask = (probes["status"] == status).to_numpy()
    names = ctx.ds.images["file_name"].astype(object).to_numpy()[mask]
    errors = probes["error"][mask]
    return _findings(
        code,
        ["image file not found" if status == "missing" else f"image file is not readable: {e}" for e in errors],
        image_id=probes.index.to_numpy()[mask],
        file=[ctx.display_path(n) for n in names],
        hint=hint,
    )


def check_image_missing(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``image-missing``: the labels name an image file that does not exist."""
    ctx = CheckContext.of(arg)
    hint = "Add the file, fix the file name, or drop the image's labels"
    return _probe_findings(ctx, "image-missing", "missing", hint)


def check_image_unreadable(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``image-unreadable``: the file exists but its header cannot be read (not an image, no permission)."""
    ctx = CheckContext.of(arg)
    return _probe_findings(ctx, "image-unreadable", "unreadable", "Re-export the image or remove it from the dataset")


def check_image_corrupt(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``image-corrupt``: the header reads but the pixels do not decode (truncated file); needs ``decode``."""
    ctx = CheckContext.of(arg)
    if not ctx.decode:
        return empty_findings()
    return _probe_findings(ctx, "image-corrupt", "corrupt", "Re-export the image; training would crash or skip it")


def _probed_sizes(ctx: CheckContext) -> tuple[pd.DataFrame, npt.NDArray[np.bool_]]:
    probes = ctx.image_probes
    images = ctx.ds.images
    known = images["width"].notna().to_numpy() & images["height"].notna().to_numpy()
    ok = (probes["status"].isin(["ok", "corrupt"])).to_numpy() & known
    return probes, ok


def check_size_mismatch(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``size-mismatch``: width/height in the labels differ from the image file (neither orientation matches)."""
    ctx = CheckContext.of(arg)
    if not ctx.images or not len(ctx.ds.images):
        return empty_findings()
    probes, ok = _probed_sizes(ctx)
    images = ctx.ds.images
    lw = images["width"].to_numpy(dtype=float, na_value=np.nan)
    lh = images["height"].to_numpy(dtype=float, na_value=np.nan)
    fw = probes["width"].to_numpy(dtype=float, na_value=np.nan)
    fh = probes["height"].to_numpy(dtype=float, na_value=np.nan)
    sw = probes["stored_width"].to_numpy(dtype=float, na_value=np.nan)
    sh = probes["stored_height"].to_numpy(dtype=float, na_value=np.nan)
    displayed = (lw == fw) & (lh == fh)
    stored = (lw == sw) & (lh == sh)
    mask = ok & ~displayed & ~stored
    names = images["file_name"].astype(object).to_numpy()[mask]
    messages = [
        f"labels say {_fmt(a)}x{_fmt(b)} but the file is {_fmt(c)}x{_fmt(d)}"
        for a, b, c, d in zip(lw[mask], lh[mask], fw[mask], fh[mask], strict=True)
    ]
    return _findings(
        "size-mismatch",
        messages,
        image_id=images.index.to_numpy()[mask],
        file=[ctx.display_path(n) for n in names],
        hint="The image was replaced or resized after labelling: re-label it or fix width/height",
    )


def check_exif_rotation(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``exif-rotation``: an EXIF orientation that swaps width and height (5-8).

    Loaders disagree on it (PIL ignores EXIF, OpenCV applies it), so the same labels fit the
    image for one trainer and are rotated for another.
    """
    ctx = CheckContext.of(arg)
    if not ctx.images or not len(ctx.ds.images):
        return empty_findings()
    probes = ctx.image_probes
    images = ctx.ds.images
    orientation = probes["orientation"].to_numpy(dtype=float, na_value=np.nan)
    mask = np.isin(orientation, [5, 6, 7, 8])
    if not mask.any():
        return empty_findings()
    lw = images["width"].to_numpy(dtype=float, na_value=np.nan)[mask]
    sw = probes["stored_width"].to_numpy(dtype=float, na_value=np.nan)[mask]
    sh = probes["stored_height"].to_numpy(dtype=float, na_value=np.nan)[mask]
    messages = []
    for o, a, w, h in zip(orientation[mask], lw, sw, sh, strict=True):
        which = "the stored (unrotated) size" if a == w and w != h else "the rotated size" if a == h else "its size"
        messages.append(
            f"EXIF orientation {int(o)} rotates the {_fmt(w)}x{_fmt(h)} image to {_fmt(h)}x{_fmt(w)}; "
            f"labels use {which}, and loaders that {'apply' if which.startswith('the stored') else 'ignore'} "
            "EXIF see the boxes rotated"
        )
    names = images["file_name"].astype(object).to_numpy()[mask]
    return _findings(
        "exif-rotation",
        messages,
        image_id=images.index.to_numpy()[mask],
        file=[ctx.display_path(n) for n in names],
        hint="Bake the rotation into the pixels (e.g. PIL ImageOps.exif_transpose) and re-check the labels",
    )


def _digest_groups(ctx: CheckContext, *, per_split: bool) -> pd.DataFrame:
    """Images whose bytes equal an earlier image's: columns image_id, first_id (lowest id of its group).

    With `per_split`, groups are (content, split): duplicates inside one split.
    """
    digests = ctx.image_digests
    known = digests.notna().to_numpy()
    if known.sum() < 2:
        return pd.DataFrame({"image_id": [], "first_id": []}, dtype="int64")
    key = digests[known].astype(str)
    if per_split:
        key = key + "|" + ctx.ds.images["split"].astype(object)[known].fillna("").astype(str)
    ids = key.index.to_numpy()
    first_id = pd.Series(ids, index=key.to_numpy()).groupby(level=0).transform("min").to_numpy()
    dup = first_id != ids
    return pd.DataFrame({"image_id": ids[dup], "first_id": first_id[dup]})


def _split_of(ctx: CheckContext, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    split = ctx.ds.images["split"].astype(object)
    return split.reindex(ids).where(split.reindex(ids).notna(), None).to_numpy()


def check_duplicate_image(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``duplicate-image``: two images with identical bytes in the same split (content hash)."""
    ctx = CheckContext.of(arg)
    if not ctx.images or not len(ctx.ds.images):
        return empty_findings()
    pairs = _digest_groups(ctx, per_split=True)
    ids, first = pairs["image_id"].to_numpy(), pairs["first_id"].to_numpy()
    names = ctx.ds.images["file_name"].astype(object)
    return _findings(
        "duplicate-image",
        [f"same content as image {f} ({names[f]!r})" for f in first],
        image_id=ids,
        file=[ctx.display_path(names[i]) for i in ids],
        hint="Remove one copy: duplicates over-weight an image in training",
    )


def check_split_leak(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``split-leak``: the same image (content hash) or the same leak group in two splits."""
    ctx = CheckContext.of(arg)
    frames = []
    names = ctx.ds.images["file_name"].astype(object)
    if ctx.images and len(ctx.ds.images):
        pairs = _digest_groups(ctx, per_split=False)
        ids, first = pairs["image_id"].to_numpy(), pairs["first_id"].to_numpy()
        split, first_split = _split_of(ctx, ids), _split_of(ctx, first)
        leak = split != first_split
        frames.append(
            _findings(
                "split-leak",
                [
                    f"same content as image {f} ({names[f]!r}) in split {fs!r}, but this one is in {s!r}"
                    for f, fs, s in zip(first[leak], first_split[leak], split[leak], strict=True)
                ],
                image_id=ids[leak],
                file=[ctx.display_path(names[i]) for i in ids[leak]],
                hint="Keep one copy, in one split: a leak inflates validation scores",
            )
        )
    images = ctx.ds.images
    grouped = images[images["group"].notna() & images["split"].notna()]
    if len(grouped):
        g = grouped["group"].astype(object)
        s = grouped["split"].astype(object)
        first_split = s.groupby(g.to_numpy()).transform("first")
        leak = (s != first_split).to_numpy()
        frames.append(
            _findings(
                "split-leak",
                [
                    f"leak group {gr!r} is in split {fs!r} and also in {sp!r}"
                    for gr, fs, sp in zip(g[leak], first_split[leak], s[leak], strict=True)
                ],
                image_id=grouped.index.to_numpy()[leak],
                file=[ctx.display_path(n) for n in grouped["file_name"].astype(object)[leak]],
                hint="Put a whole group (video, scene, patient) in one split",
            )
        )
    return _concat(frames)


# -- dataset level -----------------------------------------------------------------------------


def class_histogram(ds: Dataset) -> pd.DataFrame:
    """Per category: ``name``, ``annotations`` and ``images`` counts (index category_id, all classes)."""
    anns = ds.annotations
    counts = anns["category_id"].value_counts()
    images = anns.drop_duplicates(["image_id", "category_id"])["category_id"].value_counts()
    ids = ds.categories.index.union(counts.index)
    names = ds.categories["name"].astype(object).reindex(ids)
    names = names.where(names.notna(), pd.Series([f"<id {i}>" for i in ids], index=ids))
    return pd.DataFrame(
        {
            "name": names.to_numpy(),
            "annotations": counts.reindex(ids, fill_value=0).to_numpy(dtype=np.int64),
            "images": images.reindex(ids, fill_value=0).to_numpy(dtype=np.int64),
        },
        index=pd.Index(ids, name="category_id"),
    )


def check_class_imbalance(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``class-imbalance`` (info): the most frequent class outnumbers the least frequent used one."""
    ctx = CheckContext.of(arg)
    hist = class_histogram(ctx.ds)
    used = hist[hist["annotations"] > 0].sort_values("annotations", kind="stable")
    if len(used) < 2:
        return empty_findings()
    low, high = used.iloc[0], used.iloc[-1]
    ratio = high["annotations"] / low["annotations"]
    if ratio <= ctx.thresholds.imbalance_ratio:
        return empty_findings()
    return _findings(
        "class-imbalance",
        f"class {high['name']!r} has {high['annotations']:,} annotations, {ratio:.1f}x the "
        f"{low['annotations']:,} of {low['name']!r}",
        hint="Collect more of the rare classes, or weight/sample them in training",
    )


def check_manifest(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``manifest-mismatch``: the dataset differs from its manifest's format or class list."""
    ctx = CheckContext.of(arg)
    manifest = ctx.manifest or {}
    frames = []
    fmt = manifest.get("format")
    if fmt and ctx.format and fmt != ctx.format:
        frames.append(
            _findings(
                "manifest-mismatch",
                f"manifest says format {fmt!r} but the dataset reads as {ctx.format!r}",
                record="format",
                hint="Fix the manifest, or pass --from",
            )
        )
    classes = manifest.get("classes")
    if classes is not None:
        have = ctx.ds.categories["name"].astype(object).tolist()
        missing = [c for c in classes if c not in set(have)]
        extra = [c for c in have if c not in set(classes)]
        if missing:
            frames.append(
                _findings(
                    "manifest-mismatch",
                    f"classes in the manifest but not in the dataset: {', '.join(map(repr, missing))}",
                    record="classes",
                    hint="Add the classes to the labels, or remove them from the manifest",
                )
            )
        if extra:
            frames.append(
                _findings(
                    "manifest-mismatch",
                    f"classes in the dataset but not in the manifest: {', '.join(map(repr, extra))}",
                    record="classes",
                    hint="Add them to the manifest, or fix the labels",
                )
            )
    return _concat(frames)


def check_split_ratio(arg: CheckContext | Dataset) -> pd.DataFrame:
    """``split-ratio``: a split the manifest expects is missing, or its share of images is off."""
    ctx = CheckContext.of(arg)
    manifest = ctx.manifest or {}
    expected = manifest.get("splits")
    if not expected:
        return empty_findings()
    counts = ctx.ds.images["split"].astype(object).value_counts()
    total = max(len(ctx.ds.images), 1)
    ratios = expected if isinstance(expected, dict) else dict.fromkeys(expected)
    tol = float(manifest.get("split_tolerance", 0.05))
    messages = []
    for name, want in ratios.items():
        n = int(counts.get(name, 0))
        if n == 0:
            messages.append(f"split {name!r} has no images")
        elif want is not None and abs(n / total - float(want)) > tol:
            messages.append(
                f"split {name!r} has {n / total:.1%} of the images ({n:,}); the manifest expects {float(want):.1%}"
            )
    extra = sorted(set(counts.index) - set(ratios))
    if extra:
        messages.append(f"splits not in the manifest: {', '.join(map(repr, extra))}")
    return (
        _findings(
            "split-ratio",
            messages,
            record="splits",
            hint="Re-split (dataprep split) or update the manifest",
        )
        if messages
        else empty_findings()
    )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_findings()
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


# -- registry ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One rule: its stable code, default severity, function and what it needs."""

    code: str
    severity: Severity
    description: str
    func: Callable[[CheckContext], pd.DataFrame] | None = None  # None: findings come from elsewhere
    needs_images: bool = False
    needs_manifest: bool = False
    # True: applies only to formats whose `ValidationHooks.checks` list the code
    format_specific: bool = False


E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
_RULES = [
    Check("unreadable-input", E, "records the reader could not parse (skipped)"),
    Check("schema-violation", E, "metadata documents (COCO top level, data.yaml, manifest) against schemas/"),
    Check("invalid-record", E, "a record with a field of the wrong type (reported by the reader, skipped)"),
    Check("duplicate-id", E, "an id used twice in the labels (reported by the reader)"),
    Check("duplicate-category-name", E, "two classes with one name (reported by the reader)"),
    Check("label-without-image", E, "a label file with no image (reported by the reader)"),
    Check("bad-label-line", E, "a YOLO label line that does not parse (reported by the reader)"),
    Check("unreadable-label", E, "a label file that cannot be read: binary, not UTF-8 (reported by the reader)"),
    Check("bad-config", E, "a data.yaml/obj.data the reader cannot use (reported by the reader)"),
    Check("missing-split", E, "a split named by the config whose images are missing (reported by the reader)"),
    Check("image-missing", E, "image file named by the labels does not exist", check_image_missing, needs_images=True),
    Check("image-unreadable", E, "image header cannot be read", check_image_unreadable, needs_images=True),
    Check("image-corrupt", E, "image pixels do not decode (with --decode)", check_image_corrupt, needs_images=True),
    Check("size-mismatch", E, "image size in the labels differs from the file", check_size_mismatch, needs_images=True),
    Check("exif-rotation", W, "EXIF orientation swaps width and height", check_exif_rotation, needs_images=True),
    Check("duplicate-image", W, "identical image files in one split", check_duplicate_image, needs_images=True),
    Check("split-leak", E, "the same image or leak group in two splits", check_split_leak),
    Check("box-non-finite", E, "NaN or infinite box coordinate", check_box_non_finite),
    Check("box-missing", W, "object without box or mask in a detection dataset", check_box_missing),
    Check("box-inverted", E, "x_max < x_min or y_max < y_min", check_box_inverted),
    Check("box-zero-area", E, "box with zero width or height", check_box_zero_area),
    Check("box-outside-image", E, "box reaching outside the image", check_box_outside_image),
    Check(
        "yolo-out-of-range", E, "YOLO normalized value outside [0, 1]", check_yolo_out_of_range, format_specific=True
    ),
    Check("box-tiny", W, "box side below thresholds.min_box_side", check_box_tiny),
    Check("box-aspect-ratio", W, "box aspect ratio above thresholds.max_aspect_ratio", check_box_aspect_ratio),
    Check("duplicate-annotation", W, "same image, class and box twice", check_duplicate_annotation),
    Check("dangling-image", E, "annotation of an image that does not exist", check_dangling_image),
    Check("dangling-category", E, "annotation of a class that does not exist", check_dangling_category),
    Check("duplicate-file-name", E, "two image records for one file", check_duplicate_file_name),
    Check("coco-string-id", W, "COCO image ids written as strings, renumbered (reported by the reader)"),
    Check("coco-id-zero", W, "id 0 in COCO input (pycocotools, torchvision)", check_coco_id_zero, format_specific=True),
    Check("unused-category", W, "class without annotations", check_unused_category),
    Check("similar-category-names", W, "class names equal up to case or spacing", check_similar_category_names),
    Check("polygon-invalid", E, "polygon with < 3 points, zero area or NaN", check_polygon_invalid),
    Check("polygon-self-intersection", W, "polygon outline crossing itself", check_polygon_self_intersection),
    Check("rle-size-mismatch", E, "RLE mask size differs from the image", check_rle_size_mismatch),
    Check("crowd-without-mask", W, "iscrowd without a segmentation", check_crowd_without_mask),
    Check("manifest-mismatch", E, "format or classes differ from the manifest", check_manifest, needs_manifest=True),
    Check("split-ratio", W, "expected splits missing or off their ratio", check_split_ratio, needs_manifest=True),
    Check("image-without-labels", INFO, "image with no annotations", check_image_without_labels),
    Check("size-unknown", INFO, "boxes on images of unknown size (bounds unchecked)", check_size_unknown),
    Check("class-imbalance", INFO, "most / least frequent class above the imbalance ratio", check_class_imbalance),
]
CHECKS: dict[str, Check] = {rule.code: rule for rule in _RULES}

# Codes readers report that no check row stands for: a report lists them only when found
# (severity error, "reported by the reader"). A new reader code goes here or into `_RULES`;
# tests/validation/test_codes.py keeps both in step with the code and the report schema.
READER_CODES: dict[str, str] = {
    "unsafe-file-name": "an image file name that could escape the dataset folder ('..', absolute, drive)",
    "file-name-encoding": "a file name that is not valid UTF-8",
    "bad-file-name": "a label row whose image file name is empty or unusable",
    "split-conflict": "one image listed in two splits",
}
