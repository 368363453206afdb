"""COCO bytes to rows: one json file becomes column arrays of its images and annotations.

The ``images`` and ``annotations`` arrays of a large file are parsed in chunks of records
(`dataprep.formats._json_chunks`), and each chunk becomes columns before the next is parsed,
so peak memory stays a small multiple of the file size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dataprep.errors import Finding, InputError, Severity
from dataprep.formats import _json_chunks
from dataprep.formats._json_chunks import ChunkSizes, Document
from dataprep.formats.coco.fields import (
    IMAGE_KEYS,
    MISSING,
    ORIGINAL_ID,
    TABLE_KEYS,
    Context,
    Records,
    attributes_column,
    box_column,
    category_rows,
    crowd_column,
    describe,
    float_column,
    id_key,
    int_column,
    segmentation_column,
    shape_xyxy,
    size_column,
)
from dataprep.formats.coco.layout import Source

ARRAY_KEYS = ("images", "annotations")  # the big arrays, parsed chunk by chunk


def parse_document(path: Path, notes: list[str], *, sizes: ChunkSizes) -> Document:
    """Parse a COCO file, the ``images``/``annotations`` arrays chunk by chunk when it is large.

    Raises:
        InputError: not JSON, or the top level is not an object.
    """
    buf = _json_chunks.read_document(path, map_from=sizes.min_bytes)
    doc = _json_chunks.load(buf, path, notes, keys=ARRAY_KEYS, sizes=sizes)
    if not isinstance(doc.head, dict):
        kind = "a list (a COCO results file?)" if isinstance(doc.head, list) else type(doc.head).__name__
        raise InputError(
            path,
            f"the top level is {kind}, not an object with 'images', 'annotations' and 'categories'",
            hint="Pass a COCO instances file; read detection results with coco.read_results",
        )
    return doc


@dataclass
class Columns:
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


def select(values: list[Any], keep: npt.NDArray[np.bool_]) -> list[Any]:
    return values if keep.all() else [v for v, k in zip(values, keep, strict=True) if k]


def image_chunk(records: list[Any], base: int, ctx: Context, cols: Columns) -> None:
    recs = Records(records, "images", base, ctx)
    strings: dict[int, str] = {}
    ids = int_column(recs, "id", what="image", strings=strings)
    ctx.ids.images.update((base + i, text) for i, text in strings.items())
    names = recs.get("file_name") or [MISSING] * len(recs)
    if not set(map(type, names)) <= {str} or "" in names:
        for i, n in enumerate(names):
            if (type(n) is not str or not n) and i not in recs.bad:
                problem = (
                    "'file_name' is missing"
                    if n is MISSING
                    else f"'file_name' must be a non-empty string, got {describe(n)}"
                )
                recs.fail(i, "file_name", problem, "Give every image the path of its file")
    width, height = size_column(recs, "width"), size_column(recs, "height")
    extras = recs.extras(IMAGE_KEYS) or [None] * len(recs)
    keep = recs.keep()
    cols.add(
        id=ids[keep],
        record=np.arange(base, base + len(recs))[keep],
        file_name=select(names, keep),
        width=width[keep],
        height=height[keep],
        attributes=select(extras, keep),
    )


def annotation_chunk(
    records: list[Any], base: int, ctx: Context, cols: Columns, *, section: str = "annotations", results: bool = False
) -> None:
    recs = Records(records, section, base, ctx)
    n = len(recs)
    if results:  # detections need no ids: number them in file order
        ann_ids = np.arange(base + 1, base + n + 1, dtype=np.int64)
    else:
        ann_ids = int_column(recs, "id", what="annotation")
    if results:  # detections name images of a dataset already read: its integer ids
        image_ids = int_column(recs, "image_id", what="annotation")
    else:
        strings: dict[int, str] = {}
        image_ids = ctx.ids.image_refs(int_column(recs, "image_id", what="annotation", strings=strings), strings)
    category_ids = int_column(recs, "category_id", what="annotation")
    xyxy = box_column(recs)
    xyxy[:, 2:] += xyxy[:, :2]
    area = float_column(recs, "area")
    score = float_column(recs, "score")
    iscrowd = crowd_column(recs)
    segmentation = segmentation_column(recs)
    attributes = attributes_column(recs)
    # A record with a segmentation but no bbox gets the shape's bounding box.
    for i in np.flatnonzero(np.isnan(xyxy).any(axis=1)).tolist():
        if segmentation[i] is None or i in recs.bad:
            continue
        try:
            xyxy[i] = shape_xyxy(segmentation[i])
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
        segmentation=select(segmentation, keep),
        attributes=select(attributes, keep),
    )


def renumber_string_ids(images: Columns, ctx: Context, notes: list[str]) -> None:
    """Renumber a file's images 1..K in file order when one of their ids is a string (`StringIds`).

    The original id goes to ``attributes["original_id"]``; a note and a ``coco-string-id``
    warning say so. Without string ids, only the first free id (for unknown references) is set.
    """
    ids, state = images.array("id", np.int64), ctx.ids
    if not state.images:
        state.next_free = int(ids.max()) + 1 if len(ids) else 1
        return
    records = images.array("record", np.int64).tolist()
    originals = [state.images.get(r, i) for r, i in zip(records, ids.tolist(), strict=True)]
    mapping: dict[int | str, int] = {}
    new = np.array([mapping.setdefault(id_key(o), len(mapping) + 1) for o in originals], np.int64)
    attrs = images.objects("attributes")
    images.parts["id"] = [new]
    images.parts["attributes"] = [[{**(a or {}), ORIGINAL_ID: o} for a, o in zip(attrs, originals, strict=True)]]
    state.map, state.next_free = mapping, len(mapping) + 1
    first = min(state.images)
    message = (
        f"{len(state.images):,} image ids are strings (images[{first}].id is {state.images[first]!r}): images "
        f"renumbered 1..{len(mapping):,} in file order, the original id kept as the image attribute "
        f"'{ORIGINAL_ID}'"
    )
    notes.append(f"{ctx.path.name}: {message}")
    ctx.findings.append(
        Finding(
            "coco-string-id",
            Severity.WARNING,
            message,
            file=str(ctx.path),
            record=f"images[{first}].id",
            hint="pycocotools and most trainers expect integer ids: convert to COCO to write integer ids",
        )
    )


@dataclass
class FileTables:
    """One json file's rows: image and annotation columns, validated categories, top-level extras."""

    source: Source
    images: Columns
    annotations: Columns
    categories: list[tuple[int, str, Any, dict[str, Any] | None]]
    info: dict[str, Any]


