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

Large files are parsed in chunks of records (`dataprep.formats._json_chunks`: the file is
indexed once with numpy, then each slice of the ``images``/``annotations`` arrays is parsed
with orjson and turned into columns before the next), so peak memory stays a small multiple
of the file size.

Modules by role: `layout` (find the json files, splits and images), `fields` and `parse`
(bytes to rows), `merge` (several files to one set of tables), `write` (rows to bytes),
`results` (detections files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dataprep._gc import gc_paused
from dataprep.dataset import Dataset
from dataprep.errors import Finding, InputError, UsageError
from dataprep.formats._json_chunks import DEFAULT_SIZES, ChunkSizes
from dataprep.formats.base import FormatSpec, OnError, ReadResult
from dataprep.formats.coco import documents
from dataprep.formats.coco.fields import EXTRA_KEY, Context
from dataprep.formats.coco.layout import (
    DEFAULT_SPLIT_NAME,
    ROBOFLOW_NAME,
    Layout,
    Source,
    detect,
    find_sources,
    locate_images,
    relative,
)
from dataprep.formats.coco.merge import Merged, merge, sources
from dataprep.formats.coco.parse import FileTables, read_file
from dataprep.formats.coco.results import read_results
from dataprep.formats.coco.write import CAPABILITIES, plan, write

__all__ = [
    "CAPABILITIES",
    "DEFAULT_SPLIT_NAME",
    "EXTRA_KEY",
    "FORMAT",
    "ROBOFLOW_NAME",
    "ChunkSizes",
    "detect",
    "plan",
    "read",
    "read_results",
    "write",
]


def read(
    path: Path,
    *,
    on_error: OnError = "raise",
    probe_sizes: bool = True,
    provenance: bool = False,
    chunk_sizes: ChunkSizes = DEFAULT_SIZES,
    **options: Any,
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
        chunk_sizes: from what file size, and in how many records at a time, the big arrays
            are parsed (memory against speed; the result is the same).

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
    layout = find_sources(Path(path))
    notes = list(layout.notes)
    findings: list[Finding] = []
    with gc_paused():
        files = [_read_source(source, on_error, notes, findings, chunk_sizes) for source in layout.sources]
        if len(files) > 1:
            notes.append(
                f"layout: {layout.kind}; splits {', '.join(str(s.split) for s in layout.sources)} from "
                f"{', '.join(relative(s.path, layout.root) for s in layout.sources)}"
            )
        tables = merge(files, layout, on_error, notes, findings)
        provenance_tables = sources(tables) if provenance else (None, None)
        dataset = _assemble(tables, layout, notes, probe_sizes=probe_sizes)
    return ReadResult(dataset, "coco", findings, notes, *provenance_tables)


def _read_source(
    source: Source, on_error: OnError, notes: list[str], findings: list[Finding], sizes: ChunkSizes
) -> FileTables:
    ctx = Context(source.path, on_error)
    tables = read_file(source, ctx, notes, sizes=sizes)
    findings += ctx.findings
    return tables


def _assemble(tables: Merged, layout: Layout, notes: list[str], *, probe_sizes: bool) -> Dataset:
    """The dataset: image files located on disk, sizes missing in the json read from their headers."""
    images = tables.images
    names, root = locate_images(images["file_name"], tables.file_index, tables.prefixes, layout, notes)
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


FORMAT = FormatSpec(
    "coco",
    "COCO instances json (annotations/instances_<split>.json, Roboflow <split>/_annotations.coco.json)",
    CAPABILITIES,
    detect,
    read,
    write,
    extensions=(".json",),
    plan=plan,
    validation=documents.HOOKS,
)
