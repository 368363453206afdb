"""Label Studio JSON: the full export (a list of tasks with ``annotations[].result[]``) and JSON-MIN.

Reading (see `parse` for the result types, `layout` for the image URL rule): one json file, or
a folder holding one (``tasks.json`` preferred); ``image_id`` 1..N in task order; sizes from the
results' ``original_width``/``original_height``, else the image file's header. Categories come
from the label config xml beside the json (``label_config.xml``, ``<stem>_label_config.xml`` or
``label_config_<name>.xml``: every ``<Label value>``/``<Choice value>`` in order, ids 1..C), else
sorted names. Boxes are absolute continuous xyxy pixels (percent x image size). An export of
1 MiB or more is decoded a chunk of tasks at a time (`parse.load_tasks`), never whole. NaN and
Infinity literals (Python's json writes them; Label Studio exports with it) are read with a
note, as for COCO; other invalid JSON is refused with orjson's position in the file.

Writing: ``tasks.json`` (an import file: ``data.image`` = ``/data/local-files/?d=<file_name>``,
and the objects as ``annotations[0].result``) + ``label_config.xml`` with a control tag per kind
used; see `write`. Modules by role: `layout`, `parse`, `brush` (the brush RLE), `write`,
`documents`.
"""

from __future__ import annotations

from os.path import isfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd

from dataprep.errors import InputError
from dataprep.formats._annotation_tools import check_options, finish_read, images_table, probe_sizes
from dataprep.formats._json_chunks import ChunkSizes
from dataprep.formats.base import FormatSpec, OnError, ReadResult
from dataprep.formats.label_studio import brush, documents
from dataprep.formats.label_studio.layout import (
    CONFIG_FILE,
    LOCAL_FILES_PREFIX,
    TASKS_FILE,
    Layout,
    check_safe_xml,
    detect,
    file_name_from_url,
    resolve_layout,
)
from dataprep.formats.label_studio.parse import CHUNK_SIZES, Rows, load_tasks, parse_export
from dataprep.formats.label_studio.write import CAPABILITIES, plan, write

__all__ = [
    "CAPABILITIES",
    "CONFIG_FILE",
    "FORMAT",
    "LOCAL_FILES_PREFIX",
    "TASKS_FILE",
    "brush",
    "detect",
    "file_name_from_url",
    "plan",
    "read",
    "write",
]


def read(
    path: Path,
    *,
    on_error: OnError = "raise",
    provenance: bool = False,
    chunk_sizes: ChunkSizes = CHUNK_SIZES,
    **options: Any,
) -> ReadResult:
    """Read a Label Studio json export (full or JSON-MIN) into a `Dataset`.

    Args:
        path: the export json, or a folder holding it.
        on_error: ``"raise"`` at the first bad task or result, or ``"collect"`` findings.
        provenance: fill the result's image and annotation sources.
        chunk_sizes: from what file size, and how many tasks at a time, the export is decoded
            (memory against speed; the result is the same).
        **options: none known (refused).

    Raises:
        InputError: no export found, invalid JSON, an image path leaving the folder, a result
            with bad values (``on_error="raise"``; else findings), or an unsafe label config.
        UsageError: an unknown option.
    """
    check_options("label-studio", options)
    # 1. layout: the json and its label config
    layout = resolve_layout(Path(path))
    order = _config_labels(layout.config) if layout.config else None
    # 2. parse, a chunk of tasks at a time (else a bad value among the queued rectangles or an
    # unsafe image name: again, result by result, to name it)
    tasks = load_tasks(layout.json_file, chunk_sizes, notes=layout.notes)
    rows, collector = parse_export(tasks, str(layout.json_file), on_error)
    _notes(layout, rows)
    # 3. tables, 4. the result
    tables = (_images_table(layout, rows), *_categories(rows.label, order, layout.notes))
    sources = [layout.json_file.name] * len(rows.file_name) if provenance else None
    return finish_read("label-studio", layout.root, layout.notes, collector, rows, tables, sources)


def _config_labels(config: Path) -> list[str]:
    """Every ``<Label value>``/``<Choice value>`` of a label config, in order, without repeats."""
    data = config.read_bytes()
    check_safe_xml(data, str(config))
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as err:
        raise InputError(config, f"malformed XML ({err})", hint="Copy the config from the project's settings") from None
    names: list[str] = []
    for element in root.iter():
        value = element.get("value")
        if element.tag in ("Label", "Choice") and value and value not in names:
            names.append(value)
    return names


def _notes(layout: Layout, rows: Rows) -> None:
    notes = layout.notes
    if layout.config:
        notes.append(f"categories from {layout.config.name}")
    if rows.remote:
        notes.append(f"{rows.remote} images are remote URLs: file names are their last path segment")
    if rows.multi_annotator:
        notes.append(f"{rows.multi_annotator} tasks have several annotations: the objects of all are kept")
    if rows.predictions:
        notes.append(f"skipped {rows.predictions} predictions (only annotations are read)")
    for kind, n in sorted(rows.skipped_types.items()):
        notes.append(f"skipped {n} results of type {kind!r}")


def _images_table(layout: Layout, rows: Rows) -> pd.DataFrame:
    root = str(layout.root)
    todo = [
        k
        for k, (name, w) in enumerate(zip(rows.file_name, rows.width, strict=True))
        if w is None and isfile(f"{root}/{name}")
    ]
    widths, heights = probe_sizes(layout.root, rows, todo, layout.notes)
    return images_table(rows.file_name, widths, heights)


def _categories(labels: list[str], order: list[str] | None, notes: list[str]) -> tuple[pd.DataFrame, pd.Series]:
    names = list(order or [])
    extra = sorted(set(labels) - set(names))
    if order is not None and extra:
        notes.append(f"labels not in the label config: {', '.join(extra[:10])}")
    names += extra
    ids = np.arange(1, len(names) + 1, dtype=np.int64)
    categories = pd.DataFrame({"category_id": ids, "name": pd.array(names, dtype="str")})
    return categories, pd.Series(ids, index=names)


FORMAT = FormatSpec(
    "label-studio",
    "Label Studio JSON export (full or JSON-MIN, values in percent) + label_config.xml",
    CAPABILITIES,
    detect,
    read,
    write,
    extensions=(".json",),
    plan=plan,
    validation=documents.HOOKS,
)