def read_file(source: Source, ctx: Context, notes: list[str], *, sizes: ChunkSizes) -> FileTables:
    """Parse one json file into its tables.

    Raises:
        InputError: not JSON, not a COCO instances object, or (raise mode) a bad record.
    """
    parsed = parse_document(source.path, notes, sizes=sizes)
    head = parsed.head
    for key in ARRAY_KEYS:
        if key not in parsed.arrays and head.get(key, MISSING) not in (MISSING, None):
            raise InputError(
                source.path,
                f"'{key}' must be a list, got {describe(head[key])}",
                record=key,
                hint=f"Write '{key}' as a list of objects",
            )
    if "images" not in parsed.arrays and head.get("images") is None:
        raise InputError(
            source.path,
            "no 'images' list: not a COCO instances file",
            hint="A COCO dataset has 'images', 'annotations' and 'categories'; results files: coco.read_results",
        )
    images, annotations = Columns(), Columns()
    for key, cols, build in (("images", images, image_chunk), ("annotations", annotations, annotation_chunk)):
        base = 0
        for records in parsed.arrays.get(key, iter(())):
            build(records, base, ctx, cols)
            base += len(records)
        if key == "images":
            renumber_string_ids(images, ctx, notes)
    if ctx.ids.references and ctx.ids.map is None:
        notes.append(
            f"{source.path.name}: {ctx.ids.references:,} annotation image_ids are strings; read as the image ids "
            "they spell (others as images that do not exist)"
        )
    categories = category_rows(head.get("categories", MISSING), ctx)
    info = {k: v for k, v in head.items() if k not in TABLE_KEYS}
    return FileTables(source, images, annotations, categories, info)
