"""Label Studio tasks -> rows: the full export (``annotations[].result[]``) and JSON-MIN.

Values are in percent of the image (``original_width``/``original_height`` give the pixels):

- ``rectanglelabels``: ``x, y, width, height`` and ``rotation`` (degrees, clockwise, about the
  top-left corner ``(x, y)``, Label Studio's rule). Unrotated -> a box; rotated -> its four corners
  as a polygon, the box their extent, and ``attributes["rotation"]``;
- ``polygonlabels``: ``points`` -> a polygon;
- ``keypointlabels``: ``x, y`` -> a point (box of zero size, ``attributes`` ``shape_type: points``);
- ``brushlabels``: ``format: rle`` + ``rle`` (see `brush`) -> a COCO RLE;
- ``choices`` -> image-level labels (NaN box).

Every label in a result's label list is one object. All annotations of a task are kept
(several annotators give several objects; noted); cancelled annotations and predictions are not.
JSON-MIN rows carry ``image`` and, per control tag, a list of values with the label key.

Decoding (`load_tasks`): an export of at least ``ChunkSizes.min_bytes`` is memory-mapped and its
top-level array decoded `CHUNK_SIZES.records` tasks at a time (`dataprep.formats._json_chunks`,
as COCO's arrays; pages behind the decoder are released); each list of tasks is parsed and freed
before the next is decoded, so the export is never decoded whole (a 120 MB export of 50,000
tasks took 650 MB decoded whole). Smaller files, a single task object and files the bracket
index cannot cut are decoded whole. NaN/Infinity literals are read with Python's json and noted,
as for COCO: Label Studio writes its exports with Python's json, which writes them for NaN and
infinite floats. Any other invalid JSON (also a byte-order mark, or text that is not UTF-8) is
refused with orjson's message and position in the whole file, chunked or not.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from dataprep.errors import InputError
from dataprep.files import clean_members
from dataprep.formats import _json_chunks
from dataprep.formats._annotation_tools import Collector, ObjectRows, parse_rows, read_head
from dataprep.formats._json_chunks import ChunkSizes
from dataprep.formats._numbers import INT64_END
from dataprep.formats.base import OnError
from dataprep.formats.label_studio import brush
from dataprep.formats.label_studio.layout import file_name_from_url, url_path

_NAN4 = (math.nan,) * 4

LABEL_TYPES = ("rectanglelabels", "polygonlabels", "keypointlabels", "brushlabels", "choices")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_HINT = "Re-export from Label Studio (JSON or JSON-MIN) or fix the result"

CHUNK_SIZES = ChunkSizes(records=1024)
"""Exports of 1 MiB or more are decoded 1,024 tasks at a time (a task is a few kB: far bigger than a COCO record)."""

Chunks = Callable[[], Iterable[list[Any]]]
"""The tasks of an export, a list at a time; each call iterates them again from the first."""


@dataclass
class Rows(ObjectRows):
    """`ObjectRows` and this format's own columns and counts."""

    task_id: list[Any] = field(default_factory=list)
    remote: int = 0
    multi_annotator: int = 0
    predictions: int = 0
    skipped_types: dict[str, int] = field(default_factory=dict)
    # with `defer`, image names are checked at the end: True when one is unsafe (`resolve_deferred`
    # then asks for a second pass, which names the task)
    unsafe_names: bool = False
    # unrotated rectangles of images of known size, converted to pixels in one pass by
    # `resolve_deferred`: their raw x, y, width, height (percent) (rows and boxes: `ObjectRows`)
    deferred_values: list[Any] = field(default_factory=list)


def _image_url(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("image"), str):
        return data["image"]
    texts = [v for v in data.values() if isinstance(v, str)]
    images = [t for t in texts if t.lower().split("?")[0].endswith(_IMAGE_SUFFIXES)]
    return (images or texts or [None])[0]


def load_tasks(path: Path, sizes: ChunkSizes = CHUNK_SIZES, *, notes: list[str] | None = None) -> Chunks:
    """The tasks of the export json `path`, decoded a chunk at a time when it is large.

    A file of at least ``sizes.min_bytes`` holding a top-level array is memory-mapped and its
    tasks decoded ``sizes.records`` at a time by `_json_chunks.array_reader`, each chunk when an
    iteration reaches it (pages behind it released). Anything else (a smaller file, a single
    task object, a byte-order mark, brackets that do not balance) is decoded whole, once.
    NaN/Infinity literals (Python's json writes them) are read with Python's json and noted in
    `notes`, as for COCO.

    Raises:
        InputError: not JSON (orjson's message and position in the file, chunked or not; when
            iterated for a chunk of a chunked file), or neither a list of tasks nor a task.
    """
    notes = [] if notes is None else notes
    chunks = _chunked(path, sizes, notes) if os.stat(path).st_size >= sizes.min_bytes else None
    if chunks is not None:
        return chunks
    tasks = _loads(path.read_bytes(), path, notes)
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise InputError(path, "not a Label Studio export: expected a list of tasks", hint=_HINT)
    return partial(iter, [tasks])


