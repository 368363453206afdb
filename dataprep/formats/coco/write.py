"""COCO rows to bytes: ``annotations/instances_<split>.json`` + ``images/<split>/``.

`plan` and `write` both start from `_prepare`, which decides once which annotations can be
written (a box, or a segmentation to derive one from) and what that drops, so the plan is what
the writer does. Image sizes missing from the tables are read from the image files by `write`
only (a plan reads no image); images whose size stays unknown are reported by the writer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep._gc import gc_paused
from dataprep.boxes import shortest_size
from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import InputError, OutputError, UsageError
from dataprep.files import clean_members, member_paths
from dataprep.formats.base import (
    MAX_EXAMPLES,
    Capabilities,
    Loss,
    WriteReport,
    image_layout,
    place_images,
    plan_losses,
)
from dataprep.formats.coco.fields import CATEGORY_KEYS, EXTRA_KEY, IMAGE_KEYS, TABLE_KEYS, shape_xyxy
from dataprep.formats.coco.layout import DEFAULT_SPLIT_NAME

CAPABILITIES = Capabilities(
    boxes=True,
    polygons=True,
    rle=True,
    crowd=True,
    scores=True,
    attributes=True,
    image_attributes=True,
    image_level_labels=False,
    float_coordinates=True,
    keypoints=True,
    splits=True,
    groups=False,
    info=True,
    supercategories=True,
)
_OPTIONS = ("indent",)


@dataclass(frozen=True)
class Prepared:
    """What `write` will write, decided once for `plan` and `write`.

    Attributes:
        written: ``(N,)`` bool per row of ``ds.annotations`` (table order): the annotation has a
            box, or a segmentation its box is derived from; the others are dropped.
        indent: 2-space indented JSON instead of compact.
    """

    written: npt.NDArray[np.bool_]
    indent: bool


def _prepare(ds: Dataset, *, indent: bool = False, **options: Any) -> tuple[Prepared, list[Loss]]:
    """Decide which annotations `write` keeps, and list what it drops.

    The losses are the generic plan's, except that a box derived from a segmentation saves a
    label: only annotations with neither are dropped (``image-label-dropped``).

    Raises:
        UsageError: an unknown option.
    """
    if options:
        raise UsageError(f"coco writer: unknown option(s) {', '.join(sorted(options))}; known: indent")
    anns = ds.annotations
    xyxy = anns[BOX_COLUMNS].to_numpy(dtype=np.float64)
    written = np.ones(len(anns), bool)
    segs = anns["segmentation"]
    for r in np.flatnonzero(np.isnan(xyxy).any(axis=1)).tolist():
        written[r] = _has_shape(segs.iat[r])
    losses = [loss for loss in plan_losses(ds, CAPABILITIES, format_name="coco") if loss.code != "image-label-dropped"]
    dropped = anns.index[~written]
    if len(dropped):
        losses.append(
            Loss(
                "image-label-dropped",
                "coco needs a box per object: labels without a box or segmentation dropped",
                len(dropped),
                [int(i) for i in dropped[:MAX_EXAMPLES]],
            )
        )
    return Prepared(written, indent), losses


def plan(ds: Dataset, **options: Any) -> list[Loss]:
    """What `write` with these options drops (image sizes it cannot find on disk aside)."""
    return _prepare(ds, **options)[1]


def write(ds: Dataset, out_dir: Path, *, images: str = "copy", indent: bool = False, **options: Any) -> WriteReport:
    """Write `ds` as ``annotations/instances_<split>.json`` + ``images/<split>/`` into `out_dir`.

    A dataset without splits gives ``annotations/instances_default.json`` + ``images/``. Ids
    are kept; boxes are written as xywh with the float noise of the xyxy storage removed;
    ``area`` is the stated one, else the mask area (pycocotools) for segmentations, else the
    box area; ``segmentation`` is ``[]`` when there is none; scores only where present.
    Output is deterministic: rows sorted by id, fixed key order, compact UTF-8 JSON (``indent``
    gives 2-space indentation).

    Raises:
        OutputError: a file name or split name would escape `out_dir` (absolute or ``..``).
        UsageError: an unknown option.
    """
    prepared, _ = _prepare(ds, indent=indent, **options)
    out_dir = Path(out_dir)
    with gc_paused():
        files = _output_files(ds, out_dir)
        width, height, losses = _image_sizes(ds)
        image_records = _image_records(ds, files.names, width, height)
        ann_records, ann_keys = _annotation_records(ds, prepared, width, height, files.keys, next(iter(files.json)))
        (out_dir / "annotations").mkdir(parents=True, exist_ok=True)
        _dump(ds, files, image_records, ann_keys, ann_records, _category_records(ds), indent=prepared.indent)
        placed, missing = place_images(ds, files.images, images)
    return WriteReport(
        format="coco",
        path=str(out_dir),
        images=len(ds.images),
        annotations=len(ann_records),
        categories=len(ds.categories),
        images_transferred=placed,
        images_missing=missing,
        losses=losses,
        options={"images": images, "indent": indent},
    )


@dataclass(frozen=True)
class _OutputFiles:
    """Where everything goes: per image its split key and name in the json, the json file per split key."""

    keys: list[str]  # per image: "" when the dataset has no splits
    names: list[str]  # per image: ``file_name`` in the json, relative to its split's image folder
    json: dict[str, Path]  # split key -> annotations/instances_<split>.json (at least one file)
    images: list[str]  # per image: its destination


def _output_files(ds: Dataset, out_dir: Path) -> _OutputFiles:
    """The output paths, all checked by `files.clean_members`.

    Raises:
        OutputError: an image's file name or a split name would escape `out_dir`.
    """
    _, bad = clean_members(ds.images["file_name"])
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        image_id, name = ds.images.index[r], ds.images["file_name"].iat[r]
        raise OutputError(
            f"{out_dir}: refusing to write image {image_id}: its file name {name!r} escapes the dataset folder "
            "or names no file (absolute, '..', a drive, NUL or empty). Fix the file name first."
        )
    layout = image_layout(ds)
    keys, names = layout["split"].tolist(), layout["name"].tolist()
    json_names = {k: f"instances_{k or DEFAULT_SPLIT_NAME}.json" for k in dict.fromkeys(keys)}
    json_names = json_names or {"": f"instances_{DEFAULT_SPLIT_NAME}.json"}
    json_paths = member_paths(out_dir, [f"annotations/{n}" for n in json_names.values()])
    image_paths = member_paths(
        out_dir, [f"images/{k}/{n}" if k else f"images/{n}" for k, n in zip(keys, names, strict=True)]
    )
    return _OutputFiles(keys, names, dict(zip(json_names, map(Path, json_paths), strict=True)), image_paths)


def _image_sizes(ds: Dataset) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], list[Loss]]:
    """``(N,)`` float64 width and height per image (NaN when unknown), read from the image file
    where the table has none; and the loss for images whose size stays unknown (not written)."""
    img = ds.images
    width = img["width"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    height = img["height"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    unknown = np.flatnonzero(np.isnan(width) | np.isnan(height))
    if not len(unknown):
        return width, height, []
    from dataprep.files import probe_image

    for r in unknown.tolist():
        try:
            header = probe_image(ds.resolve(img["file_name"].iat[r]))
        except InputError:
            continue
        width[r], height[r] = header.width, header.height
    still = np.flatnonzero(np.isnan(width) | np.isnan(height))
    if not len(still):
        return width, height, []
    loss = Loss(
        "image-size-unknown",
        "coco images need width and height: unknown for these images (not written)",
        len(still),
        [int(i) for i in img.index[still][:MAX_EXAMPLES]],
        unit="image",
    )
    return width, height, [loss]


def _image_records(
    ds: Dataset, names: list[str], width: npt.NDArray[np.float64], height: npt.NDArray[np.float64]
) -> list[dict[str, Any]]:
    img = ds.images
    records = []
    for image_id, name, w, h, attrs in zip(
        img.index.tolist(), names, width.tolist(), height.tolist(), img["attributes"].tolist(), strict=True
    ):
        rec: dict[str, Any] = {"id": image_id, "file_name": name}
        if not math.isnan(w) and not math.isnan(h):
            rec["width"], rec["height"] = int(w), int(h)
        if isinstance(attrs, dict):
            rec.update((k, v) for k, v in attrs.items() if k not in IMAGE_KEYS)
        records.append(rec)
    return records


def _annotation_records(
    ds: Dataset,
    prepared: Prepared,
    width: npt.NDArray[np.float64],
    height: npt.NDArray[np.float64],
    image_keys: list[str],
    first_key: str,
) -> tuple[list[dict[str, Any]], list[str]]:
    """The written annotations in annotation id order, and the split key of each (its json file).

    Annotations of an image not in the table (dangling ``image_id``) go to the first file.
    """
    anns, written = ds.annotations, prepared.written
    if len(anns) and not anns.index.is_monotonic_increasing:  # the model keeps (image_id, annotation_id) order
        order = np.argsort(anns.index.to_numpy(), kind="stable")
        anns, written = anns.iloc[order], written[order]
    xyxy = anns[BOX_COLUMNS].to_numpy(dtype=np.float64).copy()
    segs = anns["segmentation"].tolist()
    for r in np.flatnonzero(np.isnan(xyxy).any(axis=1) & written).tolist():
        xyxy[r] = shape_xyxy(segs[r])
    w_out = shortest_size(xyxy[:, 0], xyxy[:, 2])
    h_out = shortest_size(xyxy[:, 1], xyxy[:, 3])
    area = _areas(anns, written, segs, w_out * h_out, pd.DataFrame({"w": width, "h": height}, index=ds.images.index))
    split_of = pd.Series(image_keys, index=ds.images.index, dtype=object)
    ann_split = anns["image_id"].map(split_of).to_numpy(dtype=object)
    ann_split = np.where(pd.isna(ann_split), first_key, ann_split)
    columns = zip(
        anns.index.tolist(),
        anns["image_id"].tolist(),
        anns["category_id"].tolist(),
        xyxy[:, 0].tolist(),
        xyxy[:, 1].tolist(),
        w_out.tolist(),
        h_out.tolist(),
        area.tolist(),
        anns["iscrowd"].tolist(),
        segs,
        anns["score"].tolist(),
        anns["attributes"].tolist(),
        strict=True,
    )
    records = [_annotation_record(*row) for row, ok in zip(columns, written.tolist(), strict=True) if ok]
    return records, ann_split[written].tolist()


def _areas(
    anns: pd.DataFrame, written: npt.NDArray[np.bool_], segs: list[Any], box_area: npt.NDArray[np.float64], sizes: Any
) -> npt.NDArray[np.float64]:
    """``(N,)`` float64 area: the stated one, else the mask area of a segmentation, else the box area."""
    area = anns["area"].to_numpy(dtype=np.float64).copy()
    need_area = np.flatnonzero(np.isnan(area) & written)
    if not len(need_area):
        return area
    img_w = anns["image_id"].map(sizes["w"]).to_numpy(dtype=np.float64, na_value=np.nan)
    img_h = anns["image_id"].map(sizes["h"]).to_numpy(dtype=np.float64, na_value=np.nan)
    shaped = [r for r in need_area.tolist() if _has_shape(segs[r])]
    area[need_area] = box_area[need_area]
    area[shaped] = _mask_areas([segs[r] for r in shaped], img_w[shaped], img_h[shaped])
    return area


def _annotation_record(
    ann_id: int,
    image_id: int,
    category_id: int,
    x: float,
    y: float,
    w: float,
    h: float,
    area: float,
    crowd: bool,
    seg: Any,
    score: float,
    attrs: Any,
) -> dict[str, Any]:
    rec = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        "bbox": [x, y, w, h],
        "area": area,
        "iscrowd": int(crowd),
        "segmentation": _segmentation_out(seg),
    }
    if not math.isnan(score):
        rec["score"] = score
    if isinstance(attrs, dict):
        extra = attrs.get(EXTRA_KEY)
        user = {k: v for k, v in attrs.items() if k != EXTRA_KEY}
        if user or EXTRA_KEY not in attrs:
            rec["attributes"] = user
        if isinstance(extra, dict):
            rec.update((k, v) for k, v in extra.items() if k not in rec)
    elif attrs is not None and not (isinstance(attrs, float) and math.isnan(attrs)):
        rec["attributes"] = attrs
    return rec


def _category_records(ds: Dataset) -> list[dict[str, Any]]:
    cats = ds.categories
    records = []
    for category_id, name, sup, attrs in zip(
        cats.index.tolist(),
        cats["name"].tolist(),
        cats["supercategory"].tolist(),
        cats["attributes"].tolist(),
        strict=True,
    ):
        rec = {"id": category_id, "name": name}
        if isinstance(sup, str):
            rec["supercategory"] = sup
        if isinstance(attrs, dict):
            rec.update((k, v) for k, v in attrs.items() if k not in CATEGORY_KEYS)
        records.append(rec)
    return records


def _dump(
    ds: Dataset,
    files: _OutputFiles,
    image_records: list[dict[str, Any]],
    ann_keys: list[str],
    ann_records: list[dict[str, Any]],
    category_records: list[dict[str, Any]],
    *,
    indent: bool,
) -> None:
    """One json file per split: top-level extras (info, licenses first), categories, images, annotations."""
    import orjson

    top = {k: v for k, v in ds.info.items() if k not in TABLE_KEYS}
    ordered_top = {k: top[k] for k in ("info", "licenses") if k in top}
    ordered_top.update((k, top[k]) for k in sorted(top, key=str) if k not in ordered_top)
    option = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE
    if indent:
        option |= orjson.OPT_INDENT_2
    by_split_images: dict[str, list[dict[str, Any]]] = {k: [] for k in files.json}
    for k, rec in zip(files.keys, image_records, strict=True):
        by_split_images[k].append(rec)
    by_split_anns: dict[str, list[dict[str, Any]]] = {k: [] for k in files.json}
    for k, rec in zip(ann_keys, ann_records, strict=True):
        by_split_anns[k].append(rec)
    for k, dest in files.json.items():
        doc = {
            **ordered_top,
            "categories": category_records,
            "images": by_split_images[k],
            "annotations": by_split_anns[k],
        }
        dest.write_bytes(orjson.dumps(doc, default=_json_default, option=option))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _has_shape(seg: Any) -> bool:
    """True for an RLE dict or a non-empty list of polygons (the model's segmentation forms)."""
    return isinstance(seg, dict) or (isinstance(seg, list) and len(seg) > 0)


def _segmentation_out(seg: Any) -> Any:
    if seg is None or (isinstance(seg, float) and math.isnan(seg)):
        return []
    if isinstance(seg, dict):
        counts = seg.get("counts")
        if isinstance(counts, bytes):
            return {**seg, "counts": counts.decode("ascii")}
        return seg
    return [np.asarray(p, dtype=np.float64).ravel().tolist() for p in seg]


def _mask_areas(
    segs: list[Any], widths: npt.NDArray[np.float64], heights: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """pycocotools' area of each polygon or RLE segmentation (what COCO's ``area`` holds).

    Polygons are rasterized in one `frPyObjects` call per image size (a call per annotation
    cost 9 µs each: 0.15 s of a 10,000-image LabelMe -> COCO run); the parts of a multi-part
    polygon are merged first, so overlapping parts count once.
    """
    from pycocotools import mask as mask_utils

    from dataprep import geometry

    out = np.zeros(len(segs))
    by_size: dict[tuple[int, int], list[tuple[int, list[list[float]]]]] = {}
    for k, (seg, width, height) in enumerate(zip(segs, widths.tolist(), heights.tolist(), strict=True)):
        if isinstance(seg, dict):
            out[k] = geometry.rle_area(seg)
            continue
        # Parts under 3 points have no area, and pycocotools would read a first part of 4 values
        # as a [x, y, w, h] box: leave them out.
        flat = [part for part in (np.asarray(p, dtype=np.float64).ravel().tolist() for p in seg) if len(part) >= 6]
        if not flat:
            continue
        if not (width > 0 and height > 0):  # size unknown: a canvas that holds the polygon
            pts = np.asarray([v for part in flat for v in part]).reshape(-1, 2)
            width, height = math.ceil(pts[:, 0].max()) + 1, math.ceil(pts[:, 1].max()) + 1
        by_size.setdefault((int(height), int(width)), []).append((k, flat))
    for (height, width), items in by_size.items():
        rles = mask_utils.frPyObjects([part for _, flat in items for part in flat], height, width)
        # pycocotools' area() builds np.array((n,), dtype=uint8): n > 255 overflows under numpy 2
        part_areas = np.concatenate([mask_utils.area(rles[i : i + 255]) for i in range(0, len(rles), 255)])
        start = 0
        for k, flat in items:
            n = len(flat)
            out[k] = part_areas[start] if n == 1 else mask_utils.area(mask_utils.merge(rles[start : start + n]))
            start += n
    return out
