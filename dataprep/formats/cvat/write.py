"""Rows -> CVAT for images 1.1: `plan` (what CVAT cannot hold) and `write`, both on one `_prepare`.

Output: ``annotations.xml`` (``<meta><task>`` with every category as a ``<label>`` and its
attribute specs) and the images under ``images/`` (``images/<split>/`` when the dataset has
splits; each ``<image>`` then carries ``subset``, as CVAT's project exports do). Objects: a box ->
``<box>``; a polygon with ``attributes["rotation"]`` and 4 corners -> a rotated ``<box>``; other
polygons -> ``<polygon>`` (several parts -> several polygons sharing a ``group_id``, a loss); an
RLE -> ``<mask>``; kept ``shape_type``/``points`` -> ``<polyline>``/``<points>``; an image-level
label -> ``<tag>``. ``occluded``, ``z_order`` and ``group_id`` attributes become the shape's xml
attributes; other scalar attributes ``<attribute>`` children (specs inferred when the category
has none: bool -> checkbox, number -> number, text -> text). Coordinates are written in full
(shortest round-trip form), not CVAT's 2 decimals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import UsageError
from dataprep.files import member_paths
from dataprep.formats.base import (
    MAX_EXAMPLES,
    Capabilities,
    Loss,
    WriteReport,
    image_layout,
    place_images,
    plan_losses,
)
from dataprep.formats.cvat.layout import IMAGES_DIR, PROJECT_FILE

CAPABILITIES = Capabilities(boxes=True, polygons=True, rle=True, attributes=True, image_level_labels=True, splits=True)
_SHAPE_KEYS = frozenset({"occluded", "z_order", "group_id", "rotation", "shape_type", "points"})


@dataclass
class Prepared:
    """What `plan` reports and `write` renders: output image paths, names in the xml, label specs."""

    image_paths: list[str]  # relative to the output folder
    xml_names: list[str]  # <image name=...>: the path below images/[<split>/]
    subsets: list[str | None]
    label_specs: dict[int, list[dict[str, Any]]]  # category_id -> attribute specs
    class_names: pd.Series


def escape(text: str) -> str:
    """`xml.sax.saxutils.escape`, imported when first used (saxutils imports urllib.request: ~6 ms a start)."""
    from xml.sax.saxutils import escape as sax_escape

    return sax_escape(text)


def quoteattr(text: str) -> str:
    """`xml.sax.saxutils.quoteattr`, imported when first used."""
    from xml.sax.saxutils import quoteattr as sax_quoteattr

    return sax_quoteattr(text)


def _scalar(value: Any) -> bool:
    return isinstance(value, bool | int | float | str) and not (isinstance(value, float) and not math.isfinite(value))


def _prepare(ds: Dataset, **options: Any) -> tuple[Prepared, list[Loss]]:
    if options:
        raise UsageError(f"cvat writer: unknown option(s) {', '.join(sorted(options))}")
    placed = image_layout(ds)
    subsets = [s or None for s in placed["split"].tolist()]
    names = placed["name"].tolist()
    paths = [f"{IMAGES_DIR}/{s}/{n}" if s else f"{IMAGES_DIR}/{n}" for s, n in zip(subsets, names, strict=True)]
    member_paths("", paths)  # refuses unsafe names before anything is written
    names_by_id = ds.categories["name"].astype(object)
    losses = plan_losses(ds, CAPABILITIES, format_name="cvat") + _losses(ds, names_by_id)
    return Prepared(paths, names, subsets, _label_specs(ds), names_by_id), losses


def _losses(ds: Dataset, names_by_id: pd.Series) -> list[Loss]:
    """What CVAT holds differently: nested attributes, multi-part polygons, unknown sizes and categories."""
    anns = ds.annotations
    bad_attr, multi = [], []
    for ann_id, attrs, seg in zip(anns.index, anns["attributes"], anns["segmentation"], strict=True):
        if isinstance(attrs, dict) and any(k not in _SHAPE_KEYS and not _scalar(v) for k, v in attrs.items()):
            bad_attr.append(int(ann_id))
        if isinstance(seg, list) and len(seg) > 1:
            multi.append(int(ann_id))
    no_size = ds.images.index[(ds.images["width"].isna() | ds.images["height"].isna()).to_numpy()].tolist()
    dangling = anns.index[~anns["category_id"].isin(names_by_id.index).to_numpy()].tolist()
    found = [
        ("attributes-dropped", "cvat holds scalar attributes only: lists/dicts dropped", bad_attr, "annotation"),
        (
            "polygon-parts-split",
            "cvat polygons have one part: parts written as polygons sharing a group_id (read back as separate objects)",
            multi,
            "annotation",
        ),
        ("image-size-unknown", "cvat needs image sizes: written as 0 (CVAT reads the image)", no_size, "image"),
        ("dangling-category-dropped", "objects of unknown categories dropped", dangling, "annotation"),
    ]
    return [Loss(code, message, len(ids), ids[:MAX_EXAMPLES], unit=unit) for code, message, ids, unit in found if ids]


def _label_specs(ds: Dataset) -> dict[int, list[dict[str, Any]]]:
    """Each category's attribute specs: as read from CVAT, else inferred from its objects' values."""
    specs: dict[int, list[dict[str, Any]]] = {}
    for cat_id, attrs in ds.categories["attributes"].items():
        if isinstance(attrs, dict) and isinstance(attrs.get("attributes"), list):
            specs[int(cat_id)] = attrs["attributes"]
    seen: dict[int, dict[str, Any]] = {}
    for cat_id, attrs in zip(ds.annotations["category_id"], ds.annotations["attributes"], strict=True):
        if int(cat_id) in specs or not isinstance(attrs, dict):
            continue
        into = seen.setdefault(int(cat_id), {})
        for k, v in attrs.items():
            if k not in _SHAPE_KEYS and _scalar(v):
                into.setdefault(k, v)
    for cat_id, values in seen.items():
        specs[cat_id] = [_infer_spec(k, v) for k, v in sorted(values.items())]
    return specs


def _infer_spec(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"name": name, "input_type": "checkbox", "default_value": "false", "values": ["false", "true"]}
    if isinstance(value, int | float):
        return {"name": name, "input_type": "number", "default_value": "0", "values": ["-1000000", "1000000", "1"]}
    return {"name": name, "input_type": "text", "default_value": "", "values": [""]}


def plan(ds: Dataset, **options: Any) -> list[Loss]:
    """What writing `ds` as CVAT would drop (scores, crowd flags, nested attributes, polygon parts...)."""
    return _prepare(ds, **options)[1]


def write(ds: Dataset, out_dir: Path, *, images: str = "copy", **options: Any) -> WriteReport:
    """Write `ds` as ``annotations.xml`` + ``images/`` into `out_dir` (CVAT for images 1.1)."""
    prepared, _ = _prepare(ds, **options)
    out = Path(out_dir)
    anns = ds.annotations[ds.annotations["category_id"].isin(prepared.class_names.index).to_numpy()]
    parts = [_meta_xml(ds, prepared)]
    image_ids = anns["image_id"].to_numpy()
    starts = np.searchsorted(image_ids, ds.images.index.to_numpy(), side="left")
    stops = np.searchsorted(image_ids, ds.images.index.to_numpy(), side="right")
    labels = [quoteattr(n) for n in prepared.class_names.reindex(anns["category_id"]).tolist()]
    xyxy = anns[BOX_COLUMNS].to_numpy(dtype=np.float64)
    segs, attrs = anns["segmentation"].tolist(), anns["attributes"].tolist()
    group_base = 1 + max(
        (a.get("group_id", 0) for a in attrs if isinstance(a, dict) and _scalar(a.get("group_id", 0))), default=0
    )
    widths, heights = ds.images["width"].tolist(), ds.images["height"].tolist()
    task_ids = {s: k for k, s in enumerate(sorted({s for s in prepared.subsets if s}), start=1)}
    for k in range(len(ds.images)):
        w = 0 if pd.isna(widths[k]) else int(widths[k])
        h = 0 if pd.isna(heights[k]) else int(heights[k])
        subset = prepared.subsets[k]
        subset = f' subset={quoteattr(subset)} task_id="{task_ids[subset]}"' if subset else ""
        parts.append(f'  <image id="{k}" name={quoteattr(prepared.xml_names[k])} width="{w}" height="{h}"{subset}>\n')
        for r in range(starts[k], stops[k]):
            xml, group_base = _shape_xml(labels[r], xyxy[r], segs[r], attrs[r], group_base)
            parts.append(xml)
        parts.append("  </image>\n")
    parts.append("</annotations>\n")
    (out / PROJECT_FILE).write_text("".join(parts), encoding="utf-8")
    placed, missing = place_images(ds, member_paths(out, prepared.image_paths), images)
    return WriteReport("cvat", str(out_dir), len(ds.images), len(anns), len(ds.categories), placed, missing)


def _meta_xml(ds: Dataset, prepared: Prepared) -> str:
    """``<meta>``: a ``<task>``, or with splits a ``<project>`` with one task per subset (CVAT's project
    export, which Datumaro's importer reads subset by subset)."""
    subsets = sorted({s for s in prepared.subsets if s})
    out = ['<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n  <meta>\n']
    if subsets:
        out.append("    <project>\n      <name>dataprep</name>\n      <tasks>\n")
        for k, subset in enumerate(subsets, start=1):
            size = prepared.subsets.count(subset)
            out.append(
                f"        <task>\n          <id>{k}</id>\n          <name>{escape(subset)}</name>\n"
                f"          <size>{size}</size>\n          <mode>annotation</mode>\n"
                f"          <subset>{escape(subset)}</subset>\n        </task>\n"
            )
        out.append(f"      </tasks>\n      <subsets>{escape(chr(10).join(subsets))}</subsets>\n")
    else:
        out.append(f"    <task>\n      <size>{len(ds.images)}</size>\n      <mode>annotation</mode>\n")
    out.append(_labels_xml(ds, prepared))
    out.append("    </project>\n  </meta>\n" if subsets else "    </task>\n  </meta>\n")
    return "".join(out)


def _labels_xml(ds: Dataset, prepared: Prepared) -> str:
    out = ["      <labels>\n"]
    for cat_id, name in prepared.class_names.items():
        out.append(f"        <label>\n          <name>{escape(str(name))}</name>\n")
        extras = ds.categories["attributes"].get(cat_id)
        if isinstance(extras, dict):
            out += [f"          <{k}>{escape(str(extras[k]))}</{k}>\n" for k in ("color", "type") if k in extras]
        specs = prepared.label_specs.get(int(cat_id), [])
        if specs:
            out.append("          <attributes>\n")
            for spec in specs:
                out.append(
                    "            <attribute>\n"
                    f"              <name>{escape(str(spec['name']))}</name>\n"
                    f"              <input_type>{escape(str(spec['input_type']))}</input_type>\n"
                    f"              <default_value>{escape(str(spec['default_value']))}</default_value>\n"
                    f"              <values>{escape(chr(10).join(str(v) for v in spec['values']))}</values>\n"
                    "            </attribute>\n"
                )
            out.append("          </attributes>\n")
        out.append("        </label>\n")
    out.append("      </labels>\n")
    return "".join(out)


def _num(value: float) -> str:
    return repr(float(value))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return escape(str(value))


def _points_text(points: Any) -> str:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return ";".join(f"{x!r},{y!r}" for x, y in pts.tolist())


def _common(label: str, attrs: dict[str, Any], group_id: Any = None) -> tuple[str, str]:
    """(xml attributes of a shape, its <attribute> children)."""
    head = f' label={label} source="manual" occluded="{1 if attrs.get("occluded") is True else 0}"'
    z_order = attrs.get("z_order", 0)
    head += f' z_order="{int(z_order) if isinstance(z_order, int | float) else 0}"'
    group_id = group_id if group_id is not None else attrs.get("group_id")
    if isinstance(group_id, int | float) and group_id:
        head += f' group_id="{int(group_id)}"'
    body = "".join(
        f"      <attribute name={quoteattr(str(k))}>{_text(v)}</attribute>\n"
        for k, v in attrs.items()
        if k not in _SHAPE_KEYS and _scalar(v)
    )
    return head, body


def _element(tag: str, head: str, body: str) -> str:
    return f"    <{tag}{head}>\n{body}    </{tag}>\n" if body else f"    <{tag}{head} />\n"


def _shape_xml(label: str, xyxy: np.ndarray, seg: Any, attrs: Any, group_base: int) -> tuple[str, int]:
    """The xml of one object, and the next free group id."""
    attrs = attrs if isinstance(attrs, dict) else {}
    head, body = _common(label, attrs)
    if np.isnan(xyxy[0]):
        return _element("tag", f" label={label}", body), group_base
    kind = attrs.get("shape_type")
    if seg is None and kind in ("polyline", "line", "linestrip", "points", "point") and attrs.get("points"):
        tag = "points" if kind in ("points", "point") else "polyline"
        return _element(tag, f'{head} points="{_points_text(attrs["points"])}"', body), group_base
    if isinstance(seg, dict):
        return _element("mask", head + _mask_attrs(seg), body), group_base
    rotation = attrs.get("rotation")
    if isinstance(seg, list) and len(seg) == 1 and isinstance(rotation, int | float) and len(seg[0]) == 4:
        x0, y0, x1, y1 = _unrotated_box(np.asarray(seg[0], dtype=np.float64))
        geometry = f' xtl="{_num(x0)}" ytl="{_num(y0)}" xbr="{_num(x1)}" ybr="{_num(y1)}" rotation="{_num(rotation)}"'
        return _element("box", head + geometry, body), group_base
    if isinstance(seg, list) and seg:
        if len(seg) == 1:
            return _element("polygon", f'{head} points="{_points_text(seg[0])}"', body), group_base
        head, body = _common(label, attrs, group_id=group_base)
        xml = "".join(_element("polygon", f'{head} points="{_points_text(p)}"', body) for p in seg)
        return xml, group_base + 1
    x0, y0, x1, y1 = xyxy.tolist()
    return _element(
        "box", f'{head} xtl="{_num(x0)}" ytl="{_num(y0)}" xbr="{_num(x1)}" ybr="{_num(y1)}"', body
    ), group_base


def _unrotated_box(corners: np.ndarray) -> tuple[float, float, float, float]:
    """The axis-aligned box (before rotation about its centre) of 4 corners TL, TR, BR, BL."""
    cx, cy = corners.mean(axis=0)
    w = float(np.hypot(*(corners[1] - corners[0])))
    h = float(np.hypot(*(corners[2] - corners[1])))
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def mask_counts(crop: np.ndarray) -> list[int]:
    """``(h, w)`` bool crop -> CVAT's run lengths (row-major, starting with background)."""
    flat = np.concatenate([[False], crop.ravel().astype(bool)])
    change = np.flatnonzero(flat[1:] != flat[:-1])
    bounds = np.concatenate([[0], change, [crop.size]])
    return np.diff(bounds).tolist()


def _mask_attrs(rle: dict[str, Any]) -> str:
    from dataprep.geometry import rle_decode

    mask = rle_decode(rle).astype(bool)
    ys, xs = np.nonzero(mask)
    if not len(xs):
        x0 = y0 = 0
        x1 = y1 = 0
    else:
        x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
    crop = mask[y0 : y1 + 1, x0 : x1 + 1]
    counts = ", ".join(str(c) for c in mask_counts(crop))
    return f' rle="{counts}" left="{x0}" top="{y0}" width="{x1 - x0 + 1}" height="{y1 - y0 + 1}"'
