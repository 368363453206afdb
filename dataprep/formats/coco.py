"""COCO instances json: reader, writer, detector, and the COCO *results* reader.

Layouts read (``root`` is the dataset folder, ``file_name`` the image path relative to it):

- ``annotations/instances_<split>.json`` (else ``person_keypoints_<split>.json``, else any
  ``annotations/*.json`` with ``"images"``) with images in ``images/<split>/``, a flat
  ``images/``, or a COCO-2017 style ``<split>/`` folder beside ``annotations/`` (COCO, CVAT,
  Datumaro exports);
- Roboflow: ``<split>/_annotations.coco.json`` with the images beside it;
- a single json file given directly: images searched beside it, in its ``images/`` (or
  ``data/``, FiftyOne), or in the parent folder's ``images/``.

The split is the suffix of ``instances_<split>.json`` or the Roboflow folder name, verbatim
(``train2017``, ``valid``). ``instances_default.json`` (CVAT's and Datumaro's name for "no
subset") and a lone file not named ``instances_<split>`` have no split (NaN). Images are
looked up on disk with one directory listing per folder; ``file_name`` becomes the path
relative to ``root`` where the file is, or a best guess with a note when it is nowhere.

Several split files are merged: ids that collide with an earlier file (many exports restart
at 1 in every split) are shifted above it (``new = old + k``, in a note); categories are
merged by name (the same name is the same category; an id already taken by another name gets
a free one), with a note naming every remapped id. Inside one file, a duplicate id is an
error (collect mode: the first image is kept, a duplicate annotation is renumbered). Dangling
``image_id``/``category_id`` references are kept for validation to report.

What goes where, so that COCO -> COCO loses nothing:

- top-level keys other than images/annotations/categories (``info``, ``licenses``, ...) ->
  ``ds.info``;
- image keys other than id/file_name/width/height (``license``, ``coco_url``...) ->
  ``images.attributes`` (a dict, or None when there are none);
- category keys other than id/name/supercategory (``keypoints``, ``skeleton``...) ->
  ``categories.attributes``;
- the items of an annotation's CVAT/Datumaro-style ``"attributes": {...}`` dict ->
  ``annotations.attributes``; any other annotation key outside the COCO schema
  (``num_keypoints``, ``ignore``, ...) is kept in that dict under the reserved key
  ``"__coco__"`` (a dict of the original keys) and written back at the annotation's top level.

Boxes: COCO ``bbox`` is ``[x_min, y_min, width, height]`` in absolute continuous pixels; the
model stores float64 xyxy. Polygons become lists of ``(K, 2)`` float64 arrays; RLE masks
(compressed string or uncompressed list counts) are kept as the dict they are.

The writer produces ``annotations/instances_<split>.json`` + ``images/<split>/`` (see `write`),
which this reader reads back to equal tables.

Large files are parsed in chunks of records (the file is indexed once with numpy, then each
slice of the ``images``/``annotations`` arrays is parsed with orjson and turned into columns
before the next), so peak memory stays a small multiple of the file size.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import Finding, InputError, OutputError, UsageError
from dataprep.files import check_member, safe_join
from dataprep.formats.base import (
    MAX_EXAMPLES,
    Capabilities,
    FormatSpec,
    Loss,
    OnError,
    ReadResult,
    WriteReport,
    image_layout,
    place_images,
    plan_losses,
)

EXTRA_KEY = "__coco__"  # annotations.attributes key holding annotation keys outside the COCO schema
DEFAULT_SPLIT_NAME = "default"  # CVAT/Datumaro's file name for "no subset": instances_default.json
ROBOFLOW_NAME = "_annotations.coco.json"

_IMAGE_KEYS = frozenset({"id", "file_name", "width", "height"})
_ANNOTATION_KEYS = frozenset(
    {"id", "image_id", "category_id", "bbox", "segmentation", "area", "iscrowd", "score", "attributes"}
)
_CATEGORY_KEYS = frozenset({"id", "name", "supercategory"})
_TABLE_KEYS = ("images", "annotations", "categories")
_INSTANCES_RE = re.compile(r"^instances_(.+)\.json$", re.IGNORECASE)
_KEYPOINTS_RE = re.compile(r"^person_keypoints_(.+)\.json$", re.IGNORECASE)  # boxes too, for COCO keypoints
_IMAGE_DIR_NAMES = ("images", "data")

_CHUNK_MIN_BYTES = 1 << 20  # files above this are parsed record-chunk by record-chunk
_CHUNK_RECORDS = 16384
_SCAN_BLOCK = 1 << 22
_HEAD_BYTES = 1 << 16  # enough to pass a long "info"/"licenses" block
_MISSING = object()

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
    splits=True,
    groups=False,
    info=True,
    supercategories=True,
)


# ---------------------------------------------------------------------------------------
# detect


def detect(path: Path) -> float | None:
    """Confidence that `path` is a COCO dataset (a json file or a folder with a COCO layout).

    Reads at most the first few KB of a few json files.
    """
    p = Path(path)
    if p.is_file():
        return 0.9 if p.suffix.lower() == ".json" and _sniff(p) else None
    if not p.is_dir():
        return None
    try:
        kind = _find_sources(p, sniff_only=True).kind
    except (InputError, OSError):
        return None
    return {"annotations": 0.95, "roboflow": 0.95, "roboflow-split": 0.9, "single": 0.6}[kind]


def _sniff(path: Path) -> bool:
    """True when the first bytes of `path` look like a COCO dataset object (not a results list)."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD_BYTES)
    except OSError:
        return False
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head.startswith(b"{"):
        return False
    return b'"images"' in head or b'"annotations"' in head or b'"categories"' in head


# ---------------------------------------------------------------------------------------
# layout


@dataclass
class _Source:
    """One json file, its split, and the folders (relative to the layout's root) its images may be in."""

    path: Path
    split: str | None  # the split column value (None = no split)
    tag: str | None  # the raw split-like name used to look for image folders
    prefixes: list[str]


@dataclass
class _Layout:
    kind: str  # annotations | roboflow | roboflow-split | single
    root: Path  # the dataset folder
    sources: list[_Source]
    notes: list[str] = field(default_factory=list)
    inner: str = ""  # single file: the json folder's name, stripped from file names if all images are there


def _split_order(name: str | None) -> tuple[int, str]:
    text = (name or "").lower()
    for rank, prefix in enumerate(("train", "val", "test")):
        if text.startswith(prefix):
            return rank, text
    return 3, text


def _tag_from_name(name: str) -> str | None:
    m = _INSTANCES_RE.match(name) or _KEYPOINTS_RE.match(name)
    return m.group(1) if m else None


def _split_of(tag: str | None) -> str | None:
    return None if tag is None or tag.lower() == DEFAULT_SPLIT_NAME else tag


def _image_prefixes(tag: str | None, *, inner: str = "") -> list[str]:
    """Folders (relative to the dataset root) where images of a json file may be, most likely first."""
    join = lambda *parts: "/".join(p for p in parts if p)  # noqa: E731
    out: list[str] = []
    if inner:
        out += [
            inner,
            *(join(inner, d, tag) for d in _IMAGE_DIR_NAMES if tag),
            *(join(inner, d) for d in _IMAGE_DIR_NAMES),
        ]
    if tag and _split_of(tag) is not None:
        out.append(join("images", tag))
    out += list(_IMAGE_DIR_NAMES)
    if tag and _split_of(tag) is None:  # instances_default.json: our flat images/ first, then CVAT's images/default/
        out.append(join("images", tag))
    if tag:
        out.append(tag)
    out.append("")
    seen: set[str] = set()
    return [p for p in out if not (p in seen or seen.add(p))]