def _chunked(path: Path, sizes: ChunkSizes, notes: list[str]) -> Chunks | None:
    """`load_tasks` of a top-level array, chunk by chunk; None when the file is not plainly one."""
    if read_head(path, len(_json_chunks.BOM)) == _json_chunks.BOM:  # orjson refuses it: its error, read whole
        return None
    try:
        buf = _json_chunks.read_document(path, map_from=sizes.min_bytes)
    except InputError:  # white space, or not starting like JSON: orjson's error, read whole
        return None
    return _json_chunks.array_reader(buf, path, notes, sizes=sizes, loads=_loads)


def _loads(data: Any, path: Path, notes: list[str]) -> Any:
    """The decoded file (``bytes`` or ``mmap``); Python's json reads NaN/Infinity literals (noted).

    Raises:
        InputError: not JSON, with orjson's message (line, column and character).
    """
    import orjson

    try:
        return orjson.loads(data if isinstance(data, bytes) else memoryview(data))
    except orjson.JSONDecodeError as err:
        message = f"not valid JSON ({err})"
    try:  # from text, so a byte-order mark or another encoding stays refused
        tasks = json.loads(bytes(data).decode())
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError; nested too deep
        raise InputError(path, message, hint="Re-export from Label Studio") from None
    _json_chunks.note_python_json(path, notes)
    return tasks


def parse_tasks(
    chunks: Iterable[list[Any]], path: str, collector: Collector, rows: Rows, *, defer: bool = True
) -> None:
    """Parse an export's tasks (full or JSON-MIN), given as lists of tasks in order (`load_tasks`), into `rows`.

    Records are ``[k]``, k the task's position in the export. With `defer`, unrotated
    ``rectanglelabels`` of full exports only queue their values for `resolve_deferred`, and the
    image names are checked all at once at the end (an unsafe one sets ``rows.unsafe_names``).
    """
    first = 0
    for chunk in chunks:
        for t, task in enumerate(chunk, first):
            _parse_task(task, f"[{t}]", path, collector, rows, defer)
        first += len(chunk)
        del chunk  # freed before the next chunk is decoded
    if defer:
        clean, bad = clean_members(rows.file_name)
        rows.file_name = clean.tolist()
        rows.unsafe_names = bool(bad.any())


def _parse_task(task: Any, record: str, path: str, collector: Collector, rows: Rows, defer: bool) -> None:
    if not isinstance(task, dict):
        collector.report(InputError(path, "a task must be an object", record=record, hint=_HINT))
        return
    minimal = "data" not in task and "image" in task
    url = task.get("image") if minimal else _image_url(task.get("data"))
    if not isinstance(url, str) or not url.strip():
        collector.report(InputError(path, "task has no image URL", record=f"{record}.data.image", hint=_HINT))
        return
    if defer:  # the safe-path rule for all names at once, at the end
        name, remote = url_path(url)
    else:
        try:
            name, remote = file_name_from_url(url, path=path, record=f"{record}.data.image")
        except InputError as err:
            collector.report(err, "unsafe-file-name")
            return
    rows.remote += remote
    index = len(rows.file_name)
    rows.file_name.append(name)
    rows.width.append(None)
    rows.height.append(None)
    rows.task_id.append(task.get("id"))
    if minimal:
        _parse_minimal(task, index, record, path, collector, rows)
    else:
        _parse_full(task, index, record, path, collector, rows, defer)


def parse_export(chunks: Chunks, path: str, on_error: OnError) -> tuple[Rows, Collector]:
    """The rows of an export (`load_tasks`): queued, then resolved in one pass, else again result by result.

    Under ``on_error="raise"`` the error raised is the first in task order, as result by result
    (an unsafe name or a bad queued value is only found at the end of the queued pass), and a
    chunk that is not JSON comes before any (as when the export is decoded whole, before parsing).
    """

    def parse(collector: Collector, defer: bool) -> Rows:
        rows = Rows()
        try:
            parse_tasks(chunks(), path, collector, rows, defer=defer)
        except InputError:
            for _ in chunks():  # raises for a later chunk that is not JSON
                pass
            if defer:  # raises the first error in task order
                parse_tasks(chunks(), path, Collector(on_error), Rows(), defer=False)
            raise
        return rows

    return parse_rows(parse, resolve_deferred, on_error)


