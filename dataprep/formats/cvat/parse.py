"""Safe CVAT xml -> rows: ``<meta>`` labels (with attribute specs), subsets, and each ``<image>``'s shapes.

Shapes (pixel coordinates, continuous, x right, y down):

- ``<box xtl ytl xbr ybr [rotation]>`` -> a box; a rotated box (degrees clockwise about its
  centre, CVAT's rule) -> its four corners as a polygon, the box their extent, and
  ``attributes["rotation"]`` (CVAT and Label Studio writers put the rotated box back);
- ``<polygon points="x,y;x,y;...">`` -> a one-part polygon;
- ``<polyline>``, ``<points>`` -> not regions: box = extent, ``attributes`` keeps
  ``shape_type`` (``polyline``/``points``) and ``points``;
- ``<mask rle left top width height>`` (CVAT's RLE: run lengths over the box crop, row-major,
  starting with background) -> a COCO RLE of the full image;
- ``<tag>`` -> an image-level label (NaN box).

Each shape's ``occluded`` (when 1), ``z_order`` and ``group_id`` (when not 0) and its label
attributes (typed by ``<input_type>``: checkbox -> bool, number -> int/float, else str; absent
ones filled with the ``<meta>`` default) go to ``annotations.attributes``. Video exports
(``<track>``) are refused. XML with a DOCTYPE or ENTITY declaration is refused before parsing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

import numpy as np

from dataprep.errors import InputError
from dataprep.files import check_member
from dataprep.formats._annotation_tools import Collector, ObjectRows, refuse_unsafe_xml
from dataprep.formats.cvat import bulk
from dataprep.formats.cvat.layout import image_file_name

KEPT_KEYS = ("occluded", "z_order", "group_id", "rotation")
SKIPPED_SHAPES = ("ellipse", "cuboid", "skeleton")
_HINT = "Fix the element in the xml or re-export from CVAT as 'CVAT for images 1.1'"


@dataclass
class LabelSpec:
    """One ``<meta>`` label: its attribute specs (name -> (input_type, default, values)) and extras."""

    name: str
    attributes: dict[str, tuple[str, str, list[str]]] = field(default_factory=dict)
    extras: dict[str, str] = field(default_factory=dict)  # color, type


@dataclass
class Rows(ObjectRows):
    """`ObjectRows` and this format's own columns and counts."""

    labels: dict[str, LabelSpec] = field(default_factory=dict)
    split: list[str | None] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    unlabelled: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    missing_files: int = 0
    # plain boxes (no rotation, flags, group or attributes) of files read as a tree, converted
    # in one pass by `resolve_deferred`: their xtl, ytl, xbr, ybr texts (rows and boxes: `ObjectRows`)
    deferred_text: list[Any] = field(default_factory=list)
    # the boxes of files `bulk.scan` read: (first row, (N, 4) float64 pixels) per file
    scanned: list[tuple[int, np.ndarray]] = field(default_factory=list)


def check_safe(data: bytes, path: str) -> None:
    """Refuse XML that declares a DOCTYPE or ENTITY (entity expansion, external entities).

    Raises:
        InputError: a declaration was found.
    """
    refuse_unsafe_xml(data, path, hint="CVAT never writes one; remove the declaration")


def typed(text: str | None, input_type: str | None) -> Any:
    """An attribute's text typed by its ``<input_type>`` (checkbox -> bool, number -> int/float)."""
    t = (text or "").strip()
    if input_type == "checkbox":
        return t.lower() == "true"
    if input_type == "number":
        try:
            value = float(t)
        except ValueError:
            return t
        return int(value) if value.is_integer() and "." not in t and "e" not in t.lower() else value
    return text or ""


