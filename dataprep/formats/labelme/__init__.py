"""LabelMe json: one ``<image>.json`` per image, beside it, with ``shapes`` in absolute pixels.

Reading (see `parse` for every shape type): the json files of a folder (sub-folders too) or one
json file; ``image_id`` 1..N in sorted json path order; ``file_name`` is ``imagePath`` resolved
against the json's folder (relative to the dataset folder, ``root``); a path leaving the folder
falls back to the json's stem with the image suffix (noted). Sizes come from
``imageWidth``/``imageHeight``, else from the header of a base64 ``imageData`` (bounded: more
than 128 MiB of base64, or a header claiming more pixels than Pillow's decompression-bomb limit,
is refused), else from the image file's header. No splits. An image that exists only as
``imageData`` is written out as a file by writers placing images (`embedded_image`, the
format's ``image_source``), and embedded again by ``embed_images``.

Categories: ``labels.txt`` beside the files fixes the order, ids as LabelMe's labelme2coco gives
them (line number - 1, so the first class after ``__ignore__`` and ``_background_`` is 1); those
two names are never classes (``__ignore__`` shapes are skipped, ``_background_`` is the
background of LabelMe's semantic masks). Labels not in ``labels.txt`` follow it, sorted (noted).
Without ``labels.txt``: sorted names, ids 1..C.

Writing: see `write`. Modules by role: `layout` (files, detection, labels.txt), `parse` (json
bytes -> rows), `write` (`plan` and `write` on one ``_prepare``), `documents` (validation hooks).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dataprep.errors import InputError
from dataprep.formats._annotation_tools import (
    Collector,
    check_options,
    finish_read,
    images_table,
    parse_rows,
    probe_sizes,
)
from dataprep.formats.base import FormatSpec, OnError, ReadResult
from dataprep.formats.labelme import documents
from dataprep.formats.labelme.layout import (
    BACKGROUND_LABEL,
    IGNORE_LABEL,
    LABELS_FILE,
    Layout,
    detect,
    read_labels_file,
    resolve_layout,
)
from dataprep.formats.labelme.parse import MAX_IMAGE_DATA_CHARS, Rows, embedded_image, parse_file, resolve_deferred
from dataprep.formats.labelme.write import CAPABILITIES, plan, write

__all__ = [
    "BACKGROUND_LABEL",
    "CAPABILITIES",
    "FORMAT",
    "IGNORE_LABEL",
    "LABELS_FILE",
    "MAX_IMAGE_DATA_CHARS",
    "detect",
    "embedded_image",
    "plan",
    "read",
    "write",
]


def read(path: Path, *, on_error: OnError = "raise", provenance: bool = False, **options: Any) -> ReadResult:
    """Read LabelMe json files (a folder, or one file) into a `Dataset`; boxes are continuous xyxy pixels.

    Raises:
        InputError: no json file, invalid JSON, a shape with bad points or an unknown type, or an
            ``imageData`` that is a base64 bomb (with ``on_error="raise"``; else findings).
        UsageError: an unknown option.
    """
    check_options("labelme", options)
    # 1. layout: the json files and labels.txt
    layout = resolve_layout(Path(path))
    label_order = read_labels_file(layout.root, layout.notes)
    # 2. parse: every json -> rows; plain rectangles and polygons in one numpy pass at the end (else
    # a malformed shape among them: again, shape by shape, to name it)
    rows, collector = parse_rows(lambda c, defer: _parse_files(layout, c, defer=defer), resolve_deferred, on_error)
    _notes(layout, rows)
    # 3. tables, 4. the result
    tables = (_images_table(layout, rows), *_categories(rows.label, label_order, layout.notes))
    sources = rows.source if provenance else None
    return finish_read("labelme", layout.root, layout.notes, collector, rows, tables, sources)


def _parse_files(layout: Layout, collector: Collector, *, defer: bool) -> Rows:
    rows = Rows()
    base = str(layout.root)
    for rel in layout.files:
        file = f"{base}/{rel}"  # plain strings: Path objects cost more than parsing on 100k small files
        try:
            data = _read_bytes(file)
        except OSError as err:
            collector.report(InputError(file, f"cannot read ({err.strerror})", hint="Check permissions"))
            continue
        parse_file(data, rel, file, collector, rows, defer=defer)
    return rows


_CHUNK = 1 << 16  # most LabelMe files without imageData are a few KiB


def _read_bytes(path: str) -> bytes:
    """The bytes of the file at `path`: raw descriptor reads, half the cost of ``open().read()`` on small files.

    Raises:
        OSError: as ``open`` and ``read`` do (a folder: ``IsADirectoryError`` from the read).
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, _CHUNK)
        if len(data) < _CHUNK:
            return data
        chunks = [data]
        size = max(_CHUNK, os.fstat(fd).st_size - len(data) + 1)  # the rest in one read, unless it grows
        while chunk := os.read(fd, size):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _notes(layout: Layout, rows: Rows) -> None:
    notes = layout.notes
    if rows.ignored:
        notes.append(f"skipped {rows.ignored} '{IGNORE_LABEL}' shapes (LabelMe's converters' rule)")
    if rows.path_fallbacks:
        notes.append(f"{rows.path_fallbacks} imagePath values were missing or left the folder: used the json's name")
    if rows.sizes_from_data:
        notes.append(f"read {rows.sizes_from_data} image sizes from the embedded imageData")
    if any(rows.embedded):
        embedded = sum(rows.embedded)
        notes.append(f"{embedded} files embed their image (imageData): --images copy writes it where no file is")


def _images_table(layout: Layout, rows: Rows) -> pd.DataFrame:
    todo = [k for k, (w, h) in enumerate(zip(rows.width, rows.height, strict=True)) if w is None or h is None]
    widths, heights = probe_sizes(layout.root, rows, todo, layout.notes)
    return images_table(rows.file_name, widths, heights)


def _categories(labels: list[str], order: list[str] | None, notes: list[str]) -> tuple[pd.DataFrame, pd.Series]:
    """Categories (ids from labels.txt's line numbers - 1, else 1..C sorted) and name -> id."""
    used = sorted(set(labels))
    if order is None:
        names, ids = used, list(range(1, len(used) + 1))
    else:
        names, ids = list(order), list(range(1, len(order) + 1))
        extra = [n for n in used if n not in set(order)]
        if extra:
            notes.append(f"labels not in {LABELS_FILE}, added after it: {', '.join(extra[:10])}")
            names += extra
            ids += list(range(len(order) + 1, len(order) + 1 + len(extra)))
    categories = pd.DataFrame({"category_id": np.array(ids, dtype=np.int64), "name": pd.array(names, dtype="str")})
    return categories, pd.Series(ids, index=names, dtype=np.int64)


FORMAT = FormatSpec(
    "labelme",
    "LabelMe json: one <image>.json per image beside it (shapes in pixels), optional labels.txt",
    CAPABILITIES,
    detect,
    read,
    write,
    extensions=(".json",),
    plan=plan,
    validation=documents.HOOKS,
    image_source=embedded_image,
)
