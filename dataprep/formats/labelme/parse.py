"""LabelMe json bytes -> rows: one image row per file and one object row per shape or ``group_id`` group.

Shapes (``points`` are absolute continuous pixel coordinates, x right, y down):

- ``rectangle`` (two corners) -> a box, no segmentation;
- ``polygon`` -> one polygon part; box = its extent;
- ``circle`` (centre, a rim point) -> a polygon of ``max(12, int(r / 10))`` points rounded up to a
  multiple of 4 (labelme2coco's count), box = ``centre +- r``;
- ``mask`` (two corners and a base64 PNG of that crop, LabelMe >= 5.3) -> a COCO RLE of the full image;
- ``line``, ``linestrip``, ``point``/``points`` -> not regions: box = extent of the points, and
  ``attributes`` keeps ``shape_type`` and ``points`` (so LabelMe and CVAT writers put them back).

Region shapes sharing a ``(label, group_id)`` in one file are one object with several parts
(labelme2coco/labelme2voc's rule): box = union, polygons concatenated, any mask makes the
union an RLE; ``point`` shapes sharing one are one ``points`` object. ``__ignore__`` shapes are
skipped (counted in a note). A shape's ``flags`` (bool) and a non-empty ``description`` go to
``attributes``; the file's ``flags`` that are true become image-level labels (NaN box),
LabelMe's image classification.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import os
import posixpath
import re
from array import array
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from dataprep.errors import InputError
from dataprep.formats._annotation_tools import Collector, ObjectRows
from dataprep.formats._numbers import INT64_END
from dataprep.formats.labelme.layout import IGNORE_LABEL

# imageData bounds ("base64 bombs"): the text itself, and the pixel count its header claims.
MAX_IMAGE_DATA_CHARS = 128 << 20  # 128 MiB of base64 = 96 MiB of image file
MAX_IMAGE_PIXELS = 178_956_970  # Pillow's DecompressionBombError limit (2 x MAX_IMAGE_PIXELS)
_HEAD_CHARS = 1 << 16  # a header prefix: enough for PNG, and for JPEG unless the EXIF block is large
REGION_SHAPES = frozenset({"rectangle", "polygon", "circle", "mask"})
POINT_SHAPES = frozenset({"line", "linestrip", "point", "points"})
_LEAST_POINTS = {
    "polygon": 3,
    "rectangle": 2,
    "circle": 2,
    "mask": 2,
    "line": 2,
    "linestrip": 2,
    "point": 1,
    "points": 1,
}
_PLAIN_NAME = re.compile(r"(?!\.\.?\Z)[^/\\:\x00]+\Z")  # a bare file name: no folder, drive, NUL, "." or ".."
_DATA_HINT = "Set imageData to null and keep the image file beside the json (LabelMe: File > Save without image data)"
_SHAPE_HINT = "Fix or remove the shape in LabelMe (a polygon needs 3 points, a rectangle/circle/line 2)"


@dataclass
class Rows(ObjectRows):
    """`ObjectRows` and this format's own columns and counts."""

    source: list[str] = field(default_factory=list)
    embedded: list[bool] = field(default_factory=list)
    ignored: int = 0
    path_fallbacks: int = 0
    sizes_from_data: int = 0
    # plain rectangles and polygons, deferred to one numpy pass (`resolve_deferred`): their points'
    # x, y numbers flat (doubles, not the parsed lists: keeping those costs more than reading them),
    # how many points each has, polygon or not (rows and boxes: `ObjectRows`)
    deferred_coords: array[float] = field(default_factory=lambda: array("d"))
    deferred_counts: list[int] = field(default_factory=list)
    deferred_polygon: list[bool] = field(default_factory=list)


