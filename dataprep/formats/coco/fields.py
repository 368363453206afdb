"""COCO record fields: typed column parsers with errors that name file, record, field and value.

Each parser takes one chunk of records (`Records`) and returns a numpy column, vectorized when
every value is well formed and falling back to a per-record loop that reports the first bad
value of each record (raise mode) or skips the record with a finding (collect mode).
"""

from __future__ import annotations

from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dataprep.errors import Finding, InputError
from dataprep.formats._numbers import MAX_IMAGE_SIDE
from dataprep.formats.base import EXTRA_KEY, OnError

IMAGE_KEYS = frozenset({"id", "file_name", "width", "height"})
ANNOTATION_KEYS = frozenset(
    {"id", "image_id", "category_id", "bbox", "segmentation", "area", "iscrowd", "score", "attributes"}
)
CATEGORY_KEYS = frozenset({"id", "name", "supercategory"})
TABLE_KEYS = ("images", "annotations", "categories")
MISSING = object()  # a key absent from a record (None is JSON null)


ORIGINAL_ID = "original_id"  # images.attributes key of an image id that was renumbered (a string in the file)


def id_key(value: int | str) -> int | str:
    """What identifies an image id: a string of digits is that integer (``"2299"`` is image 2299)."""
    if type(value) is str:
        text = value.strip()
        digits = text[1:] if text[:1] == "-" else text
        if digits.isascii() and digits.isdigit() and len(digits) < 19:
            return int(text)
    return value


class StringIds:
    """Image ids written as strings (``"BloodImage_00001"``: VOC-to-COCO scripts), mapped to integers.

    When an image id of a file is a string, every image of the file is renumbered 1..K in file
    order by distinct id (``"2299"`` and ``2299`` are one image; two records with one id share a
    number, so the duplicate is still found), the original kept in
    ``images.attributes["original_id"]``. Annotations' ``image_id`` follow the same map; an id no
    image has gets a fresh number above the images' (validation reports it dangling).
    """

    def __init__(self) -> None:
        self.images: dict[int, str] = {}  # image record (position in the file) -> its string id
        self.map: dict[int | str, int] | None = None  # original id -> new id, once renumbered
        self.unknown: dict[int | str, int] = {}  # annotation image_ids no image has -> fresh ids
        self.next_free = 1
        self.references = 0  # annotation image_ids that were strings

    def fresh(self, key: int | str) -> int:
        if key not in self.unknown:
            self.unknown[key] = self.next_free
            self.next_free += 1
        return self.unknown[key]

    def image_refs(self, ids: npt.NDArray[np.int64], strings: dict[int, str]) -> npt.NDArray[np.int64]:
        """Annotation ``image_id`` values (`ids`, string ones in `strings` by row) as image ids."""
        self.references += len(strings)
        if self.map is None:
            for i, text in strings.items():
                key = id_key(text)
                ids[i] = key if type(key) is int else self.fresh(key)
            return ids
        keys = ids.tolist()
        for i, text in strings.items():
            keys[i] = id_key(text)
        lookup = self.map.get
        return np.array([k if (k := lookup(key)) is not None else self.fresh(key) for key in keys], np.int64)


class Context:
    """Where records come from, and what to do with a bad one (raise, or note and skip)."""

    def __init__(self, path: Path, on_error: OnError) -> None:
        self.path = path
        self.on_error = on_error
        self.findings: list[Finding] = []
        self.ids = StringIds()

    def fail(self, record: str, problem: str, hint: str, *, code: str = "invalid-record") -> None:
        err = InputError(self.path, problem, record=record, hint=hint)
        if self.on_error == "raise":
            raise err
        self.findings.append(err.to_finding(code))


def describe(value: Any) -> str:
    if value is MISSING:
        return "missing"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _try_array(values: list[Any], empty: Any = np.float64) -> np.ndarray | None:
    """``np.array(values)`` with the dtype inferred (so strings never pass as numbers); None if ragged."""
    if not values:
        return np.empty(0, empty)
    try:
        return np.array(values)
    except (ValueError, TypeError):
        return None


def _is_number(v: Any) -> bool:
    return type(v) is float or type(v) is int


