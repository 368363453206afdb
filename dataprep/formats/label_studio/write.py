"""Rows -> a Label Studio import: `plan` (what Label Studio cannot hold) and `write`, on one `_prepare`.

Output: ``tasks.json`` (one task per image: ``id`` = ``image_id``, ``data.image`` =
``url_prefix + file_name``, the objects as ``annotations[0].result``), ``label_config.xml``
(an ``<Image name="image">`` and one control tag per kind used, each listing every category),
and the images at their ``file_name`` paths. Set ``LOCAL_FILES_DOCUMENT_ROOT`` to the output
folder (and local files serving on) for Label Studio to show them.

Objects, in percent of the image: a box -> ``rectanglelabels``; a 4-corner polygon with
``attributes["rotation"]`` -> a rotated ``rectanglelabels`` (about its top-left corner); other
polygons -> ``polygonlabels`` (one result per part); an RLE -> ``brushlabels``; kept points ->
``keypointlabels`` (one per point); polylines -> their box (a loss); image-level labels ->
``choices``. Images without a size cannot hold percent values: their objects are dropped (a loss).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import UsageError
from dataprep.files import member_paths
from dataprep.formats.base import MAX_EXAMPLES, Capabilities, Loss, WriteReport, place_images, plan_losses
from dataprep.formats.label_studio import brush
from dataprep.formats.label_studio.layout import CONFIG_FILE, LOCAL_FILES_PREFIX, TASKS_FILE

CAPABILITIES = Capabilities(boxes=True, polygons=True, rle=True, attributes=True, image_level_labels=True, splits=False)
_KEPT_KEYS = frozenset({"rotation", "shape_type", "points"})
# control tag per result type: (tag, name, label element)
CONTROLS = {
    "rectanglelabels": ("RectangleLabels", "label", "Label"),
    "polygonlabels": ("PolygonLabels", "polygon", "Label"),
    "brushlabels": ("BrushLabels", "brush", "Label"),
    "keypointlabels": ("KeyPointLabels", "keypoint", "Label"),
    "choices": ("Choices", "choice", "Choice"),
}


@dataclass
class Prepared:
    """What `plan` reports and `write` renders."""

    image_names: list[str]
    class_names: pd.Series
    url_prefix: str


def _ids(values: Any) -> list[int]:
    return [int(i) for i in list(values)[:MAX_EXAMPLES]]


# object kinds Label Studio cannot hold as they are: code -> (test on (attributes, segmentation), message)
_OBJECT_LOSSES: dict[str, tuple[Any, str]] = {
    "attributes-dropped": (
        lambda a, s: any(k not in _KEPT_KEYS for k in a),
        "label-studio holds no per-object attributes (rotation kept)",
    ),
    "polyline-to-box": (
        lambda a, s: s is None and a.get("shape_type") in ("polyline", "line", "linestrip"),
        "label-studio has no polylines on images: their boxes written",
    ),
    "points-split": (
        lambda a, s: s is None and a.get("shape_type") in ("points", "point") and len(a.get("points") or ()) > 1,
        "label-studio keypoints hold one point: one result per point (read back as separate objects)",
    ),
    "polygon-parts-split": (
        lambda a, s: isinstance(s, list) and len(s) > 1,
        "label-studio polygons have one part: one result per part",
    ),
}


def _prepare(ds: Dataset, *, url_prefix: str = LOCAL_FILES_PREFIX, **options: Any) -> tuple[Prepared, list[Loss]]:
    if options:
        raise UsageError(f"label-studio writer: unknown option(s) {', '.join(sorted(options))}; known: url_prefix")
    names = [str(n) for n in ds.images["file_name"].astype(object)]
    member_paths("", names)  # refuses unsafe names before anything is written
    losses = plan_losses(ds, CAPABILITIES, format_name="label-studio") + _object_losses(ds)
    anns = ds.annotations
    unsized = ds.images.index[(ds.images["width"].isna() | ds.images["height"].isna()).to_numpy()]
    boxed = anns[anns["image_id"].isin(unsized).to_numpy() & anns["x_min"].notna().to_numpy()].index
    if len(boxed):
        message = "percent values need the image size: objects of unsized images dropped (probe the images first)"
        losses.append(Loss("image-size-unknown", message, len(boxed), _ids(boxed)))
    split = ds.images.index[ds.images["split"].notna().to_numpy()]
    if len(split):
        losses.append(Loss("split-dropped", "label-studio tasks have no splits", len(split), _ids(split), unit="image"))
    cats = ds.categories["name"].astype(object)
    dangling = ~anns["category_id"].isin(cats.index).to_numpy()
    if dangling.any():
        ids = anns.index[dangling]
        losses.append(Loss("dangling-category-dropped", "objects of unknown categories dropped", len(ids), _ids(ids)))
    return Prepared(names, cats, url_prefix), losses


def _object_losses(ds: Dataset) -> list[Loss]:
    """The `_OBJECT_LOSSES` met in `ds`, one pass over the objects with attributes or segmentations."""
    anns = ds.annotations
    found: dict[str, list[int]] = {code: [] for code in _OBJECT_LOSSES}
    for ann_id, attrs, seg in zip(anns.index, anns["attributes"], anns["segmentation"], strict=True):
        if attrs is None and seg is None:
            continue
        attrs = attrs if isinstance(attrs, dict) else {}
        for code, (test, _) in _OBJECT_LOSSES.items():
            if test(attrs, seg):
                found[code].append(int(ann_id))
    return [Loss(code, _OBJECT_LOSSES[code][1], len(ids), _ids(ids)) for code, ids in found.items() if ids]


def plan(ds: Dataset, **options: Any) -> list[Loss]:
    """What writing `ds` for Label Studio would drop (attributes but rotation, splits, scores, polylines...)."""
    return _prepare(ds, **options)[1]


def write(
    ds: Dataset, out_dir: Path, *, images: str = "copy", url_prefix: str = LOCAL_FILES_PREFIX, **options: Any
) -> WriteReport:
    """Write `ds` as a Label Studio import (``tasks.json`` + ``label_config.xml``) into `out_dir`.

    Args:
        url_prefix: put before each ``file_name`` in ``data.image`` (Label Studio's local files URL).
    """
    import orjson

    prepared, _ = _prepare(ds, url_prefix=url_prefix, **options)
    out = Path(out_dir)
    anns = ds.annotations[ds.annotations["category_id"].isin(prepared.class_names.index).to_numpy()]
    image_ids = anns["image_id"].to_numpy()
    starts = np.searchsorted(image_ids, ds.images.index.to_numpy(), side="left")
    stops = np.searchsorted(image_ids, ds.images.index.to_numpy(), side="right")
    labels = prepared.class_names.reindex(anns["category_id"]).tolist()
    xyxy = anns[BOX_COLUMNS].to_numpy(dtype=np.float64)
    segs, attrs, ann_ids = anns["segmentation"].tolist(), anns["attributes"].tolist(), anns.index.tolist()
    widths, heights = ds.images["width"].tolist(), ds.images["height"].tolist()
    used: set[str] = set()
    tasks, written = [], 0
    for k, image_id in enumerate(ds.images.index.tolist()):
        size_wh = None if pd.isna(widths[k]) or pd.isna(heights[k]) else (int(widths[k]), int(heights[k]))
        results: list[dict[str, Any]] = []
        for r in range(starts[k], stops[k]):
            if size_wh is None and not np.isnan(xyxy[r, 0]):
                continue
            new = _results(labels[r], xyxy[r], segs[r], attrs[r], size_wh or (0, 0), ann_ids[r])
            results += new
            written += 1
        used.update(res["type"] for res in results)
        task: dict[str, Any] = {"id": int(image_id), "data": {"image": prepared.url_prefix + prepared.image_names[k]}}
        if results:
            task["annotations"] = [{"result": results}]
        tasks.append(task)
    (out / TASKS_FILE).write_bytes(orjson.dumps(tasks, option=orjson.OPT_INDENT_2) + b"\n")
    (out / CONFIG_FILE).write_text(label_config(prepared.class_names.tolist(), used), encoding="utf-8")
    placed, missing = place_images(ds, member_paths(out, prepared.image_names), images)
    return WriteReport(
        "label-studio",
        str(out_dir),
        len(ds.images),
        written,
        len(ds.categories),
        placed,
        missing,
        options={"url_prefix": url_prefix},
    )


def label_config(names: list[str], used: set[str]) -> str:
    """A label config: an image and one control tag per result type in `used` (boxes when none)."""
    from xml.sax.saxutils import quoteattr  # here: saxutils imports urllib.request (~6 ms a start)

    lines = ["<View>", '  <Image name="image" value="$image"/>']
    for kind, (tag, name, item) in CONTROLS.items():
        if kind not in used and not (kind == "rectanglelabels" and not used):
            continue
        extra = ' choice="multiple"' if kind == "choices" else ""
        lines.append(f'  <{tag} name="{name}" toName="image"{extra}>')
        lines += [f"    <{item} value={quoteattr(str(n))}/>" for n in names]
        lines.append(f"  </{tag}>")
    return "\n".join([*lines, "</View>", ""])


def _result(kind: str, value: dict[str, Any], size_wh: tuple[int, int], rid: str) -> dict[str, Any]:
    return {
        "id": rid,
        "type": kind,
        "from_name": CONTROLS[kind][1],
        "to_name": "image",
        "original_width": size_wh[0],
        "original_height": size_wh[1],
        "image_rotation": 0,
        "value": value,
    }


def _results(label: str, xyxy: np.ndarray, seg: Any, attrs: Any, size_wh: tuple[int, int], ann_id: int) -> list[dict]:
    """The Label Studio results of one object (percent of the image); ids ``a<annotation_id>[_<part>]``."""
    attrs = attrs if isinstance(attrs, dict) else {}
    rid = f"a{ann_id}"
    if np.isnan(xyxy[0]):
        return [_result("choices", {"choices": [label]}, size_wh, rid)]
    scale = np.array([100.0 / size_wh[0], 100.0 / size_wh[1]])
    if seg is None and attrs.get("shape_type") in ("points", "point") and attrs.get("points"):
        pts = (np.asarray(attrs["points"], dtype=np.float64).reshape(-1, 2) * scale).tolist()
        values = [{"x": x, "y": y, "width": 0.5, "keypointlabels": [label]} for x, y in pts]
        return _parts("keypointlabels", values, size_wh, rid)
    if isinstance(seg, dict):
        from dataprep.geometry import rle_decode

        value = {"format": "rle", "rle": brush.encode(rle_decode(seg).astype(bool)), "brushlabels": [label]}
        return [_result("brushlabels", value, size_wh, rid)]
    rotation = attrs.get("rotation")
    if isinstance(seg, list) and len(seg) == 1 and isinstance(rotation, int | float) and len(seg[0]) == 4:
        corners = np.asarray(seg[0], dtype=np.float64)  # TL, TR, BR, BL: rotated about TL, Label Studio's pivot
        size = [float(np.hypot(*(corners[1] - corners[0]))), float(np.hypot(*(corners[2] - corners[1])))]
        return [_result("rectanglelabels", _rectangle(corners[0], size, scale, float(rotation), label), size_wh, rid)]
    if isinstance(seg, list) and seg:
        values = [
            {"points": (np.asarray(p, dtype=np.float64) * scale).tolist(), "closed": True, "polygonlabels": [label]}
            for p in seg
        ]
        return _parts("polygonlabels", values, size_wh, rid)
    if not np.isfinite(xyxy).all():
        return []
    return [_result("rectanglelabels", _rectangle(xyxy[:2], xyxy[2:] - xyxy[:2], scale, 0, label), size_wh, rid)]


def _rectangle(top_left: Any, size: Any, scale: np.ndarray, rotation: float, label: str) -> dict[str, Any]:
    x, y = (np.asarray(top_left, dtype=np.float64) * scale).tolist()
    w, h = (np.asarray(size, dtype=np.float64) * scale).tolist()
    return {"x": x, "y": y, "width": w, "height": h, "rotation": rotation, "rectanglelabels": [label]}


def _parts(kind: str, values: list[dict[str, Any]], size_wh: tuple[int, int], rid: str) -> list[dict[str, Any]]:
    """One result per value; ids get ``_<part>`` when there are several."""
    return [_result(kind, v, size_wh, f"{rid}_{i}" if len(values) > 1 else rid) for i, v in enumerate(values)]