def image_data_size(text: str, path: str) -> tuple[int, int]:
    """``(width, height)`` of a base64 ``imageData``, from its header only, bounded.

    Raises:
        InputError: too long, not base64, not an image, or a header claiming a decompression bomb.
    """
    from PIL import Image, UnidentifiedImageError

    hint = _DATA_HINT
    if len(text) > MAX_IMAGE_DATA_CHARS:
        raise InputError(
            path,
            f"imageData is {len(text) >> 20} MiB of base64, over the {MAX_IMAGE_DATA_CHARS >> 20} MiB limit",
            record="imageData",
            hint=hint,
        )
    size_wh = None
    for chars in (_HEAD_CHARS, len(text)):
        try:
            data = base64.b64decode(text[: chars - chars % 4] if chars < len(text) else text)
        except (binascii.Error, ValueError):
            raise InputError(path, "imageData is not valid base64", record="imageData", hint=hint) from None
        try:
            with Image.open(io.BytesIO(data)) as im:
                size_wh = im.size
            break
        except Image.DecompressionBombError as err:
            raise InputError(
                path, f"imageData is a decompression bomb ({err})", record="imageData", hint=hint
            ) from None
        except (UnidentifiedImageError, OSError, SyntaxError):
            if chars >= len(text):
                raise InputError(path, "imageData is not an image", record="imageData", hint=hint) from None
    assert size_wh is not None  # the loop either sets it or raises
    w, h = size_wh
    if w * h > MAX_IMAGE_PIXELS:
        raise InputError(
            path,
            f"imageData claims a {w}x{h} image ({w * h:,} pixels): a decompression bomb",
            record="imageData",
            hint=hint,
        )
    return int(w), int(h)


def embedded_image(root: Path, file_name: str, *, strict: bool = False) -> bytes | None:
    """The image file `file_name` as the LabelMe json beside it embeds it (base64 ``imageData``), or None.

    The json is ``<stem of file_name>.json`` (where LabelMe saves it) and counts only when its
    ``imagePath`` resolves to `file_name`, as on reading. Bounded as on reading: a json over the
    ``imageData`` limit is not opened, and a decompression-bomb header gives None. None also
    when no such json embeds anything (no json, invalid JSON, ``imageData`` null).

    Args:
        strict: raise instead of returning None when the json embeds data for `file_name` that
            cannot be used (validation reports why; writers placing images count it missing).

    Raises:
        InputError: with `strict`, the embedded data is over the limit, not base64, not an
            image, or a decompression bomb (the json and ``imageData`` named).
    """
    import orjson

    json_rel = posixpath.splitext(file_name)[0] + ".json"
    path = f"{root}/{json_rel}"
    try:
        if os.path.getsize(path) > MAX_IMAGE_DATA_CHARS + _HEAD_CHARS:
            if strict:
                raise InputError(
                    path,
                    f"the json is over the {MAX_IMAGE_DATA_CHARS >> 20} MiB imageData limit: its image is not read",
                    record="imageData",
                    hint=_DATA_HINT,
                )
            return None
        with open(path, "rb") as f:
            doc = orjson.loads(f.read())
    except (OSError, orjson.JSONDecodeError):
        return None
    text = doc.get("imageData") if isinstance(doc, dict) else None
    if not isinstance(text, str) or not text or _image_name(json_rel, doc.get("imagePath"), Rows()) != file_name:
        return None
    try:
        image_data_size(text, path)
        return base64.b64decode(text)  # (the header check decodes only a prefix of a long text)
    except binascii.Error:
        if strict:
            raise InputError(path, "imageData is not valid base64", record="imageData", hint=_DATA_HINT) from None
        return None
    except InputError:
        if strict:
            raise
        return None


def _image_name(json_rel: str, image_path: Any, rows: Rows) -> str:
    """``imagePath`` resolved against the json's folder, relative to the dataset root.

    A path that leaves the root (``../x.jpg``), is absolute or missing falls back to the json's
    own stem with the image's suffix beside it (counted in a note).
    """
    folder = json_rel.rpartition("/")[0]
    if isinstance(image_path, str) and image_path and _PLAIN_NAME.match(image_path):  # the common case
        return f"{folder}/{image_path}" if folder else image_path
    stem = posixpath.splitext(json_rel)[0]
    if isinstance(image_path, str) and image_path.strip():
        text = image_path.replace("\\", "/")
        local = not text.startswith("/") and not (len(text) > 1 and text[1] == ":")  # not absolute, no drive
        joined = posixpath.normpath(posixpath.join(folder, text)) if local else ""
        if joined not in ("", ".", "..") and not joined.startswith("../"):
            return joined
        rows.path_fallbacks += 1
        return stem + posixpath.splitext(text)[1]
    rows.path_fallbacks += 1
    return stem + ".jpg"