class Records:
    """One chunk of records of one table: which keys occur, and a bad-record policy.

    Column getters return None when no record has the key, so absent optional fields cost
    nothing. `bad` collects the chunk-local indices of records to skip (collect mode).
    """

    def __init__(self, records: list[Any], section: str, base: int, ctx: Context) -> None:
        self.records = records
        self.section = section
        self.base = base
        self.ctx = ctx
        self.bad: set[int] = set()
        dicts = records
        if not set(map(type, records)) <= {dict}:
            for i, r in enumerate(records):
                if type(r) is not dict:
                    self.fail(i, None, f"a record must be an object, got {describe(r)}", "Remove or fix the record")
            dicts = [r for r in records if type(r) is dict]
        self.present: set[str] = set().union(*dicts) if dicts else set()

    def __len__(self) -> int:
        return len(self.records)

    def fail(self, i: int, key: str | None, problem: str, hint: str, *, code: str = "invalid-record") -> None:
        self.bad.add(i)
        record = f"{self.section}[{self.base + i}]" + (f".{key}" if key else "")
        self.ctx.fail(record, problem, hint, code=code)

    def get(self, key: str, missing: Any = MISSING) -> list[Any] | None:
        """``record[key]`` per record (`missing` where absent), or None when no record has `key`."""
        if key not in self.present:
            return None
        try:
            return list(map(itemgetter(key), self.records))
        except (KeyError, TypeError):
            return [r.get(key, missing) if type(r) is dict else missing for r in self.records]

    def extras(self, known: frozenset[str]) -> list[dict[str, Any] | None] | None:
        """Per record, the dict of its keys outside `known` (None if none); None when no record has any."""
        if known.issuperset(self.present):
            return None
        # Column by column (a dict comprehension per record is 10x slower); keys in the order
        # of the first record that has extras, so files with a consistent order keep it.
        first = next(r for r in self.records if type(r) is dict and not known.issuperset(r))
        keys = [k for k in first if k not in known]
        keys += sorted(k for k in self.present - known if k not in first)
        columns = [self.get(k) for k in keys]
        if len(keys) == 1:
            key, column = keys[0], columns[0]
            return [None if v is MISSING else {key: v} for v in column]
        return [
            {k: v for k, v in zip(keys, values, strict=True) if v is not MISSING} or None
            for values in zip(*columns, strict=True)
        ]

    def keep(self) -> npt.NDArray[np.bool_]:
        keep = np.ones(len(self.records), bool)
        if self.bad:
            keep[list(self.bad)] = False
        return keep


def int_column(recs: Records, key: str, *, what: str, strings: dict[int, str] | None = None) -> npt.NDArray[np.int64]:
    """``(N,)`` int64 ids; integral floats (``3.0``) are accepted, anything else is a bad record.

    JSON ``true``/``false`` are not ids (numpy would read ``[1, true]`` as ``[1, 1]``). With
    `strings`, a non-empty string id is accepted too: its row holds 0 and ``strings[row]`` the
    string (`StringIds` maps it to an integer).
    """
    values = recs.get(key)
    if values is not None and set(map(type, values)) == {int}:
        arr = _try_array(values, np.int64)
        if arr is not None and arr.ndim == 1 and arr.dtype.kind == "i":
            return arr.astype(np.int64, copy=False)
    if values is None:
        values = [MISSING] * len(recs)
    out = np.zeros(len(values), np.int64)
    for i, v in enumerate(values):
        if type(v) is int and -(2**63) <= v < 2**63:
            out[i] = v
        elif type(v) is float and v.is_integer() and abs(v) < 2**63:
            out[i] = int(v)
        elif strings is not None and type(v) is str and v.strip():
            strings[i] = v
        elif i not in recs.bad:
            problem = f"'{key}' is missing" if v is MISSING else f"'{key}' must be an integer, got {describe(v)}"
            recs.fail(i, key, problem, f"Give every {what} an integer '{key}'")
    return out


def float_column(recs: Records, key: str) -> npt.NDArray[np.float64]:
    """``(N,)`` float64 of an optional number (absent or null -> NaN)."""
    values = recs.get(key)
    if values is None:
        return np.full(len(recs), np.nan)
    arr = _try_array(values, np.float64)
    if arr is not None and arr.ndim == 1 and arr.dtype.kind in "if":
        return arr.astype(np.float64, copy=False)
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if _is_number(v):
            out[i] = v
        elif v is not None and v is not MISSING and i not in recs.bad:
            recs.fail(i, key, f"'{key}' must be a number, got {describe(v)}", f"Write '{key}' as a number or remove it")
    return out