def _defer_rectangles(results: list[Any], start: int, index: int, prefix: str, rows: Rows) -> int:
    """Queue the unrotated ``rectanglelabels`` results from `start` on, up to the first other; its position.

    A queued result is read as `_read_result` reads it otherwise: each of its labels (a non-empty
    list of strings) is an object whose pixel box `resolve_deferred` computes; the image's size
    is the first valid ``original_width``/``original_height`` pair (`_size`), and a result met
    while it is unknown and without a valid pair is not queued.
    """
    label, record, values = rows.label, rows.record, rows.deferred_values
    first = len(label)
    sized = rows.width[index] is not None
    r = start
    for r in range(start, len(results)):
        result = results[r]
        if type(result) is not dict or result.get("type") != "rectanglelabels":
            break
        value = result.get("value")
        if type(value) is not dict or value.get("rotation"):
            break
        labels = value.get("rectanglelabels")
        if type(labels) is not list or not labels:
            break
        if len(labels) > 1 and any(type(n) is not str for n in labels):
            break
        name = labels[0]
        if type(name) is not str:
            break
        if not sized:  # `_size` of the value's size, else the result's
            w = value["original_width"] if "original_width" in value else result.get("original_width")
            h = value["original_height"] if "original_height" in value else result.get("original_height")
            if not (isinstance(w, _REAL) and isinstance(h, _REAL) and 0 < w < INT64_END and 0 < h < INT64_END):
                break
            rows.width[index], rows.height[index] = int(w), int(h)
            sized = True
        try:
            box = _XYWH(value)
        except KeyError:  # None where missing: `resolve_deferred` refuses it
            box = (value.get("x"), value.get("y"), value.get("width"), value.get("height"))
        where = f"{prefix}{r}]"
        label.append(name)
        record.append(where)
        values += box
        for name in labels[1:]:
            label.append(name)
            record.append(where)
            values += box
    else:
        r = len(results)
    n = len(label) - first  # the queued objects (rows first.., all deferred): their other columns
    rows.deferred_rows += range(first, first + n)
    rows.image += [index] * n
    rows.xyxy += [_NAN4] * n
    rows.segmentation += [None] * n
    rows.attributes += [None] * n
    return r


_REAL = (int, float)
_XYWH = itemgetter("x", "y", "width", "height")


def resolve_deferred(rows: Rows) -> bool:
    """Pixel boxes of the queued rectangles in one numpy pass, with `_rectangle`'s arithmetic.

    Returns False, changing nothing, when a value is missing, not a number or not finite, or an
    image name is unsafe (``unsafe_names``): the caller parses again result by result, which
    names the record.
    """
    if rows.unsafe_names:
        return False
    if not rows.deferred_rows:
        return True
    try:
        values = np.array(rows.deferred_values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return False
    if values.shape != (4 * len(rows.deferred_rows),) or not np.isfinite(values).all():
        return False
    x, y, w, h = values.reshape(-1, 4).T
    sizes = np.array([np.nan if w is None else w for w in rows.width], dtype=np.float64)
    image = np.array(rows.image, dtype=np.int64)[rows.deferred_rows]
    width = sizes[image]
    height = np.array([np.nan if h is None else h for h in rows.height], dtype=np.float64)[image]
    with np.errstate(over="ignore"):  # a value near 1e308 gives inf, silently, as Python's floats do result by result
        x, y, w, h = x * width / 100, y * height / 100, w * width / 100, h * height / 100
        rows.deferred_xyxy = np.stack([x, y, x + w, y + h], axis=1)
    return True


def _parse_full(
    task: dict[str, Any], index: int, record: str, path: str, collector: Collector, rows: Rows, defer: bool
) -> None:
    annotations = task.get("annotations") or []
    rows.predictions += len(task.get("predictions") or [])
    kept = 0
    for a, ann in enumerate(annotations):
        if not isinstance(ann, dict) or ann.get("was_cancelled"):
            continue
        kept += 1
        results = ann.get("result") or []
        prefix = f"{record}.annotations[{a}].result["
        if not (defer and type(results) is list):
            for r, result in enumerate(results):
                _read_result(result, index, f"{prefix}{r}]", path, collector, rows)
            continue
        r = 0
        while r < len(results):  # runs of queued rectangles, the others result by result
            r = _defer_rectangles(results, r, index, prefix, rows)
            if r < len(results):
                _read_result(results[r], index, f"{prefix}{r}]", path, collector, rows)
                r += 1
    rows.multi_annotator += kept > 1


def _read_result(result: Any, index: int, where: str, path: str, collector: Collector, rows: Rows) -> None:
    if not isinstance(result, dict) or not isinstance(result.get("value"), dict):
        collector.report(InputError(path, "a result needs a 'value' object", record=where, hint=_HINT))
        return
    value = dict(result["value"])
    for key in ("original_width", "original_height"):
        value.setdefault(key, result.get(key))
    _add_result(str(result.get("type", "")).lower(), value, index, where, path, collector, rows)


def _parse_minimal(task: dict[str, Any], index: int, record: str, path: str, collector: Collector, rows: Rows) -> None:
    for key, values in task.items():
        if not isinstance(values, list):
            continue
        for r, value in enumerate(values):
            if not isinstance(value, dict):
                continue
            kind = next((k for k in LABEL_TYPES if k in value), None)
            if kind is not None:
                _add_result(kind, value, index, f"{record}.{key}[{r}]", path, collector, rows)


def _size(value: dict[str, Any], index: int, rows: Rows) -> tuple[int | None, int | None]:
    w, h = value.get("original_width"), value.get("original_height")
    ok = isinstance(w, int | float) and isinstance(h, int | float) and 0 < w < INT64_END and 0 < h < INT64_END
    if ok and rows.width[index] is None:  # (from 2**63 on a size does not fit the images table's Int64)
        rows.width[index], rows.height[index] = int(w), int(h)
    return rows.width[index], rows.height[index]


def _add_result(
    kind: str, value: dict[str, Any], index: int, where: str, path: str, collector: Collector, rows: Rows
) -> None:
    if kind not in LABEL_TYPES:
        rows.skipped_types[kind] = rows.skipped_types.get(kind, 0) + 1
        return
    labels = value.get(kind)
    if not isinstance(labels, list) or not all(isinstance(n, str) for n in labels):
        collector.report(InputError(path, f"'{kind}' must be a list of label names", record=where, hint=_HINT))
        return
    width, height = _size(value, index, rows)
    try:
        if kind == "choices":
            geometry: tuple[Any, Any, Any] = ((math.nan,) * 4, None, None)
        elif width is None or height is None:
            raise ValueError("original_width/original_height are missing: percent values need the image size")
        else:
            geometry = _GEOMETRY[kind](value, width, height)
    except (KeyError, TypeError, ValueError) as err:
        collector.report(InputError(path, f"bad {kind} value ({err})", record=where + ".value", hint=_HINT))
        return
    for name in labels:
        xyxy = tuple(float(v) for v in geometry[0])
        rows.add(index, name, xyxy, geometry[1], dict(geometry[2]) if geometry[2] else None, where)


def _finite(*values: Any) -> list[float]:
    out = [float(v) for v in values]
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"non-finite value in {values}")
    return out


