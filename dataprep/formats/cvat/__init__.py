"""CVAT for images 1.1 xml: task exports (``<name>.xml`` or ``annotations.xml`` + ``images/``) and
project exports (``annotations.xml`` whose images carry a ``subset``, images in ``images/<subset>/``).

Reading (see `parse` for the shapes and attributes): ``image_id`` 1..N in document order
(files in name order); ``file_name`` is where the image is found (``images/<subset>/<name>``,
``images/<name>`` or ``<name>``, relative to the folder, ``root``); sizes from the xml. The split
of an image is its ``subset`` attribute, else its task's ``<subset>`` in the project's
``<meta>``, else the task's ``<subset>``, else the xml file's stem (Datumaro's ``train.xml``;
``annotations``/``default`` mean none); ``Train``/``Validation``/``Test`` become
``train``/``val``/``test``, other names stay verbatim. Categories are the ``<meta>`` labels in
order (ids 1..C), their attribute specs kept in ``categories.attributes`` so that writing CVAT
again restores ``<meta>``; labels only met on shapes follow, sorted. Shapes without a label
are skipped (noted). ``<track>`` (video) exports are refused.

Modules by role: `layout` (files, detection), `parse` (xml bytes -> rows), `bulk` (the common
file of plain boxes, read with two regex scans instead of a tree), `write` (`plan` and `write`
on one ``_prepare``), `documents` (validation hooks).
"""

from __future__ import annotations

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
)
from dataprep.formats.base import SPLIT_ALIASES, FormatSpec, OnError, ReadResult
from dataprep.formats.cvat import documents
from dataprep.formats.cvat.layout import IMAGES_DIR, PROJECT_FILE, Layout, detect, resolve_layout
from dataprep.formats.cvat.parse import Rows, check_safe, decode_mask, parse_file, resolve_deferred
from dataprep.formats.cvat.write import CAPABILITIES, plan, write

__all__ = [
    "CAPABILITIES",
    "FORMAT",
    "IMAGES_DIR",
    "PROJECT_FILE",
    "check_safe",
    "decode_mask",
    "detect",
    "plan",
    "read",
    "write",
]


def read(path: Path, *, on_error: OnError = "raise", provenance: bool = False, **options: Any) -> ReadResult:
    """Read a CVAT for images 1.1 export (a folder or one xml file) into a `Dataset`.

    Raises:
        InputError: no CVAT xml, malformed or unsafe xml (DOCTYPE/ENTITY), a video export
            (``<track>``), or a shape with bad geometry (``on_error="raise"``; else a finding).
        UsageError: an unknown option.
    """
    check_options("cvat", options)
    # 1. layout: the xml files and the image files under the folder
    layout = resolve_layout(Path(path))
    # 2. parse: every xml -> rows (a file of plain boxes in bulk, without a tree); plain boxes
    # converted in one pass at the end (else a bad coordinate among them: again, shape by
    # shape, to name it)
    rows, collector = parse_rows(lambda c, defer: _parse_first(layout, c, defer=defer), resolve_deferred, on_error)
    _notes(layout, rows)
    # 3. tables, 4. the result
    tables = (_images_table(rows, layout.notes), *_categories(rows, layout.notes))
    sources = rows.source if provenance else None
    return finish_read("cvat", layout.root, layout.notes, collector, rows, tables, sources)


def _parse_first(layout: Layout, collector: Collector, *, defer: bool) -> Rows:
    """`_parse_files`; under ``on_error="raise"`` the error raised is the first in document order, as
    shape by shape (a bad coordinate among the queued boxes is only found at the end)."""
    try:
        return _parse_files(layout, collector, defer=defer)
    except InputError:
        if defer:  # raises the first error in document order
            _parse_files(layout, Collector(collector.on_error), defer=False)
        raise


def _parse_files(layout: Layout, collector: Collector, *, defer: bool) -> Rows:
    rows = Rows()
    for xml in layout.xml_files:
        stem = xml.stem
        default_subset = None if stem.lower() in ("annotations", "default") else stem
        try:
            data = xml.read_bytes()
            parse_file(data, str(xml), xml.name, default_subset, collector, rows, layout.image_files, defer=defer)
        except InputError as err:  # the whole file: malformed, unsafe, or a video export
            collector.report(err)
    return rows


def _notes(layout: Layout, rows: Rows) -> None:
    notes = layout.notes
    if rows.unlabelled:
        notes.append(f"skipped {rows.unlabelled} shapes without a label")
    for kind, n in sorted(rows.skipped.items()):
        notes.append(f"skipped {n} <{kind}> shapes (not supported yet)")
    if rows.missing_files:
        notes.append(f"{rows.missing_files} of {len(rows.file_name)} image files not found")


def _split_name(subset: str | None) -> Any:
    if not subset:
        return np.nan
    alias = SPLIT_ALIASES.get(subset.lower(), subset)
    return np.nan if alias is None else alias


def _images_table(rows: Rows, notes: list[str]) -> pd.DataFrame:
    splits = [_split_name(s) for s in rows.split]
    renamed = sorted({s for s, v in zip(rows.split, splits, strict=True) if s and v != s})
    if renamed:
        notes.append(
            f"subsets {', '.join(renamed)} read as splits {', '.join(SPLIT_ALIASES[s.lower()] for s in renamed)}"
        )
    return images_table(rows.file_name, rows.width, rows.height, split=pd.array(splits, dtype="str"))


def _categories(rows: Rows, notes: list[str]) -> tuple[pd.DataFrame, pd.Series]:
    names = list(rows.labels)
    extra = sorted(set(rows.label) - set(names))
    if extra:
        notes.append(f"labels not declared in <meta>: {', '.join(extra[:10])}")
    names += extra
    attrs = []
    for name in names:
        spec = rows.labels.get(name)
        value: dict[str, Any] = dict(spec.extras) if spec else {}
        if spec and spec.attributes:
            value["attributes"] = [
                {"name": k, "input_type": t, "default_value": d, "values": v}
                for k, (t, d, v) in spec.attributes.items()
            ]
        attrs.append(value or None)
    ids = np.arange(1, len(names) + 1, dtype=np.int64)
    categories = pd.DataFrame(
        {"category_id": ids, "name": pd.array(names, dtype="str"), "attributes": pd.Series(attrs, dtype=object)}
    )
    return categories, pd.Series(ids, index=names)


FORMAT = FormatSpec(
    "cvat",
    "CVAT for images 1.1 xml: annotations.xml (task or project export) + images/[<subset>/]",
    CAPABILITIES,
    detect,
    read,
    write,
    extensions=(".xml",),
    plan=plan,
    validation=documents.HOOKS,
)