def size_column(recs: Records, key: str) -> npt.NDArray[np.float64]:
    """``(N,)`` float64 image width or height in whole pixels (absent or null -> NaN; 0, < 0, huge: failed)."""
    values = recs.get(key)
    if values is None:
        return np.full(len(recs), np.nan)
    arr = _try_array(values, np.int64)
    if arr is not None and arr.ndim == 1 and arr.dtype.kind == "i" and ((arr >= 1) & (arr <= MAX_IMAGE_SIDE)).all():
        return arr.astype(np.float64)
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if (type(v) is int or (type(v) is float and v.is_integer())) and 1 <= v <= MAX_IMAGE_SIDE:
            out[i] = v
        elif v is not None and v is not MISSING and i not in recs.bad:
            recs.fail(
                i,
                key,
                f"'{key}' must be a whole number of pixels from 1 to {MAX_IMAGE_SIDE:,}, got {describe(v)}",
                f"Fix '{key}' or remove it (it is then read from the image)",
            )
    return out


def box_column(recs: Records) -> npt.NDArray[np.float64]:
    """``(N, 4)`` float64 xywh; NaN rows where the record has no bbox (null, [] or absent)."""
    values = recs.get("bbox")
    if values is None:
        return np.full((len(recs), 4), np.nan)
    arr = _try_array(values, np.float64) if values else np.empty((0, 4))
    if arr is not None and arr.ndim == 2 and arr.shape[1] == 4 and arr.dtype.kind in "if":
        return arr.astype(np.float64, copy=False)
    out = np.full((len(values), 4), np.nan)
    for i, v in enumerate(values):
        if v is MISSING or v is None or (type(v) is list and not v):
            continue
        if type(v) is list and len(v) == 4 and all(map(_is_number, v)):
            out[i] = v
        elif i not in recs.bad:
            recs.fail(
                i,
                "bbox",
                f"'bbox' must be 4 numbers [x_min, y_min, width, height], got {describe(v)}",
                "Fix the box or remove the annotation",
            )
    return out


def crowd_column(recs: Records) -> npt.NDArray[np.bool_]:
    values = recs.get("iscrowd")
    if values is None:
        return np.zeros(len(recs), bool)
    arr = _try_array(values, np.int64)
    if arr is not None and arr.ndim == 1 and arr.dtype.kind in "bi" and ((arr == 0) | (arr == 1)).all():
        return arr.astype(bool)
    out = np.zeros(len(values), bool)
    for i, v in enumerate(values):
        if v is MISSING or v is None:
            continue
        if type(v) in (int, bool) and v in (0, 1):
            out[i] = bool(v)
        elif i not in recs.bad:
            recs.fail(
                i,
                "iscrowd",
                f"'iscrowd' must be 0 or 1, got {describe(v)}",
                "Write 0 for objects, 1 for crowd regions",
            )
    return out


def segmentation_column(recs: Records) -> list[Any]:
    """Model form of each segmentation: None, a list of ``(K, 2)`` float64 arrays, or the RLE dict."""
    values = recs.get("segmentation", None)
    out: list[Any] = [None] * len(recs)
    if values is None:
        return out
    hint = "Use polygons [[x1, y1, x2, y2, ...]] or an RLE {'size': [h, w], 'counts': ...}"
    if not set(map(type, values)) <= {list, dict, type(None)}:
        for i, v in enumerate(values):
            if v is not None and type(v) is not list and type(v) is not dict:
                recs.fail(i, "segmentation", f"unreadable segmentation {describe(v)}", hint)
                values[i] = None
    if any(values):  # box-only files have [] everywhere: one C-level scan
        for i in [i for i, v in enumerate(values) if v]:
            try:
                out[i] = _to_shape(values[i])
            except ValueError as err:
                recs.fail(i, "segmentation", f"{err}, got {describe(values[i])}", hint)
    return out