def rotated_corners(x: float, y: float, w: float, h: float, degrees: float) -> np.ndarray:
    """``(4, 2)`` corners (TL, TR, BR, BL) of a ``w x h`` box rotated clockwise about its top-left ``(x, y)``."""
    t = math.radians(degrees)
    c, s = math.cos(t), math.sin(t)
    local = np.array([[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]])
    return np.stack([x + local[:, 0] * c - local[:, 1] * s, y + local[:, 0] * s + local[:, 1] * c], axis=1)


def _rectangle(value: dict[str, Any], width: int, height: int) -> tuple[Any, Any, Any]:
    x, y, w, h = _finite(value["x"], value["y"], value["width"], value["height"])
    x, y, w, h = x * width / 100, y * height / 100, w * width / 100, h * height / 100
    rotation = _finite(value.get("rotation") or 0)[0]
    if not rotation % 360:
        return (x, y, x + w, y + h), None, None
    corners = rotated_corners(x, y, w, h, rotation)
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    return (lo[0], lo[1], hi[0], hi[1]), [corners], {"rotation": rotation}


def _polygon(value: dict[str, Any], width: int, height: int) -> tuple[Any, Any, Any]:
    pts = np.asarray(value["points"], dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3 or not np.isfinite(pts).all():
        raise ValueError("points must be 3 or more [x, y] pairs")
    pts = pts * np.array([width / 100, height / 100])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return (lo[0], lo[1], hi[0], hi[1]), [pts], None


def _keypoint(value: dict[str, Any], width: int, height: int) -> tuple[Any, Any, Any]:
    x, y = _finite(value["x"], value["y"])
    x, y = x * width / 100, y * height / 100
    return (x, y, x, y), None, {"shape_type": "points", "points": [[x, y]]}


def _brush(value: dict[str, Any], width: int, height: int) -> tuple[Any, Any, Any]:
    from dataprep.geometry import rle_encode, rle_xyxy

    if value.get("format", "rle") != "rle" or not isinstance(value.get("rle"), list):
        raise ValueError("brushlabels need format 'rle' and an 'rle' list")
    rle = rle_encode(brush.decode(value["rle"], width, height))
    return tuple(rle_xyxy(rle).tolist()), rle, None


_GEOMETRY = {
    "rectanglelabels": _rectangle,
    "polygonlabels": _polygon,
    "keypointlabels": _keypoint,
    "brushlabels": _brush,
}