def _size(w: Any, h: Any, image_data: Any, path: str, rows: Rows) -> tuple[int | None, int | None]:
    """``(width, height)`` from ``imageWidth``/``imageHeight`` (`w`, `h`), else from `image_data`'s header.

    Raises:
        InputError: `image_data` is a base64 bomb or not an image (checked even when the size is given).
    """
    # JSON ints are exact ints (no bool); from 2**63 on they do not fit the images table's Int64
    ok = type(w) is int and type(h) is int and 0 < w < INT64_END and 0 < h < INT64_END
    if image_data and type(image_data) is str and (len(image_data) > MAX_IMAGE_DATA_CHARS or not ok):
        dw, dh = image_data_size(image_data, path)  # raises on a bomb even when the size is given
        if not ok:
            rows.sizes_from_data += 1
            return dw, dh
    return (w, h) if ok else (None, None)


def parse_file(data: bytes, json_rel: str, path: str, collector: Collector, rows: Rows, *, defer: bool = True) -> None:
    """Parse one LabelMe json (`data`, at `json_rel` under the root) into `rows`; bad shapes go to `collector`.

    With `defer`, a file of plain rectangles and polygons (no group, flags or description) only
    queues its points for `resolve_deferred`; every other file is parsed shape by shape here.
    """
    import orjson  # imported on first use: 16 ms

    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        collector.report(InputError(path, f"not valid JSON ({err})", hint="Re-save the file from LabelMe"))
        return
    shapes = doc.get("shapes") if type(doc) is dict else None
    if type(shapes) is not list:
        collector.report(InputError(path, "not a LabelMe file: no 'shapes' list", hint="Remove it from the folder"))
        return
    image_data, width, height = doc.get("imageData"), doc.get("imageWidth"), doc.get("imageHeight")
    sized = type(width) is int and type(height) is int and 0 < width < INT64_END and 0 < height < INT64_END
    if not (image_data is None and sized):
        try:  # the common case above: sizes given, no imageData
            width, height = _size(width, height, image_data, path, rows)
        except InputError as err:
            collector.report(err)
            return
    image = len(rows.file_name)
    rows.file_name.append(_image_name(json_rel, doc.get("imagePath"), rows))
    rows.width.append(width)
    rows.height.append(height)
    rows.source.append(json_rel)
    rows.embedded.append(type(image_data) is str and image_data != "")
    if not (defer and _defer_shapes(shapes, image, rows)):
        _parse_shapes(shapes, image, (width, height), path, collector, rows)
    flags = doc.get("flags")
    if flags and type(flags) is dict:
        for name, on in flags.items():
            if on is True:
                rows.add(image, str(name), _NAN4, None, None, f"flags.{name}")


_NAN4 = (math.nan,) * 4
_DEFERRED_LEAST = {"rectangle": 2, "polygon": 3}


def _defer_shapes(shapes: list[Any], image: int, rows: Rows) -> bool:
    """Queue the shapes of a file of plain rectangles and polygons; False (nothing queued) for any other file.

    Plain: no group, flags, description or ``__ignore__`` label, enough points, and every point a
    list of two numbers (JSON's numbers and booleans, as numpy reads them); finiteness is checked by
    `resolve_deferred`. (A shape with too few points sends its file shape by shape here, not at the
    end: under ``on_error="raise"`` its error must win over a later file's.)
    """
    labels, points, polygon = [], [], []
    for shape in shapes:
        if type(shape) is not dict:
            return False
        kind, label, pts = shape.get("shape_type") or "polygon", shape.get("label"), shape.get("points")
        if (
            type(kind) is not str
            or kind not in _DEFERRED_LEAST
            or type(label) is not str
            or type(pts) is not list
            or label == IGNORE_LABEL
            or shape.get("group_id") is not None
            or shape.get("flags")
            or shape.get("description")
            or len(pts) < _DEFERRED_LEAST[kind]
        ):
            return False
        labels.append(label)
        points.append(pts)
        polygon.append(kind == "polygon")
    flat = list(chain.from_iterable(points))
    coords = rows.deferred_coords
    before = len(coords)
    try:
        for _x, _y in flat:  # every point two values (in JSON: a list, or a str or object of two)
            pass
        coords.extend(chain.from_iterable(flat))  # refuses anything but numbers and booleans (str, None, list)
    except (ValueError, TypeError, OverflowError):
        del coords[before:]
        return False
    n, start = len(labels), len(rows.image)
    rows.deferred_rows += range(start, start + n)
    rows.deferred_counts += map(len, points)
    rows.deferred_polygon += polygon
    rows.image += [image] * n
    rows.label += labels
    rows.xyxy += [_NAN4] * n
    rows.segmentation += [None] * n
    rows.attributes += [None] * n
    rows.record += _shape_records(n)
    return True