def _to_shape(value: Any) -> Any:
    if type(value) is dict:
        size, counts = value.get("size"), value.get("counts")
        if not (type(size) is list and len(size) == 2 and all(type(s) is int and s >= 0 for s in size)):
            raise ValueError("an RLE needs 'size' [height, width]")
        if not (type(counts) is str or (type(counts) is list and all(type(c) is int for c in counts))):
            raise ValueError("an RLE needs 'counts' as a string or a list of integers")
        return value
    if type(value) is not list:
        raise ValueError("a segmentation must be a list of polygons or an RLE object")
    if all(map(_is_number, value)):  # one flat polygon without the outer list (some exporters)
        value = [value]
    parts = []
    for part in value:
        arr = _try_array(part) if type(part) is list else None
        if arr is None or arr.ndim != 1 or (arr.size and arr.dtype.kind not in "if"):
            raise ValueError("a polygon must be a list of numbers")
        if not arr.size:
            continue
        if arr.size % 2:
            raise ValueError(f"a polygon needs an even number of coordinates, got {arr.size}")
        parts.append(arr.astype(np.float64, copy=False).reshape(-1, 2))
    return parts or None


def shape_xyxy(seg: Any) -> npt.NDArray[np.float64]:
    from dataprep import geometry

    if isinstance(seg, dict):
        return geometry.rle_xyxy(seg)
    return geometry.polygons_xyxy(seg)


def attributes_column(recs: Records) -> list[dict[str, Any] | None]:
    """The record's ``attributes`` dict items, plus its non-COCO keys under `EXTRA_KEY`."""
    attrs = recs.get("attributes")
    extras = recs.extras(ANNOTATION_KEYS)
    if attrs is None and extras is None:
        return [None] * len(recs)
    attrs = attrs or [None] * len(recs)
    extras = extras or [None] * len(recs)
    out: list[dict[str, Any] | None] = []
    for a, x in zip(attrs, extras, strict=True):
        if a is MISSING:
            a = None
        elif a is not None and type(a) is not dict:  # not CVAT-style: kept verbatim with the extras
            x = {"attributes": a, **(x or {})}
            a = None
        if x:
            a = {**(a or {}), EXTRA_KEY: x}
        elif a is not None:
            a = dict(a)
        out.append(a)
    return out


def category_rows(records: Any, ctx: Context) -> list[tuple[int, str, Any, dict[str, Any] | None]]:
    """Validated ``(id, name, supercategory, extras)`` of a file's categories, in file order."""
    if records is MISSING or records is None:
        return []
    if type(records) is not list:
        ctx.fail(
            "categories",
            f"'categories' must be a list, got {describe(records)}",
            "Write categories as a list of {id, name}",
        )
        return []
    rows = []
    seen_ids: dict[int, int] = {}
    seen_names: dict[str, int] = {}
    for i, r in enumerate(records):
        rec = f"categories[{i}]"
        if type(r) is not dict:
            ctx.fail(rec, f"a category must be an object, got {describe(r)}", "Remove or fix the record")
            continue
        cid, name, sup = r.get("id", MISSING), r.get("name", MISSING), r.get("supercategory")
        if type(cid) is float and cid.is_integer():
            cid = int(cid)
        if type(cid) is not int:
            problem = "'id' is missing" if cid is MISSING else f"'id' must be an integer, got {describe(cid)}"
            ctx.fail(f"{rec}.id", problem, "Give every category an integer 'id'")
            continue
        if type(name) is not str:
            problem = "'name' is missing" if name is MISSING else f"'name' must be a string, got {describe(name)}"
            ctx.fail(f"{rec}.name", problem, "Give every category a name")
            continue
        if sup is not None and type(sup) is not str:
            ctx.fail(
                f"{rec}.supercategory",
                f"'supercategory' must be a string, got {describe(sup)}",
                "Write it as a string or remove it",
            )
            continue
        if cid in seen_ids:
            ctx.fail(
                f"{rec}.id",
                f"category id {cid} is used twice (categories[{seen_ids[cid]}] and categories[{i}])",
                "Give every category a unique id; kept the first",
                code="duplicate-id",
            )
            continue
        if name in seen_names:
            ctx.fail(
                f"{rec}.name",
                f"category name {name!r} is used twice (categories[{seen_names[name]}] and categories[{i}])",
                f"Give every category a unique name; kept this one as '{name} ({cid})'",
                code="duplicate-category-name",
            )
            name = f"{name} ({cid})"
        seen_ids[cid], seen_names[name] = i, i
        extra = {k: v for k, v in r.items() if k not in CATEGORY_KEYS} or None
        rows.append((cid, name, sup, extra))
    return rows