def _labels(meta: ElementTree.Element | None) -> dict[str, LabelSpec]:
    specs: dict[str, LabelSpec] = {}
    if meta is None:
        return specs
    for label in meta.iter("label"):
        name = label.findtext("name")
        if name is None or name in specs:
            continue
        spec = LabelSpec(name)
        for key in ("color", "type"):
            if (value := label.findtext(key)) is not None:
                spec.extras[key] = value
        for attr in label.iter("attribute"):
            attr_name = attr.findtext("name")
            if attr_name is not None:
                values = (attr.findtext("values") or "").split("\n")
                spec.attributes[attr_name] = (
                    attr.findtext("input_type") or "text",
                    attr.findtext("default_value") or "",
                    values,
                )
        specs[name] = spec
    return specs


def _subsets(meta: ElementTree.Element | None) -> tuple[dict[str, str], str | None]:
    """Project export: task id -> subset; task export: the task's own ``<subset>``."""
    if meta is None:
        return {}, None
    by_task = {task.findtext("id") or "": task.findtext("subset") or "" for task in meta.iterfind("project/tasks/task")}
    return {k: v for k, v in by_task.items() if v}, meta.findtext("task/subset") or None


def parse_file(
    data: bytes,
    path: str,
    source: str,
    default_subset: str | None,
    collector: Collector,
    rows: Rows,
    image_files: set[str],
    *,
    defer: bool = True,
) -> None:
    """Parse one CVAT xml (`data`, shown as `path`, provenance `source`) into `rows`.

    With `defer`, a file of plain boxes is read in bulk, without a tree (`bulk.scan`); in any
    other file plain boxes only queue their coordinate texts for `resolve_deferred`.
    """
    check_safe(data, path)
    scanned = bulk.scan(data) if defer else None  # the common case, without a tree (`bulk`)
    root = scanned.head if scanned else _tree(data, path)
    if root.tag != "annotations":
        raise InputError(path, f"root element is <{root.tag}>, not <annotations>", hint=_HINT)
    if root.find("track") is not None:
        raise InputError(
            path,
            "video export (<track> elements) is not supported",
            record="track",
            hint="Export the task as 'CVAT for images 1.1' (shapes per image) instead of 'CVAT for video'",
        )
    meta = root.find("meta")
    for name, spec in _labels(meta).items():
        rows.labels.setdefault(name, spec)
    by_task, task_subset = _subsets(meta)
    if scanned:
        if _add_scanned(scanned, by_task, task_subset or default_subset, source, rows, image_files):
            return
        root = _tree(data, path)  # attribute specs, a bad number or an unsafe name: shape by shape
    for k, image in enumerate(root.iterfind("image"), start=1):
        record = f"image[{k}]"
        try:
            name = check_member(image.get("name", ""), path=path, record=f"{record}@name")
        except InputError as err:
            collector.report(err, "unsafe-file-name")
            continue
        subset = image.get("subset") or by_task.get(image.get("task_id", "")) or task_subset or default_subset
        file_name, found = image_file_name(name, subset, image_files)
        rows.missing_files += not found
        index = len(rows.file_name)
        rows.file_name.append(file_name)
        rows.width.append(bulk.positive_int(image.get("width")))
        rows.height.append(bulk.positive_int(image.get("height")))
        rows.split.append(subset)
        rows.source.append(source)
        _parse_shapes(image, index, record, path, collector, rows, defer)


def _tree(data: bytes, path: str) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as err:
        line = err.position[0] if err.position else None
        raise InputError(path, f"malformed XML ({err})", line=line, hint="Re-export from CVAT") from None


def _add_scanned(
    scanned: bulk.Scan, by_task: dict[str, str], fallback: str | None, source: str, rows: Rows, image_files: set[str]
) -> bool:
    """Add the images and plain boxes `bulk.scan` read; False (nothing added) where a label has attribute
    specs (defaults to fill), a coordinate is not a number or an image name is unsafe."""
    labels = scanned.labels
    used = set(labels)
    if any(spec.attributes for name, spec in rows.labels.items() if name in used):
        return False
    xyxy = scanned.xyxy
    columns = bulk.image_columns(scanned.images, by_task, fallback, image_files)
    if xyxy is None or any(columns.unsafe):
        return False
    start, n = len(rows.file_name), len(labels)
    rows.file_name += columns.file_names
    rows.width += columns.widths
    rows.height += columns.heights
    rows.split += columns.subsets
    rows.source += [source] * len(columns.file_names)
    rows.missing_files += columns.found.count(False)
    counts = scanned.counts
    nones = [None] * n
    first = len(rows.image)
    rows.image += np.repeat(np.arange(start, start + len(counts)), counts).tolist()
    rows.label += labels
    rows.xyxy += [_NAN4] * n  # boxes: `resolve_deferred` puts `xyxy` there
    rows.segmentation += nones
    rows.attributes += nones
    rows.scanned.append((first, xyxy))
    rows.record += [f"image[{k}]/box[{j}]" for k, c in enumerate(counts, start=1) for j in range(1, c + 1)]
    return True