_RECORDS: list[str] = []


def _shape_records(n: int) -> list[str]:
    """``["shapes[0]", ..., "shapes[n-1]"]``, from a cache (files repeat the same few counts)."""
    if n > len(_RECORDS):
        _RECORDS.extend(f"shapes[{k}]" for k in range(len(_RECORDS), n))
    return _RECORDS[:n]


def resolve_deferred(rows: Rows) -> bool:
    """Boxes (and polygons) of the queued shapes in one numpy pass over all their points.

    Box = the points' extent, as `_shape_geometry` gives it; a polygon's segmentation is its
    ``(K, 2)`` points (views of one array). Returns False, changing nothing, when any queued
    shape is malformed (too few points, a non-finite number; `_defer_shapes` queues only
    ``[x, y]`` numbers): the caller parses again shape by shape, which names the record. Also
    False on a ``-0.0`` (the extent of 0.0 and -0.0 would depend on the order of the min, whereas
    shape by shape Python's ``min`` of two points keeps the first).
    """
    n = len(rows.deferred_rows)
    if not n:
        return True
    counts = np.array(rows.deferred_counts, dtype=np.int64)
    polygon = np.array(rows.deferred_polygon, dtype=bool)
    if (counts < np.where(polygon, 3, 2)).any():
        return False
    coords = np.frombuffer(rows.deferred_coords, dtype=np.float64).reshape(-1, 2)  # no copy
    if len(coords) != counts.sum() or not np.isfinite(coords).all() or np.signbit(coords[coords == 0]).any():
        return False
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    rows.deferred_xyxy = np.hstack([np.minimum.reduceat(coords, starts), np.maximum.reduceat(coords, starts)])
    targets = np.asarray(rows.deferred_rows)[polygon].tolist()
    stops = (starts + counts)[polygon].tolist()
    for r, start, stop in zip(targets, starts[polygon].tolist(), stops, strict=True):
        rows.segmentation[r] = [coords[start:stop]]
    return True


def _shape_attributes(shape: dict[str, Any]) -> dict[str, Any]:
    flags = shape.get("flags")
    attrs = {str(k): v for k, v in flags.items()} if isinstance(flags, dict) else {}
    description = shape.get("description")
    if isinstance(description, str) and description:
        attrs["description"] = description
    return attrs


def _parse_shapes(
    shapes: list[Any], image: int, size_wh: tuple[int | None, int | None], path: str, collector: Collector, rows: Rows
) -> None:
    groups: dict[tuple[str, Any], list[tuple[int, str, Any, Any]]] = {}
    order: list[tuple[str, Any]] = []
    for k, shape in enumerate(shapes):
        try:
            label, kind, geometry = _shape_geometry(shape, k, size_wh, path)
        except InputError as err:
            collector.report(err)
            continue
        if label == IGNORE_LABEL:
            rows.ignored += 1
            continue
        group_id = shape.get("group_id")
        if kind not in REGION_SHAPES:
            attrs = {"shape_type": kind, "points": geometry[1].tolist(), **_shape_attributes(shape)}
            if group_id is not None and kind in ("point", "points"):  # grouped points: one object
                key = (label, ("points", group_id))
                if key in groups:
                    groups[key].append((k, kind, geometry, attrs))
                    continue
            else:
                key = (label, ("line", k))
                if group_id is not None:
                    attrs["group_id"] = group_id
            order.append(key)
            groups[key] = [(k, kind, geometry, attrs)]
            continue
        key = (label, group_id) if group_id is not None else (label, ("shape", k))
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append((k, kind, geometry, _shape_attributes(shape)))
    for key in order:  # objects in the order of their first shape
        parts = groups[key]
        if parts[0][1] in REGION_SHAPES:
            _add_group(rows, image, key[0], parts, size_wh)
        elif len(parts) == 1:
            k, _, geometry, attrs = parts[0]
            rows.add(image, key[0], geometry[0], None, attrs, f"shapes[{k}]")
        else:  # several points of one group
            pts = np.concatenate([p[2][1] for p in parts])
            lo, hi = pts.min(axis=0).tolist(), pts.max(axis=0).tolist()
            attrs = {**parts[0][3], "shape_type": "points", "points": pts.tolist()}
            record = f"shapes[{','.join(str(p[0]) for p in parts)}]"
            rows.add(image, key[0], (lo[0], lo[1], hi[0], hi[1]), None, attrs, record)