def _find_sources(path: Path, *, sniff_only: bool = False) -> _Layout:
    """Which json files to read, their splits, and the dataset root.

    Raises:
        InputError: no COCO json found.
    """
    p = Path(path)
    if p.is_file():
        return _single_file_layout(p)
    if p.name.lower() == "annotations" and any(p.glob("*.json")):
        p = p.parent
    notes: list[str] = []
    ann_dir = next((d for d in (p / "annotations", p / "Annotations") if d.is_dir()), None)
    if ann_dir is not None:
        with os.scandir(ann_dir) as it:  # VOC's Annotations/ may hold 17k xml files: no Path or stat each
            jsons = sorted(ann_dir / e.name for e in it if e.name.lower().endswith(".json") and e.is_file())
        instances = [f for f in jsons if _INSTANCES_RE.match(f.name)]
        keypoints = [f for f in jsons if _KEYPOINTS_RE.match(f.name)]
        chosen = instances or keypoints or [f for f in jsons if _sniff(f)]
        if chosen:
            ignored = [f.name for f in jsons if f not in chosen]
            if ignored and not sniff_only:
                notes.append(f"read {', '.join(f.name for f in chosen)}; ignored {', '.join(ignored)}")
            sources = []
            for f in chosen:
                tag = _tag_from_name(f.name) or (f.stem if len(chosen) > 1 else None)
                sources.append(_Source(f, _split_of(tag), tag, _image_prefixes(tag)))
            return _Layout("annotations", p, _sorted_sources(sources), notes)
    with os.scandir(p) as it:  # scandir: no stat per entry in a folder of 50k images
        entries = [(e.name, e.is_dir()) for e in it]
    roboflow = sorted(p / n for n, is_dir in entries if is_dir and (p / n / ROBOFLOW_NAME).is_file())
    if roboflow:
        sources = [_Source(d / ROBOFLOW_NAME, d.name, d.name, [d.name, f"{d.name}/images"]) for d in roboflow]
        return _Layout("roboflow", p, _sorted_sources(sources), notes)
    if (p / ROBOFLOW_NAME).is_file():
        layout = _single_file_layout(p / ROBOFLOW_NAME)
        layout.kind = "roboflow-split"
        return layout
    lone = sorted(p / n for n, is_dir in entries if not is_dir and n.lower().endswith(".json") and _sniff(p / n))
    if len(lone) == 1:
        layout = _single_file_layout(lone[0])
        layout.kind = "single"
        return layout
    if len(lone) > 1:
        sources = []
        for f in lone:
            tag = _tag_from_name(f.name) or f.stem
            sources.append(_Source(f, _split_of(tag), tag, _image_prefixes(tag)))
        return _Layout("single", p, _sorted_sources(sources), notes)
    raise InputError(
        p,
        "no COCO json found",
        hint="Expected annotations/instances_<split>.json, <split>/_annotations.coco.json or a COCO .json file",
    )


def _sorted_sources(sources: list[_Source]) -> list[_Source]:
    return sorted(sources, key=lambda s: (_split_order(s.tag), s.path.name))


def _single_file_layout(path: Path) -> _Layout:
    json_dir = path.parent
    tag = _tag_from_name(path.name)
    if json_dir.name.lower() == "annotations":
        return _Layout("single", json_dir.parent, [_Source(path, _split_of(tag), tag, _image_prefixes(tag))])
    name = json_dir.name
    if name in ("", ".", ".."):
        json_dir = Path(os.path.abspath(json_dir))
        name = json_dir.name
    outer = json_dir.parent
    return _Layout("single", outer, [_Source(path, _split_of(tag), tag, _image_prefixes(tag, inner=name))], inner=name)


# ---------------------------------------------------------------------------------------
# json parsing: whole file, or chunks of the big arrays


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(
            path, f"cannot read the file ({err.strerror or err})", hint="Check the path and permissions"
        ) from None
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.strip():
        raise InputError(path, "the file is empty", hint="Re-export the annotations")
    return data


def _loads_whole(buf: bytes, path: Path, notes: list[str]) -> Any:
    """Parse a whole document; stdlib json takes over for NaN/Infinity, which orjson rejects.

    Raises:
        InputError: not JSON, with the parser's line and column.
    """
    import orjson

    try:
        return orjson.loads(buf)
    except orjson.JSONDecodeError:
        pass
    import json

    try:
        doc = json.loads(buf)
    except json.JSONDecodeError as err:
        raise InputError(
            path,
            f"invalid JSON: {err.msg} (line {err.lineno}, column {err.colno})",
            line=err.lineno,
            hint="The file is truncated or not JSON; re-export it",
        ) from None
    except UnicodeDecodeError as err:
        raise InputError(
            path, f"not UTF-8 text ({err.reason} at byte {err.start})", hint="Save the file as UTF-8"
        ) from None
    notes.append(
        f"{path.name}: not strict UTF-8 JSON (NaN/Infinity literals or another encoding); read with Python's json"
    )
    return doc


_BRACKET_KIND = np.zeros(256, np.uint8)
_BRACKET_KIND[[ord("{"), ord("["), ord("}"), ord("]")]] = [3, 4, 5, 6]
_KEY_BEFORE_RE = re.compile(rb'"([A-Za-z_]+)"\s*:\s*$')


def _structure(buf: bytes) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8], npt.NDArray[np.int32]] | None:
    """Positions, kinds (3-6: ``{ [ } ]``) and depth after each bracket outside strings.

    Vectorized over the bytes, block by block to keep temporaries small: a bracket is inside a
    string when an odd number of unescaped quotes precede it. None when the brackets do not
    describe one balanced top-level object (the caller then parses the whole file, so the
    parser reports any error with its position).
    """
    arr = np.frombuffer(buf, np.uint8)
    escaped = _escaped_quotes(arr) if b"\\" in buf else np.empty(0, np.int64)
    found, carry = [], 0  # carry: parity of the quotes before the block
    for start in range(0, len(arr), _SCAN_BLOCK):
        block = arr[start : start + _SCAN_BLOCK]
        folded = block & 0xDF  # folds { } onto [ ] (0x7B -> 0x5B, 0x7D -> 0x5D); nothing else lands there
        spos = np.flatnonzero((folded == 0x5B) | (folded == 0x5D))
        del folded
        quotes = (block == 0x22).view(np.uint8)
        mine = escaped[(escaped >= start) & (escaped < start + len(block))]
        if len(mine):
            quotes[mine - start] = 0
        if len(spos):
            segments = np.empty(len(spos) + 1, np.int64)
            segments[0], segments[1:] = 0, spos
            inside = np.bitwise_xor.accumulate(np.bitwise_xor.reduceat(quotes, segments)[:-1]) ^ carry
            found.append(spos[inside == 0] + start)
        carry ^= int(np.bitwise_xor.reduce(quotes))
    spos = np.concatenate(found) if found else np.empty(0, np.int64)
    skind = _BRACKET_KIND[arr[spos]]
    if not len(skind) or skind[0] not in (3, 4):
        return None
    depth = np.cumsum(np.where(skind <= 4, 1, -1).astype(np.int32))
    if depth[-1] != 0 or depth.min() < 0 or (depth[:-1] == 0).any():
        return None
    return spos, skind, depth