_UNSET = ("0", "")
_NAN4 = (math.nan,) * 4


def resolve_deferred(rows: Rows) -> bool:
    """The queued boxes' coordinates, converted in one pass (``float`` as the shape-by-shape path does).

    The boxes of scanned files (``rows.scanned``) join them. Returns False, changing nothing, when
    a coordinate is missing or not a number: the caller parses again shape by shape, which names
    the element.
    """
    try:
        values = np.fromiter(map(float, rows.deferred_text), np.float64, len(rows.deferred_text))
    except (TypeError, ValueError):
        return False
    if rows.scanned:
        targets = [np.asarray(rows.deferred_rows, dtype=np.int64)]
        targets += [np.arange(first, first + len(xyxy)) for first, xyxy in rows.scanned]
        rows.deferred_rows = np.concatenate(targets).tolist()
        values = np.concatenate([values, *(xyxy.ravel() for _, xyxy in rows.scanned)])
    if rows.deferred_rows:
        rows.deferred_xyxy = values.reshape(-1, 4)
    return True


def _parse_shapes(
    image: ElementTree.Element, index: int, record: str, path: str, collector: Collector, rows: Rows, defer: bool
) -> None:
    counts: dict[str, int] = {}
    size_wh = (rows.width[index], rows.height[index])
    labels = rows.labels
    for shape in image:
        kind = shape.tag
        counts[kind] = counts.get(kind, 0) + 1
        where = f"{record}/{kind}[{counts[kind]}]"
        if defer and kind == "box" and _plain_box(shape, labels):
            a = shape.attrib
            rows.deferred_text += (a.get("xtl"), a.get("ytl"), a.get("xbr"), a.get("ybr"))
            rows.add_deferred(index, a["label"], where)
            continue
        if kind in SKIPPED_SHAPES:
            rows.skipped[kind] = rows.skipped.get(kind, 0) + 1
            continue
        if kind not in ("box", "polygon", "polyline", "points", "mask", "tag"):
            continue
        label = shape.get("label") or ""
        if not label:
            rows.unlabelled += 1
            continue
        try:
            xyxy, seg, extra = _geometry(shape, kind, size_wh)
        except (ValueError, TypeError) as err:
            collector.report(InputError(path, f"bad <{kind}> geometry ({err})", record=where, hint=_HINT))
            continue
        attrs = _attributes(shape, rows.labels.get(label))
        attrs.update(extra)
        rows.add(index, label, xyxy, seg, attrs or None, where)


def _plain_box(shape: ElementTree.Element, labels: dict[str, LabelSpec]) -> bool:
    """A labelled ``<box>`` with no rotation, occlusion, z_order, group, attribute or attribute spec."""
    a = shape.attrib
    label = a.get("label")
    if not label or len(shape) or a.get("rotation") or a.get("occluded", "0") not in _UNSET:
        return False
    if a.get("z_order", "0") not in _UNSET or a.get("group_id", "0") not in _UNSET:
        return False
    spec = labels.get(label)
    return spec is None or not spec.attributes