def _add_group(rows: Rows, image: int, label: str, parts: list[Any], size_wh: tuple[Any, Any]) -> None:
    """One object from the region shapes of a ``(label, group_id)`` group."""
    if len(parts) == 1:
        k, _, (box, seg), attrs = parts[0]
        rows.add(image, label, box, seg, attrs or None, f"shapes[{k}]")
        return
    xyxy = np.array([p[2][0] for p in parts], dtype=np.float64)
    box = (xyxy[:, 0].min(), xyxy[:, 1].min(), xyxy[:, 2].max(), xyxy[:, 3].max())
    attrs = {}
    for part in parts:
        attrs.update(part[3])
    record = f"shapes[{','.join(str(p[0]) for p in parts)}]"
    if any(p[1] == "mask" for p in parts):
        seg = _merge_masks(parts, size_wh)
    else:
        seg = []
        for part in parts:
            seg += part[2][1] if part[2][1] is not None else [_rectangle_polygon(part[2][0])]
    rows.add(image, label, box, seg, attrs or None, record)


def _rectangle_polygon(xyxy: Any) -> np.ndarray:
    x0, y0, x1, y1 = xyxy
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def _merge_masks(parts: list[Any], size_wh: tuple[Any, Any]) -> dict[str, Any]:
    from pycocotools import mask as mask_utils

    width, height = size_wh
    rles = []
    for _, kind, (xyxy, seg), _ in parts:
        if kind == "mask":
            rle = dict(seg)
            rles.append({"size": rle["size"], "counts": rle["counts"].encode("ascii")})
        else:
            polys = seg if seg is not None else [_rectangle_polygon(xyxy)]
            rles += mask_utils.frPyObjects([p.ravel().tolist() for p in polys], height, width)
    merged = mask_utils.merge(rles)
    return {"size": [int(height), int(width)], "counts": merged["counts"].decode("ascii")}


def _points(shape: dict[str, Any], k: int, path: str, least: int) -> np.ndarray:
    raw = shape.get("points")
    try:
        pts = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError):
        pts = np.empty((0, 0))
    if pts.ndim != 2 or pts.shape[1] != 2 or not np.isfinite(pts).all():
        raise InputError(
            path,
            f"points must be a list of [x, y] numbers, got {str(raw)[:60]}",
            record=f"shapes[{k}].points",
            hint=_SHAPE_HINT,
        )
    if len(pts) < least:
        raise InputError(
            path,
            f"a {shape.get('shape_type') or 'polygon'} needs at least {least} points, got {len(pts)}",
            record=f"shapes[{k}].points",
            hint=_SHAPE_HINT,
        )
    return pts