def _escaped_quotes(arr: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Positions of quotes escaped by a backslash: those after an odd-length run of backslashes."""
    slashes = np.flatnonzero(arr == 0x5C)
    if not len(slashes):
        return slashes
    breaks = np.flatnonzero(np.diff(slashes) != 1)
    run_start = slashes[np.concatenate([[0], breaks + 1])]
    run_end = slashes[np.concatenate([breaks, [len(slashes) - 1]])]
    after = run_end + 1
    odd = ((run_end - run_start) % 2 == 0) & (after < len(arr))
    after = after[odd]
    return after[arr[after] == 0x22]


@dataclass
class _Parsed:
    """A COCO document: the small top-level part and the big arrays as record-chunk iterators."""

    head: dict[str, Any]
    chunks: dict[str, Iterator[list[Any]]]


def _parse_document(path: Path, notes: list[str]) -> _Parsed:
    """Parse a COCO file, the ``images``/``annotations`` arrays chunk by chunk when it is large.

    Raises:
        InputError: not JSON, or the top level is not an object.
    """
    buf = _read_bytes(path)
    if len(buf) >= _CHUNK_MIN_BYTES:
        parsed = _parse_chunked(buf, path, notes)
        if parsed is not None:
            return parsed
    doc = _loads_whole(buf, path, notes)
    del buf
    if not isinstance(doc, dict):
        kind = "a list (a COCO results file?)" if isinstance(doc, list) else type(doc).__name__
        raise InputError(
            path,
            f"the top level is {kind}, not an object with 'images', 'annotations' and 'categories'",
            hint="Pass a COCO instances file; read detection results with coco.read_results",
        )
    chunks = {}
    for key in ("images", "annotations"):
        value = doc.get(key, _MISSING)
        if isinstance(value, list):
            doc[key] = []
            chunks[key] = iter([value])
    return _Parsed(doc, chunks)


def _parse_chunked(buf: bytes, path: Path, notes: list[str]) -> _Parsed | None:
    """Index the brackets once, parse the top level without its big arrays, slice the arrays.

    Returns None when the file is not plainly a balanced object (let the whole-file parser
    report the problem), or when any slice fails to parse.
    """
    import orjson

    found = _structure(buf)
    if found is None:
        return None
    spos, skind, depth = found
    if skind[0] != 3:
        return None
    top_arrays = np.flatnonzero((skind == 4) & (depth == 2))
    closes_to_1 = np.flatnonzero(depth == 1)
    spans: dict[str, tuple[int, int, npt.NDArray[np.int64]]] = {}
    for i in top_arrays.tolist():
        start = int(spos[i])
        m = _KEY_BEFORE_RE.search(buf, max(0, start - 64), start)
        if m is None or m.group(1).decode() not in ("images", "annotations"):
            continue
        key = m.group(1).decode()
        k = int(closes_to_1[np.searchsorted(closes_to_1, i + 1)])
        inner = slice(i + 1, k)
        ends = spos[inner][(skind[inner] == 5) & (depth[inner] == 2)]
        if key in spans:  # a duplicated key: let the plain parser decide
            return None
        spans[key] = (start, int(spos[k]), ends)
    del spos, skind, depth, top_arrays, closes_to_1
    if not spans:
        return None
    ordered = sorted(spans.items(), key=lambda kv: kv[1][0])
    pieces, last = [], 0
    for _, (start, stop, _) in ordered:
        pieces += [buf[last : start + 1]]
        last = stop
    pieces.append(buf[last:])
    try:
        head = orjson.loads(b"".join(pieces))
    except orjson.JSONDecodeError:
        return None
    if not isinstance(head, dict):
        return None

    return _Parsed(head, {key: _array_chunks(buf, *span, path, notes) for key, span in spans.items()})


def _array_chunks(
    buf: bytes, start: int, stop: int, ends: npt.NDArray[np.int64], path: Path, notes: list[str]
) -> Iterator[list[Any]]:
    """Parse the array ``buf[start] == "[" ... buf[stop] == "]"`` a few thousand records at a time.

    `ends` are the positions of the closing braces of its records; slices are cut just after
    every `_CHUNK_RECORDS`-th one. A cut in the wrong place cannot go unnoticed: the slice
    before it would end inside a string or a nested value, which the parser rejects.
    """
    import orjson

    cuts = [start + 1, *(ends[_CHUNK_RECORDS - 1 :: _CHUNK_RECORDS] + 1).tolist(), stop]
    for a, b in itertools.pairwise(cuts):
        piece = buf[a:b].lstrip()
        if a != start + 1:
            piece = piece.removeprefix(b",")
        if not piece.strip():
            continue
        try:
            records = orjson.loads(b"[" + piece + b"]")
        except orjson.JSONDecodeError:
            records = _loads_lenient_piece(b"[" + piece + b"]", buf, path, notes)
        yield records


def _parse_list(path: Path, notes: list[str]) -> Any:
    """A results file: its top-level list as record chunks when large, else the parsed document."""
    buf = _read_bytes(path)
    if len(buf) >= _CHUNK_MIN_BYTES:
        found = _structure(buf)
        if found is not None and found[1][0] == 4:
            spos, skind, depth = found
            ends = spos[(skind == 5) & (depth == 1)]
            return _array_chunks(buf, int(spos[0]), int(spos[-1]), ends, path, notes)
    return _loads_whole(buf, path, notes)


def _loads_lenient_piece(piece: bytes, buf: bytes, path: Path, notes: list[str]) -> Any:
    """A slice orjson rejects: NaN/Infinity literals (stdlib json reads them), or a broken file.

    Raises:
        InputError: the file is not JSON, with the whole-file parser's line and column.
    """
    import json

    try:
        records = json.loads(piece)
    except (json.JSONDecodeError, UnicodeDecodeError):
        _loads_whole(buf, path, [])  # raises with the position in the file
        raise InputError(path, "malformed JSON array", hint="Re-export the file") from None
    note = f"{path.name}: uses non-standard JSON (NaN/Infinity literals); read with Python's json"
    if note not in notes:
        notes.append(note)
    return records


# ---------------------------------------------------------------------------------------
# field validation


class _Context:
    """Where records come from, and what to do with a bad one (raise, or note and skip)."""

    def __init__(self, path: Path, on_error: OnError) -> None:
        self.path = path
        self.on_error = on_error
        self.findings: list[Finding] = []

    def fail(self, record: str, problem: str, hint: str, *, code: str = "invalid-record") -> None:
        err = InputError(self.path, problem, record=record, hint=hint)
        if self.on_error == "raise":
            raise err
        self.findings.append(err.to_finding(code))


def _describe(value: Any) -> str:
    if value is _MISSING:
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


class _Records:
    """One chunk of records of one table: which keys occur, and a bad-record policy.

    Column getters return None when no record has the key, so absent optional fields cost
    nothing. `bad` collects the chunk-local indices of records to skip (collect mode).
    """

    def __init__(self, records: list[Any], section: str, base: int, ctx: _Context) -> None:
        self.records = records
        self.section = section
        self.base = base
        self.ctx = ctx
        self.bad: set[int] = set()
        dicts = records
        if not set(map(type, records)) <= {dict}:
            for i, r in enumerate(records):
                if type(r) is not dict:
                    self.fail(i, None, f"a record must be an object, got {_describe(r)}", "Remove or fix the record")
            dicts = [r for r in records if type(r) is dict]
        self.present: set[str] = set().union(*dicts) if dicts else set()

    def __len__(self) -> int:
        return len(self.records)

    def fail(self, i: int, key: str | None, problem: str, hint: str, *, code: str = "invalid-record") -> None:
        self.bad.add(i)
        record = f"{self.section}[{self.base + i}]" + (f".{key}" if key else "")
        self.ctx.fail(record, problem, hint, code=code)

    def get(self, key: str, missing: Any = _MISSING) -> list[Any] | None:
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
            return [None if v is _MISSING else {key: v} for v in column]
        return [
            {k: v for k, v in zip(keys, values, strict=True) if v is not _MISSING} or None
            for values in zip(*columns, strict=True)
        ]

    def keep(self) -> npt.NDArray[np.bool_]:
        keep = np.ones(len(self.records), bool)
        if self.bad:
            keep[list(self.bad)] = False
        return keep


def _int_column(recs: _Records, key: str, *, what: str) -> npt.NDArray[np.int64]:
    """``(N,)`` int64 ids; integral floats (``3.0``) are accepted, anything else is a bad record."""
    values = recs.get(key)
    arr = None if values is None else _try_array(values, np.int64)
    if arr is not None and arr.ndim == 1 and arr.dtype.kind == "i":
        return arr.astype(np.int64, copy=False)
    if values is None:
        values = [_MISSING] * len(recs)
    out = np.zeros(len(values), np.int64)
    for i, v in enumerate(values):
        if type(v) is int and -(2**63) <= v < 2**63:
            out[i] = v
        elif type(v) is float and v.is_integer() and abs(v) < 2**63:
            out[i] = int(v)
        elif i not in recs.bad:
            problem = f"'{key}' is missing" if v is _MISSING else f"'{key}' must be an integer, got {_describe(v)}"
            recs.fail(i, key, problem, f"Give every {what} an integer '{key}'")
    return out


def _float_column(recs: _Records, key: str) -> npt.NDArray[np.float64]:
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
        elif v is not None and v is not _MISSING and i not in recs.bad:
            recs.fail(
                i, key, f"'{key}' must be a number, got {_describe(v)}", f"Write '{key}' as a number or remove it"
            )
    return out


def _size_column(recs: _Records, key: str) -> npt.NDArray[np.float64]:
    """``(N,)`` float64 image width or height in whole pixels (absent or null -> NaN)."""
    values = recs.get(key)
    if values is None:
        return np.full(len(recs), np.nan)
    arr = _try_array(values, np.int64)
    if arr is not None and arr.ndim == 1 and arr.dtype.kind == "i":
        return arr.astype(np.float64)
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if type(v) is int or (type(v) is float and v.is_integer()):
            out[i] = v
        elif v is not None and v is not _MISSING and i not in recs.bad:
            recs.fail(
                i,
                key,
                f"'{key}' must be a whole number of pixels, got {_describe(v)}",
                f"Fix '{key}' or remove it (it is then read from the image)",
            )
    return out


def _box_column(recs: _Records) -> npt.NDArray[np.float64]:
    """``(N, 4)`` float64 xywh; NaN rows where the record has no bbox (null, [] or absent)."""
    values = recs.get("bbox")
    if values is None:
        return np.full((len(recs), 4), np.nan)
    arr = _try_array(values, np.float64) if values else np.empty((0, 4))
    if arr is not None and arr.ndim == 2 and arr.shape[1] == 4 and arr.dtype.kind in "if":
        return arr.astype(np.float64, copy=False)
    out = np.full((len(values), 4), np.nan)
    for i, v in enumerate(values):
        if v is _MISSING or v is None or (type(v) is list and not v):
            continue
        if type(v) is list and len(v) == 4 and all(map(_is_number, v)):
            out[i] = v
        elif i not in recs.bad:
            recs.fail(
                i,
                "bbox",
                f"'bbox' must be 4 numbers [x_min, y_min, width, height], got {_describe(v)}",
                "Fix the box or remove the annotation",
            )
    return out


def _crowd_column(recs: _Records) -> npt.NDArray[np.bool_]:
    values = recs.get("iscrowd")
    if values is None:
        return np.zeros(len(recs), bool)
    arr = _try_array(values, np.int64)
    if arr is not None and arr.ndim == 1 and arr.dtype.kind in "bi" and ((arr == 0) | (arr == 1)).all():
        return arr.astype(bool)
    out = np.zeros(len(values), bool)
    for i, v in enumerate(values):
        if v is _MISSING or v is None:
            continue
        if type(v) in (int, bool) and v in (0, 1):
            out[i] = bool(v)
        elif i not in recs.bad:
            recs.fail(
                i,
                "iscrowd",
                f"'iscrowd' must be 0 or 1, got {_describe(v)}",
                "Write 0 for objects, 1 for crowd regions",
            )
    return out


def _segmentation_column(recs: _Records) -> list[Any]:
    """Model form of each segmentation: None, a list of ``(K, 2)`` float64 arrays, or the RLE dict."""
    values = recs.get("segmentation", None)
    out: list[Any] = [None] * len(recs)
    if values is None:
        return out
    hint = "Use polygons [[x1, y1, x2, y2, ...]] or an RLE {'size': [h, w], 'counts': ...}"
    if not set(map(type, values)) <= {list, dict, type(None)}:
        for i, v in enumerate(values):
            if v is not None and type(v) is not list and type(v) is not dict:
                recs.fail(i, "segmentation", f"unreadable segmentation {_describe(v)}", hint)
                values[i] = None
    if any(values):  # box-only files have [] everywhere: one C-level scan
        for i in [i for i, v in enumerate(values) if v]:
            try:
                out[i] = _to_shape(values[i])
            except ValueError as err:
                recs.fail(i, "segmentation", f"{err}, got {_describe(values[i])}", hint)
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


def _shape_xyxy(seg: Any) -> npt.NDArray[np.float64]:
    from dataprep import geometry

    if isinstance(seg, dict):
        return geometry.rle_xyxy(seg)
    return geometry.polygons_xyxy(seg)


def _attributes_column(recs: _Records) -> list[dict[str, Any] | None]:
    """The record's ``attributes`` dict items, plus its non-COCO keys under `EXTRA_KEY`."""
    attrs = recs.get("attributes")
    extras = recs.extras(_ANNOTATION_KEYS)
    if attrs is None and extras is None:
        return [None] * len(recs)
    attrs = attrs or [None] * len(recs)
    extras = extras or [None] * len(recs)
    out: list[dict[str, Any] | None] = []
    for a, x in zip(attrs, extras, strict=True):
        if a is _MISSING:
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


def _category_rows(records: Any, ctx: _Context) -> list[tuple[int, str, Any, dict[str, Any] | None]]:
    """Validated ``(id, name, supercategory, extras)`` of a file's categories, in file order."""
    if records is _MISSING or records is None:
        return []
    if type(records) is not list:
        ctx.fail(
            "categories",
            f"'categories' must be a list, got {_describe(records)}",
            "Write categories as a list of {id, name}",
        )
        return []
    rows = []
    seen_ids: dict[int, int] = {}
    seen_names: dict[str, int] = {}
    for i, r in enumerate(records):
        rec = f"categories[{i}]"
        if type(r) is not dict:
            ctx.fail(rec, f"a category must be an object, got {_describe(r)}", "Remove or fix the record")
            continue
        cid, name, sup = r.get("id", _MISSING), r.get("name", _MISSING), r.get("supercategory")
        if type(cid) is float and cid.is_integer():
            cid = int(cid)
        if type(cid) is not int:
            problem = "'id' is missing" if cid is _MISSING else f"'id' must be an integer, got {_describe(cid)}"
            ctx.fail(f"{rec}.id", problem, "Give every category an integer 'id'")
            continue
        if type(name) is not str:
            problem = "'name' is missing" if name is _MISSING else f"'name' must be a string, got {_describe(name)}"
            ctx.fail(f"{rec}.name", problem, "Give every category a name")
            continue
        if sup is not None and type(sup) is not str:
            ctx.fail(
                f"{rec}.supercategory",
                f"'supercategory' must be a string, got {_describe(sup)}",
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
        extra = {k: v for k, v in r.items() if k not in _CATEGORY_KEYS} or None
        rows.append((cid, name, sup, extra))
    return rows


# ---------------------------------------------------------------------------------------
# per-table column builders


@dataclass
class _Columns:
    """Columns of one table accumulated chunk by chunk; ``record`` is each row's index in the file."""

    parts: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, **columns: Any) -> None:
        for k, v in columns.items():
            self.parts.setdefault(k, []).append(v)

    def array(self, key: str, dtype: Any) -> np.ndarray:
        pieces = self.parts.get(key, [])
        if not pieces:
            return np.empty((0, 4) if key == "xyxy" else 0, dtype=dtype)
        return np.concatenate(pieces).astype(dtype, copy=False)

    def objects(self, key: str) -> list[Any]:
        out: list[Any] = []
        for piece in self.parts.get(key, []):
            out.extend(piece)
        return out


def _select(values: list[Any], keep: npt.NDArray[np.bool_]) -> list[Any]:
    return values if keep.all() else [v for v, k in zip(values, keep, strict=True) if k]


def _image_chunk(records: list[Any], base: int, ctx: _Context, cols: _Columns) -> None:
    recs = _Records(records, "images", base, ctx)
    ids = _int_column(recs, "id", what="image")
    names = recs.get("file_name") or [_MISSING] * len(recs)
    if not set(map(type, names)) <= {str} or "" in names:
        for i, n in enumerate(names):
            if (type(n) is not str or not n) and i not in recs.bad:
                problem = (
                    "'file_name' is missing"
                    if n is _MISSING
                    else f"'file_name' must be a non-empty string, got {_describe(n)}"
                )
                recs.fail(i, "file_name", problem, "Give every image the path of its file")
    width, height = _size_column(recs, "width"), _size_column(recs, "height")
    extras = recs.extras(_IMAGE_KEYS) or [None] * len(recs)
    keep = recs.keep()
    cols.add(
        id=ids[keep],
        record=np.arange(base, base + len(recs))[keep],
        file_name=_select(names, keep),
        width=width[keep],
        height=height[keep],
        attributes=_select(extras, keep),
    )


def _annotation_chunk(
    records: list[Any], base: int, ctx: _Context, cols: _Columns, *, section: str = "annotations", results: bool = False
) -> None:
    recs = _Records(records, section, base, ctx)
    n = len(recs)
    if results:  # detections need no ids: number them in file order
        ann_ids = np.arange(base + 1, base + n + 1, dtype=np.int64)
    else:
        ann_ids = _int_column(recs, "id", what="annotation")
    image_ids = _int_column(recs, "image_id", what="annotation")
    category_ids = _int_column(recs, "category_id", what="annotation")
    xyxy = _box_column(recs)
    xyxy[:, 2:] += xyxy[:, :2]
    area = _float_column(recs, "area")
    score = _float_column(recs, "score")
    iscrowd = _crowd_column(recs)
    segmentation = _segmentation_column(recs)
    attributes = _attributes_column(recs)
    # A record with a segmentation but no bbox gets the shape's bounding box.
    for i in np.flatnonzero(np.isnan(xyxy).any(axis=1)).tolist():
        if segmentation[i] is None or i in recs.bad:
            continue
        try:
            xyxy[i] = _shape_xyxy(segmentation[i])
        except Exception as err:  # a mask pycocotools cannot decode
            recs.fail(
                i, "segmentation", f"cannot compute a box from the segmentation ({err})", "Fix the mask or add a 'bbox'"
            )
    keep = recs.keep()
    cols.add(
        id=ann_ids[keep],
        record=np.arange(base, base + n)[keep],
        image_id=image_ids[keep],
        category_id=category_ids[keep],
        xyxy=xyxy[keep],
        area=area[keep],
        score=score[keep],
        iscrowd=iscrowd[keep],
        segmentation=_select(segmentation, keep),
        attributes=_select(attributes, keep),
    )


# ---------------------------------------------------------------------------------------
# read


@dataclass
class _FileTables:
    source: _Source
    images: _Columns
    annotations: _Columns
    categories: list[tuple[int, str, Any, dict[str, Any] | None]]
    info: dict[str, Any]


def _read_file(source: _Source, ctx: _Context, notes: list[str]) -> _FileTables:
    parsed = _parse_document(source.path, notes)
    head = parsed.head
    for key in ("images", "annotations"):
        if key not in parsed.chunks and head.get(key, _MISSING) not in (_MISSING, None):
            raise InputError(
                source.path,
                f"'{key}' must be a list, got {_describe(head[key])}",
                record=key,
                hint=f"Write '{key}' as a list of objects",
            )
    if "images" not in parsed.chunks and head.get("images") is None:
        raise InputError(
            source.path,
            "no 'images' list: not a COCO instances file",
            hint="A COCO dataset has 'images', 'annotations' and 'categories'; results files: coco.read_results",
        )
    images, annotations = _Columns(), _Columns()
    for key, cols, build in (("images", images, _image_chunk), ("annotations", annotations, _annotation_chunk)):
        base = 0
        for records in parsed.chunks.get(key, iter(())):
            build(records, base, ctx, cols)
            base += len(records)
    categories = _category_rows(head.get("categories", _MISSING), ctx)
    info = {k: v for k, v in head.items() if k not in _TABLE_KEYS}
    return _FileTables(source, images, annotations, categories, info)


def read(
    path: Path, *, on_error: OnError = "raise", probe_sizes: bool = True, provenance: bool = False, **options: Any
) -> ReadResult:
    """Read a COCO dataset: a folder with one of the layouts in the module docstring, or one json file.

    Args:
        path: the dataset folder or a COCO json file.
        on_error: ``"raise"`` stops at the first unreadable record; ``"collect"`` skips it with a
            finding (duplicate image ids keep the first image, duplicate annotation ids are
            renumbered).
        probe_sizes: read a missing width/height from the image file's header when it exists.
        provenance: also return each image's and annotation's json file and JSON pointer
            (``images[3]``, ``annotations[12]``: positions in the file, right even where ids were
            renumbered).

    Returns:
        The dataset (boxes as absolute xyxy float64 pixels) with findings and notes (layout,
        renumbered ids, merged categories, images not found...).

    Raises:
        InputError: no COCO json, invalid JSON (with line and column), a record of the wrong
            type (naming it, e.g. ``annotations[12].bbox``, and its value), or a duplicate id.
        UsageError: an unknown option.
    """
    if options:
        raise UsageError(f"coco reader: unknown option(s) {', '.join(sorted(options))}; known: probe_sizes")
    if not Path(path).exists():
        raise InputError(path, "no such file or directory", hint="Check the path")
    layout = _find_sources(Path(path))
    notes = list(layout.notes)
    findings: list[Finding] = []
    files = []
    with _gc_paused():
        for source in layout.sources:
            ctx = _Context(source.path, on_error)
            files.append(_read_file(source, ctx, notes))
            findings += ctx.findings
        if len(files) > 1:
            notes.append(
                f"layout: {layout.kind}; splits {', '.join(str(f.source.split) for f in files)} from "
                f"{', '.join(_relative(f.source.path, layout.root) for f in files)}"
            )
        tables = _merge(files, layout, on_error, notes, findings)
        sources = _sources(tables) if provenance else (None, None)
        dataset = _assemble(tables, layout, notes, probe_sizes)
    return ReadResult(dataset, "coco", findings, notes, *sources)


def _sources(tables: _Merged) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(image_sources, annotation_sources)`` for `ReadResult`: json file and JSON pointer per row."""
    names = np.array(tables.file_names, dtype=object)
    image_sources = pd.DataFrame(
        {
            "file": names[tables.file_index] if len(names) else [],
            "record": [f"images[{i}]" for i in tables.image_records.tolist()],
        },
        index=pd.Index(tables.images["image_id"], name="image_id"),
    )
    annotation_sources = pd.DataFrame(
        {
            "file": names[tables.annotation_files] if len(names) else [],
            "line": pd.array([pd.NA] * len(tables.annotation_records), dtype="Int64"),
            "record": [f"annotations[{i}]" for i in tables.annotation_records.tolist()],
        },
        index=pd.Index(tables.annotations["annotation_id"], name="annotation_id"),
    )
    return image_sources, annotation_sources


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building ~10^6 dicts and lists.

    Every 700 new containers trigger a collection that walks the young ones: measured, it
    makes parsing a 29 MB COCO file 2.3x slower (410 ms vs 175 ms). Nothing built here forms
    reference cycles, so nothing is left for the collector.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _dedupe(
    ids: npt.NDArray[np.int64], records: npt.NDArray[np.int64], section: str, ctx: _Context, *, keep_first: bool
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """Handle duplicate ids inside one file.

    Returns a keep mask (duplicates dropped when `keep_first`) and the ids (duplicates
    renumbered above the maximum otherwise). Raises in raise mode via ``ctx.fail``.
    """
    keep = np.ones(len(ids), bool)
    dup = pd.Index(ids).duplicated()
    if not dup.any():
        return keep, ids
    first = pd.Series(records, index=ids).groupby(level=0).first()
    new_ids = ids.copy()
    next_id = int(ids.max()) + 1
    for j in np.flatnonzero(dup).tolist():
        where = f"{section}[{int(first[ids[j]])}] and {section}[{int(records[j])}]"
        what = f"{section[:-1]} id {int(ids[j])} is used twice ({where})"
        fix = "kept the first image" if keep_first else f"renumbered the second to {next_id}"
        ctx.fail(
            f"{section}[{int(records[j])}].id",
            what,
            f"Give every {section[:-1]} a unique id; {fix}",
            code="duplicate-id",
        )
        if keep_first:
            keep[j] = False
        else:
            new_ids[j] = next_id
            next_id += 1
    return keep, new_ids


@dataclass
class _Merged:
    images: dict[str, Any]
    annotations: dict[str, Any]
    categories: dict[str, Any]
    info: dict[str, Any]
    prefixes: list[list[str]]  # per image row: the candidate folders of its file
    file_index: npt.NDArray[np.int64]
    # provenance: each json file's name (relative to the root), and per row its file and
    # position in that file's array
    file_names: list[str] = field(default_factory=list)
    image_records: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    annotation_files: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    annotation_records: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))


def _merge(
    files: list[_FileTables], layout: _Layout, on_error: OnError, notes: list[str], findings: list[Finding]
) -> _Merged:
    """Concatenate the files' tables: fix duplicate ids, renumber colliding ids, merge categories by name."""
    img_parts: dict[str, list[Any]] = {
        k: [] for k in ("id", "file_name", "width", "height", "attributes", "split", "file", "record")
    }
    ann_parts: dict[str, list[Any]] = {
        k: []
        for k in (
            "id",
            "image_id",
            "category_id",
            "xyxy",
            "area",
            "score",
            "iscrowd",
            "segmentation",
            "attributes",
            "file",
            "record",
        )
    }
    taken_images: npt.NDArray[np.int64] = np.empty(0, np.int64)
    taken_anns: npt.NDArray[np.int64] = np.empty(0, np.int64)
    cat_by_id: dict[int, tuple[str, Any, Any]] = {}
    cat_by_name: dict[str, int] = {}
    info: dict[str, Any] = {}
    for n, f in enumerate(files):
        ctx = _Context(f.source.path, on_error)
        name = _relative(f.source.path, layout.root)
        img_ids = f.images.array("id", np.int64)
        img_keep, img_ids = _dedupe(img_ids, f.images.array("record", np.int64), "images", ctx, keep_first=True)
        ann_ids = f.annotations.array("id", np.int64)
        _, ann_ids = _dedupe(ann_ids, f.annotations.array("record", np.int64), "annotations", ctx, keep_first=False)
        findings += ctx.findings
        img_ids = img_ids[img_keep]
        ann_image_ids = f.annotations.array("image_id", np.int64)
        ann_cat_ids = f.annotations.array("category_id", np.int64)
        # Ids restart in every split file of many exports: shift a colliding file above the others.
        if len(img_ids) and np.isin(img_ids, taken_images).any():
            shift = int(taken_images.max()) - int(img_ids.min()) + 1
            img_ids = img_ids + shift
            ann_image_ids = ann_image_ids + shift
            notes.append(f"{name}: image ids collide with an earlier split file; renumbered (new = old + {shift})")
        if len(ann_ids) and np.isin(ann_ids, taken_anns).any():
            shift = int(taken_anns.max()) - int(ann_ids.min()) + 1
            ann_ids = ann_ids + shift
            notes.append(f"{name}: annotation ids collide with an earlier split file; renumbered (new = old + {shift})")
        taken_images = np.concatenate([taken_images, img_ids])
        taken_anns = np.concatenate([taken_anns, ann_ids])
        # Categories: the same name is the same category, whatever its id in this file.
        remap: dict[int, int] = {}
        for cid, cname, sup, extra in f.categories:
            if cname in cat_by_name:
                target = cat_by_name[cname]
            elif cid in cat_by_id:
                target = max(cat_by_id) + 1
            else:
                target = cid
            if target not in cat_by_id:
                cat_by_id[target] = (cname, sup, extra)
                cat_by_name[cname] = target
            if target != cid:
                remap[cid] = target
        if remap:
            pairs = ", ".join(f"{a}->{b}" for a, b in sorted(remap.items()))
            notes.append(f"{name}: category ids differ from an earlier split file; merged by name ({pairs})")
            mapped = pd.Series(ann_cat_ids).map(remap).to_numpy(dtype=np.float64, na_value=np.nan)
            ann_cat_ids = np.where(np.isnan(mapped), ann_cat_ids, mapped).astype(np.int64)
        if n == 0:
            info = f.info
        elif f.info != info:
            notes.append(
                f"{name}: info/licenses differ from {_relative(files[0].source.path, layout.root)}; kept the first"
            )
        names = f.images.objects("file_name")
        img_parts["id"].append(img_ids)
        img_parts["file_name"].append(_select(names, img_keep))
        img_parts["width"].append(f.images.array("width", np.float64)[img_keep])
        img_parts["height"].append(f.images.array("height", np.float64)[img_keep])
        img_parts["attributes"].append(_select(f.images.objects("attributes"), img_keep))
        img_parts["split"].append([f.source.split] * len(img_ids))
        img_parts["file"].append(np.full(len(img_ids), n, np.int64))
        img_parts["record"].append(f.images.array("record", np.int64)[img_keep])
        ann_parts["file"].append(np.full(len(ann_ids), n, np.int64))
        ann_parts["record"].append(f.annotations.array("record", np.int64))
        ann_parts["id"].append(ann_ids)
        ann_parts["image_id"].append(ann_image_ids)
        ann_parts["category_id"].append(ann_cat_ids)
        for key, dtype in (("xyxy", np.float64), ("area", np.float64), ("score", np.float64), ("iscrowd", bool)):
            ann_parts[key].append(f.annotations.array(key, dtype))
        for key in ("segmentation", "attributes"):
            ann_parts[key].append(f.annotations.objects(key))
        del f.images, f.annotations
    cat = lambda parts, empty: np.concatenate(parts) if parts else empty  # noqa: E731
    flat = lambda parts: [v for part in parts for v in part]  # noqa: E731
    xyxy = cat([x.reshape(-1, 4) for x in ann_parts["xyxy"]], np.empty((0, 4)))
    images = {
        "image_id": cat(img_parts["id"], np.empty(0, np.int64)),
        "file_name": flat(img_parts["file_name"]),
        "width": cat(img_parts["width"], np.empty(0)),
        "height": cat(img_parts["height"], np.empty(0)),
        "split": flat(img_parts["split"]),
        "attributes": flat(img_parts["attributes"]),
    }
    annotations = {
        "annotation_id": cat(ann_parts["id"], np.empty(0, np.int64)),
        "image_id": cat(ann_parts["image_id"], np.empty(0, np.int64)),
        "category_id": cat(ann_parts["category_id"], np.empty(0, np.int64)),
        **{c: xyxy[:, k] for k, c in enumerate(BOX_COLUMNS)},
        "segmentation": flat(ann_parts["segmentation"]),
        "iscrowd": cat(ann_parts["iscrowd"], np.empty(0, bool)).astype(bool),
        "score": cat(ann_parts["score"], np.empty(0)),
        "area": cat(ann_parts["area"], np.empty(0)),
        "attributes": flat(ann_parts["attributes"]),
    }
    ids = sorted(cat_by_id)
    categories = {
        "category_id": np.array(ids, np.int64),
        "name": [cat_by_id[i][0] for i in ids],
        "supercategory": [cat_by_id[i][1] for i in ids],
        "attributes": [cat_by_id[i][2] for i in ids],
    }
    file_index = cat(img_parts["file"], np.empty(0, np.int64))
    empty = np.empty(0, np.int64)
    return _Merged(
        images,
        annotations,
        categories,
        info,
        [s.source.prefixes for s in files],
        file_index,
        [_relative(f.source.path, layout.root) for f in files],
        cat(img_parts["record"], empty),
        cat(ann_parts["file"], empty),
        cat(ann_parts["record"], empty),
    )


class _Listings:
    """Cached directory listings: ``base/prefix/subdir`` -> the set of names in it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.cache: dict[str, frozenset[str]] = {}

    def names(self, folder: str) -> frozenset[str]:
        found = self.cache.get(folder)
        if found is None:
            try:
                found = frozenset(os.listdir(self.base / folder if folder else self.base))
            except OSError:
                found = frozenset()
            self.cache[folder] = found
        return found

    def exists(self, folder: str) -> bool:
        return bool(self.names(folder))


def _lookup_names(names: list[str]) -> list[str]:
    """Names as looked for on disk: ``/`` separators, no ``./``; absolute paths by their base name."""
    joined = "\n".join(names)
    if "\\" not in joined and "./" not in joined and "\n/" not in "\n" + joined and ":" not in joined:
        return names
    out = []
    for name in names:
        name = name.replace("\\", "/")
        if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            name = name.rsplit("/", 1)[-1]
        out.append(name.removeprefix("./"))
    return out


def _locate_images(
    names: list[str], file_index: npt.NDArray[np.int64], prefixes: list[list[str]], layout: _Layout, notes: list[str]
) -> tuple[list[str], Path]:
    """Find each image on disk; return file names relative to the dataset root, and that root.

    Each image is looked for under its json file's candidate folders in order, with one
    directory listing per folder (no stat per image). An image found nowhere gets the folder
    where most images of its file were found (else the first existing candidate) as a best
    guess, and a note counts them.
    """
    listings = _Listings(layout.root)
    out = list(names)
    lookups = _lookup_names(names)
    flat = "/" not in "".join(lookups)
    missing = 0
    for n, candidates in enumerate(prefixes):
        rows = np.flatnonzero(file_index == n).tolist() if len(prefixes) > 1 else list(range(len(names)))
        if not rows:
            continue
        pending: dict[str, list[int]] = {}  # folder part of the name -> rows still unfound
        if flat:
            pending[""] = rows
        else:
            for r in rows:
                pending.setdefault(lookups[r].rpartition("/")[0], []).append(r)
        hits = [0] * len(candidates)
        for c, prefix in enumerate(candidates):
            if prefix and not listings.exists(prefix):
                continue
            for folder in list(pending):
                listing = listings.names(f"{prefix}/{folder}" if prefix and folder else prefix or folder)
                if not listing:
                    continue
                group = pending[folder]
                start = len(folder) + 1 if folder else 0
                found = [r for r in group if lookups[r][start:] in listing]
                if not found:
                    continue
                for r in found:
                    out[r] = f"{prefix}/{lookups[r]}" if prefix else lookups[r]
                hits[c] += len(found)
                rest = [r for r in group if lookups[r][start:] not in listing] if len(found) < len(group) else []
                if rest:
                    pending[folder] = rest
                else:
                    del pending[folder]
            if not pending:
                break
        unresolved = [r for group in pending.values() for r in group]
        if unresolved:
            missing += len(unresolved)
            if any(hits):
                guess = candidates[int(np.argmax(hits))]
            else:
                guess = next((p for p in candidates if p and listings.exists(p)), candidates[0])
            if guess:
                for r in unresolved:
                    name = lookups[r] if lookups[r] == names[r] else names[r].replace("\\", "/").removeprefix("./")
                    absolute = name.startswith("/") or (len(name) > 1 and name[1] == ":")
                    out[r] = name if absolute else f"{guess}/{name}"
    root = layout.root
    if layout.inner:
        prefix = layout.inner + "/"
        if all(n.startswith(prefix) for n in out):
            out = [n[len(prefix) :] for n in out]
            root = layout.root / layout.inner
    if missing:
        where = ", ".join(f"{p}/" if p else "./" for p in prefixes[0][:4]) if prefixes else ""
        notes.append(
            f"{missing} image files not found (looked under {root} in {where}...); file names are best guesses"
        )
    return out, root


def _assemble(tables: _Merged, layout: _Layout, notes: list[str], probe_sizes: bool) -> Dataset:
    images = tables.images
    names, root = _locate_images(images["file_name"], tables.file_index, tables.prefixes, layout, notes)
    images["file_name"] = names
    width, height = images["width"], images["height"]
    unknown = np.flatnonzero(np.isnan(width) | np.isnan(height))
    if len(unknown) and probe_sizes:
        from dataprep.files import probe_image

        probed = 0
        for r in unknown.tolist():
            file = root / names[r]
            if not file.is_file():
                continue
            try:
                header = probe_image(file)
            except InputError:
                continue
            width[r], height[r] = header.width, header.height
            probed += 1
        if probed:
            notes.append(f"read {probed} image sizes from image headers (missing in the json)")
    images["width"] = pd.array(width, dtype="Int64")
    images["height"] = pd.array(height, dtype="Int64")
    images["split"] = [np.nan if s is None else s for s in images["split"]]
    return Dataset.from_frames(images, tables.annotations, tables.categories, root=root, info=tables.info)


# ---------------------------------------------------------------------------------------
# results files


def read_results(path: Path | str, reference: Dataset) -> Dataset:
    """Read a COCO *results* file (detections) as annotations over `reference`'s images.

    The file is a list of ``{image_id, category_id, bbox, score[, segmentation]}`` (a dict
    with an ``annotations`` list is accepted too). Boxes become absolute xyxy float64;
    annotation ids are ``1..N`` in file order; images, categories, root and info come from
    `reference`. Image or category ids missing from `reference` are kept (evaluation reports them).

    Raises:
        InputError: not JSON, not a list, a record without a numeric score, or a field of the
            wrong type (naming it, e.g. ``[12].bbox``).
    """
    p = Path(path)
    notes: list[str] = []
    ctx = _Context(p, "raise")
    cols = _Columns()
    with _gc_paused():
        doc = _parse_list(p, notes)
        section = ""
        if isinstance(doc, dict) and isinstance(doc.get("annotations"), list):
            doc, section = doc["annotations"], "annotations"
        if isinstance(doc, list):
            doc = iter([doc])
        elif not isinstance(doc, Iterator):
            raise InputError(
                p,
                f"a results file is a list of detections, got {type(doc).__name__}",
                hint="Write [{image_id, category_id, bbox, score}, ...]",
            )
        base = 0
        for records in doc:
            _annotation_chunk(records, base, ctx, cols, section=section, results=True)
            base += len(records)
        del doc
    score = cols.array("score", np.float64)
    missing = np.flatnonzero(np.isnan(score))
    if len(missing):
        i = int(cols.array("record", np.int64)[missing[0]])
        raise InputError(
            p,
            "a detection without a 'score'",
            record=f"{section}[{i}].score",
            hint="Every detection needs a numeric 'score'",
        )
    xyxy = cols.array("xyxy", np.float64).reshape(-1, 4)
    annotations = {
        "annotation_id": cols.array("id", np.int64),
        "image_id": cols.array("image_id", np.int64),
        "category_id": cols.array("category_id", np.int64),
        **{c: xyxy[:, k] for k, c in enumerate(BOX_COLUMNS)},
        "segmentation": cols.objects("segmentation"),
        "iscrowd": cols.array("iscrowd", bool),
        "score": score,
        "area": cols.array("area", np.float64),
        "attributes": cols.objects("attributes"),
    }
    return Dataset.from_frames(
        reference.images, annotations, reference.categories, root=reference.root, info=reference.info
    )


# ---------------------------------------------------------------------------------------
# write


def _minimal_size(start: npt.NDArray[np.float64], stop: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``stop - start`` as the shortest decimal that still gives `stop` when added to `start`.

    xyxy storage turns a json ``[x, y, w, h]`` into ``x + w``; subtracting back leaves float
    noise (0.1 + 0.2 -> 0.30000000000000004). Rounding to the fewest decimals that round-trip
    restores the source's number, so COCO -> COCO writes the same bytes.
    """
    size = stop - start
    out = size.copy()
    todo = np.isfinite(size)
    for decimals in range(0, 16):
        if not todo.any():
            break
        cand = np.round(size[todo], decimals)
        ok = start[todo] + cand == stop[todo]
        idx = np.flatnonzero(todo)[ok]
        out[idx] = cand[ok]
        todo[idx] = False
    return out


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


def _mask_area(seg: Any, width: float, height: float) -> float:
    """pycocotools' area of a polygon or RLE segmentation (what COCO's ``area`` holds)."""
    from dataprep import geometry

    if isinstance(seg, dict):
        return geometry.rle_area(seg)
    from pycocotools import mask as mask_utils

    # Parts under 3 points have no area, and pycocotools would read a first part of 4 values
    # as a [x, y, w, h] box: leave them out.
    flat = [part for part in (np.asarray(p, dtype=np.float64).ravel().tolist() for p in seg) if len(part) >= 6]
    if not flat:
        return 0.0
    if not (width > 0 and height > 0):
        pts = np.asarray([v for part in flat for v in part]).reshape(-1, 2)
        width, height = math.ceil(pts[:, 0].max()) + 1, math.ceil(pts[:, 1].max()) + 1
    rles = mask_utils.frPyObjects(flat, int(height), int(width))
    return float(mask_utils.area(mask_utils.merge(rles)))


def _plan(ds: Dataset, **options: Any) -> list[Loss]:
    """What `write` drops: the generic plan, where a box derived from a segmentation saves a label."""
    losses = plan_losses(ds, CAPABILITIES, format_name="coco")
    anns = ds.annotations
    no_box = anns["x_min"].isna() | anns["y_min"].isna() | anns["x_max"].isna() | anns["y_max"].isna()
    dropped = anns.index[(no_box & anns["segmentation"].isna()).to_numpy()]
    losses = [loss for loss in losses if loss.code != "image-label-dropped"]
    if len(dropped):
        losses.append(
            Loss(
                "image-label-dropped",
                "coco needs a box per object: labels without a box or segmentation dropped",
                len(dropped),
                [int(i) for i in dropped[:MAX_EXAMPLES]],
            )
        )
    return losses


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
    if options:
        raise UsageError(f"coco writer: unknown option(s) {', '.join(sorted(options))}; known: indent")
    with _gc_paused():
        return _write(ds, Path(out_dir), images=images, indent=indent)


def _write(ds: Dataset, out_dir: Path, *, images: str, indent: bool) -> WriteReport:
    import orjson

    out_dir = Path(out_dir)
    img = ds.images
    for image_id, name in zip(img.index.tolist(), img["file_name"].tolist(), strict=True):
        try:
            check_member(name)
        except InputError:
            raise OutputError(
                f"{out_dir}: refusing to write image {image_id}: its file name {name!r} escapes the dataset folder "
                "(absolute or '..'). Fix the file name first."
            ) from None
    layout = image_layout(ds)
    keys = layout["split"].tolist()
    json_names = {k: f"instances_{k or DEFAULT_SPLIT_NAME}.json" for k in dict.fromkeys(keys)}
    if not keys:
        json_names = {"": f"instances_{DEFAULT_SPLIT_NAME}.json"}
    dests = {k: safe_join(out_dir, f"annotations/{n}") for k, n in json_names.items()}
    image_rel = [f"images/{k}/{n}" if k else f"images/{n}" for k, n in zip(keys, layout["name"].tolist(), strict=True)]
    image_dest = [safe_join(out_dir, r) for r in image_rel]
    losses: list[Loss] = []

    # images
    width = img["width"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    height = img["height"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    unknown = np.flatnonzero(np.isnan(width) | np.isnan(height))
    if len(unknown):
        from dataprep.files import probe_image

        for r in unknown.tolist():
            try:
                header = probe_image(ds.resolve(img["file_name"].iat[r]))
            except InputError:
                continue
            width[r], height[r] = header.width, header.height
        still = np.flatnonzero(np.isnan(width) | np.isnan(height))
        if len(still):
            losses.append(
                Loss(
                    "image-size-unknown",
                    "coco images need width and height: unknown for these images (not written)",
                    len(still),
                    [int(i) for i in img.index[still][:MAX_EXAMPLES]],
                    unit="image",
                )
            )
    image_records = []
    for image_id, name, w, h, attrs in zip(
        img.index.tolist(),
        layout["name"].tolist(),
        width.tolist(),
        height.tolist(),
        img["attributes"].tolist(),
        strict=True,
    ):
        rec: dict[str, Any] = {"id": image_id, "file_name": name}
        if not math.isnan(w) and not math.isnan(h):
            rec["width"], rec["height"] = int(w), int(h)
        if isinstance(attrs, dict):
            rec.update((k, v) for k, v in attrs.items() if k not in _IMAGE_KEYS)
        image_records.append(rec)

    # annotations, in annotation id order (the model keeps them in (image_id, annotation_id) order)
    anns = ds.annotations
    if len(anns) and not anns.index.is_monotonic_increasing:
        anns = anns.sort_index(kind="stable")
    xyxy = anns[BOX_COLUMNS].to_numpy(dtype=np.float64).copy()
    segs = anns["segmentation"].tolist()
    no_box = np.flatnonzero(np.isnan(xyxy).any(axis=1))
    keep = np.ones(len(anns), bool)
    for r in no_box.tolist():
        if _has_shape(segs[r]):
            xyxy[r] = _shape_xyxy(segs[r])
        else:
            keep[r] = False
    w_out = _minimal_size(xyxy[:, 0], xyxy[:, 2])
    h_out = _minimal_size(xyxy[:, 1], xyxy[:, 3])
    area = anns["area"].to_numpy(dtype=np.float64).copy()
    need_area = np.flatnonzero(np.isnan(area) & keep)
    if len(need_area):
        size_of = pd.DataFrame({"w": width, "h": height}, index=img.index)
        img_w = anns["image_id"].map(size_of["w"]).to_numpy(dtype=np.float64, na_value=np.nan)
        img_h = anns["image_id"].map(size_of["h"]).to_numpy(dtype=np.float64, na_value=np.nan)
        box_area = w_out * h_out
        for r in need_area.tolist():
            seg = segs[r]
            area[r] = _mask_area(seg, img_w[r], img_h[r]) if _has_shape(seg) else box_area[r]
    split_of = pd.Series(keys, index=img.index, dtype=object)
    ann_split = anns["image_id"].map(split_of).to_numpy(dtype=object)
    first_key = next(iter(json_names))
    ann_split = np.where(pd.isna(ann_split), first_key, ann_split)  # dangling image ids: kept in the first file
    ann_records = []
    ann_keys = []
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
        keep.tolist(),
        ann_split.tolist(),
        strict=True,
    )
    for ann_id, image_id, category_id, x, y, w, h, a, crowd, seg, score, attrs, ok, key in columns:
        if not ok:
            continue
        rec = {
            "id": ann_id,
            "image_id": image_id,
            "category_id": category_id,
            "bbox": [x, y, w, h],
            "area": a,
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
        ann_records.append(rec)
        ann_keys.append(key)

    # categories
    cats = ds.categories
    category_records = []
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
            rec.update((k, v) for k, v in attrs.items() if k not in _CATEGORY_KEYS)
        category_records.append(rec)

    top = {k: v for k, v in ds.info.items() if k not in _TABLE_KEYS}
    ordered_top = {k: top[k] for k in ("info", "licenses") if k in top}
    ordered_top.update((k, top[k]) for k in sorted(top, key=str) if k not in ordered_top)
    option = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE
    if indent:
        option |= orjson.OPT_INDENT_2
    by_split_images: dict[str, list[dict[str, Any]]] = {k: [] for k in json_names}
    for k, rec in zip(keys, image_records, strict=True):
        by_split_images[k].append(rec)
    by_split_anns: dict[str, list[dict[str, Any]]] = {k: [] for k in json_names}
    for k, rec in zip(ann_keys, ann_records, strict=True):
        by_split_anns[k].append(rec)
    (out_dir / "annotations").mkdir(parents=True, exist_ok=True)
    for k, dest in dests.items():
        doc = {
            **ordered_top,
            "categories": category_records,
            "images": by_split_images[k],
            "annotations": by_split_anns[k],
        }
        dest.write_bytes(orjson.dumps(doc, default=_json_default, option=option))

    placed, missing = place_images(ds, image_dest, images)
    return WriteReport(
        format="coco",
        path=str(out_dir),
        images=len(img),
        annotations=len(ann_records),
        categories=len(cats),
        images_transferred=placed,
        images_missing=missing,
        losses=losses,
        options={"images": images, "indent": indent},
    )


FORMAT = FormatSpec(
    "coco",
    "COCO instances json (annotations/instances_<split>.json, Roboflow <split>/_annotations.coco.json)",
    CAPABILITIES,
    detect,
    read,
    write,
    extensions=(".json",),
    plan=_plan,
)