def _attributes(shape: ElementTree.Element, spec: LabelSpec | None) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if shape.get("occluded", "0") not in ("0", ""):
        attrs["occluded"] = True
    for key in ("z_order", "group_id"):
        value = bulk.positive_int(shape.get(key))
        if value:
            attrs[key] = value
    given = {a.get("name", ""): a.text for a in shape.iterfind("attribute")}
    specs = spec.attributes if spec else {}
    for name, (input_type, default, _) in specs.items():
        attrs[name] = typed(given.pop(name, default), input_type)
    for name, text in given.items():
        attrs[name] = text or ""
    return attrs


def _points(text: str | None) -> np.ndarray:
    values = np.array((text or "").replace(";", ",").split(","), dtype=np.float64)
    if values.size < 2 or values.size % 2 or not np.isfinite(values).all():
        raise ValueError(f"points must be 'x,y;x,y;...', got {str(text)[:40]!r}")
    return values.reshape(-1, 2)


def rotated_corners(xyxy: tuple[float, float, float, float], degrees: float) -> np.ndarray:
    """``(4, 2)`` corners (TL, TR, BR, BL before rotation) of a box rotated clockwise about its centre."""
    x0, y0, x1, y1 = xyxy
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    t = math.radians(degrees)
    c, s = math.cos(t), math.sin(t)
    local = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]])
    return np.stack([cx + local[:, 0] * c - local[:, 1] * s, cy + local[:, 0] * s + local[:, 1] * c], axis=1)


def _geometry(shape: ElementTree.Element, kind: str, size_wh: tuple[Any, Any]) -> tuple[Any, Any, dict[str, Any]]:
    if kind == "tag":
        return (math.nan,) * 4, None, {}
    if kind == "box":
        xyxy = tuple(float(shape.get(k, "")) for k in ("xtl", "ytl", "xbr", "ybr"))
        rotation = float(shape.get("rotation") or 0.0)
        if not rotation % 360:
            return xyxy, None, {}
        corners = rotated_corners(xyxy, rotation)
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        return (lo[0], lo[1], hi[0], hi[1]), [corners], {"rotation": rotation}
    if kind == "mask":
        return _mask(shape, size_wh)
    pts = _points(shape.get("points"))
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    extent = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
    if kind == "polygon":
        if len(pts) < 3:
            raise ValueError(f"a polygon needs 3 points, got {len(pts)}")
        return extent, [pts], {}
    return extent, None, {"shape_type": kind, "points": pts.tolist()}


def decode_mask(counts: list[int], width: int, height: int) -> np.ndarray:
    """CVAT's mask RLE (run lengths, row-major, starting with background) -> ``(height, width)`` bool crop."""
    runs = np.asarray(counts, dtype=np.int64)
    if (runs < 0).any() or runs.sum() > width * height:
        raise ValueError(f"run lengths sum to {int(runs.sum())}, over the {width}x{height} box")
    flat = np.zeros(width * height, dtype=bool)
    values = np.repeat(np.arange(len(runs)) % 2 == 1, runs)  # odd runs are foreground
    flat[: len(values)] = values
    return flat.reshape(height, width)


def _mask(shape: ElementTree.Element, size_wh: tuple[Any, Any]) -> tuple[Any, Any, dict[str, Any]]:
    from dataprep.geometry import rle_encode, rle_xyxy

    width, height = size_wh
    if width is None or height is None:
        raise ValueError("a mask needs the image's width and height")
    left, top, w, h = (int(float(shape.get(k, ""))) for k in ("left", "top", "width", "height"))
    if w <= 0 or h <= 0 or w * h > width * height * 4:
        raise ValueError(f"mask box {w}x{h} does not fit the {width}x{height} image")
    crop = decode_mask([int(c) for c in (shape.get("rle") or "").replace(" ", "").split(",") if c], w, h)
    full = np.zeros((height, width), dtype=np.uint8)
    x0, y0 = max(0, left), max(0, top)
    x1, y1 = min(width, left + w), min(height, top + h)
    if x1 > x0 and y1 > y0:
        full[y0:y1, x0:x1] = crop[y0 - top : y1 - top, x0 - left : x1 - left]
    rle = rle_encode(full)
    return tuple(rle_xyxy(rle).tolist()), rle, {}