def _shape_geometry(shape: Any, k: int, size_wh: tuple[Any, Any], path: str) -> tuple[str, str, Any]:
    """``(label, shape_type, (xyxy, segmentation-or-points))`` of one shape.

    Raises:
        InputError: not an object, no string label, unknown shape type, or bad points.
    """
    if not isinstance(shape, dict) or not isinstance(shape.get("label"), str):
        raise InputError(path, "a shape needs a string 'label'", record=f"shapes[{k}]", hint=_SHAPE_HINT)
    label = shape["label"]
    kind = shape.get("shape_type") or "polygon"
    if type(kind) is not str or kind not in _LEAST_POINTS:  # (a list or an object is unhashable)
        raise InputError(
            path,
            f"unknown shape_type {kind!r}",
            record=f"shapes[{k}].shape_type",
            hint=f"Use one of {', '.join(sorted(_LEAST_POINTS))}",
        )
    if label == IGNORE_LABEL:
        return label, kind, None
    pts = _points(shape, k, path, _LEAST_POINTS[kind])
    if kind == "circle":
        try:
            return label, kind, _circle(pts)
        except ValueError as err:
            raise InputError(path, str(err), record=f"shapes[{k}].points", hint=_SHAPE_HINT) from None
    if kind == "mask":
        return label, kind, _mask(shape, pts, k, size_wh, path)
    if len(pts) == 2:  # rectangles, lines: plain floats beat two numpy reductions
        (ax, ay), (bx, by) = pts.tolist()
        extent = (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))
    else:
        lo, hi = pts.min(axis=0).tolist(), pts.max(axis=0).tolist()
        extent = (lo[0], lo[1], hi[0], hi[1])
    if kind == "rectangle":
        return label, kind, (extent, None)
    if kind == "polygon":
        return label, kind, (extent, [pts])
    return label, kind, (extent, pts)


_MAX_CIRCLE_RADIUS = 1e7  # pixels: a polygon of 1e6 points (one of 1e307 would exhaust memory)


def _circle(pts: np.ndarray) -> tuple[tuple[float, ...], list[np.ndarray]]:
    """Raises ValueError: a radius over `_MAX_CIRCLE_RADIUS` (or one that overflows)."""
    (cx, cy), rim = pts[0], pts[1]
    with np.errstate(over="ignore"):
        r = float(np.hypot(*(rim - pts[0])))
    if not r <= _MAX_CIRCLE_RADIUS:
        raise ValueError(f"a circle's radius must be at most {_MAX_CIRCLE_RADIUS:g} pixels, got {r:g}")
    n = max(12, int(100 * r / 1000))
    n += -n % 4  # a multiple of 4: the polygon touches the box on all four sides
    angles = np.arange(n) * (2 * np.pi / n)
    poly = np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], axis=1)
    return (cx - r, cy - r, cx + r, cy + r), [poly]


def _mask(shape: dict[str, Any], pts: np.ndarray, k: int, size_wh: tuple[Any, Any], path: str) -> Any:
    """A ``mask`` shape (PNG of the crop between its two corner points) -> ``(xyxy, full-image RLE)``."""
    from PIL import Image, UnidentifiedImageError

    from dataprep.geometry import rle_encode, rle_xyxy

    width, height = size_wh
    record = f"shapes[{k}].mask"
    if width is None or height is None:
        raise InputError(path, "a mask shape needs the image size", record=record, hint="Fill imageWidth/imageHeight")
    text = shape.get("mask")
    if not isinstance(text, str) or len(text) > MAX_IMAGE_DATA_CHARS:
        raise InputError(path, "mask must be a base64 PNG string", record=record, hint=_SHAPE_HINT)
    try:
        with Image.open(io.BytesIO(base64.b64decode(text))) as im:
            size_wh_mask = im.size
            fits = size_wh_mask[0] <= width + 1 and size_wh_mask[1] <= height + 1
            # the header is checked before any pixel is decoded: a small PNG may claim a huge crop
            crop = np.asarray(im.convert("L")) > 0 if fits else None
    except (binascii.Error, ValueError, UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise InputError(path, "mask is not a base64 PNG (or one too large)", record=record, hint=_SHAPE_HINT) from None
    if crop is None:
        mask_w, mask_h = size_wh_mask
        raise InputError(
            path, f"mask is {mask_w}x{mask_h}, larger than the {width}x{height} image", record=record, hint=_SHAPE_HINT
        )
    x0, y0 = (int(v) for v in pts[0])  # LabelMe's shape_to_mask: the crop starts at the int corner
    full = np.zeros((height, width), dtype=np.uint8)
    cx, cy = max(0, -x0), max(0, -y0)  # a crop starting left of / above the image
    x0, y0 = max(0, x0), max(0, y0)
    h = max(0, min(crop.shape[0] - cy, height - y0))
    w = max(0, min(crop.shape[1] - cx, width - x0))
    full[y0 : y0 + h, x0 : x0 + w] = crop[cy : cy + h, cx : cx + w]
    rle = rle_encode(full)
    return tuple(rle_xyxy(rle).tolist()), rle
