"""Pascal VOC: one ``Annotations/<id>.xml`` per image, ``ImageSets/Main/<split>.txt`` id lists,
images in ``JPEGImages/`` and an optional Datumaro/CVAT ``labelmap.txt``.

Coordinates: VOC boxes are 1-based inclusive pixel indices. Reading applies
`boxes.voc_to_xyxy` (x_min = xmin - 1, x_max = xmax, as detectron2's
``data/datasets/pascal_voc.py`` states); writing applies `boxes.xyxy_to_voc` and rounds to whole
pixels (reported as ``coordinates-rounded``). A full-image box ``1, 1, W, H`` is xyxy ``0, 0, W, H``.

Per-object extras go to ``annotations.attributes`` (None when there are none):

- ``difficult``, ``truncated``, ``occluded``: bool (``0``/``1`` in the file; other integers
  stay int, other text stays str). VOC's defaults (0, and ``pose`` ``Unspecified``) are *not*
  stored, so only meaningful flags travel to other formats; the writer writes the defaults back.
- ``pose``: str, when not ``Unspecified``.
- ``parts``: list of ``{"name", "x_min", "y_min", "x_max", "y_max"}`` (continuous xyxy like the
  boxes, coordinates kept unrounded), from ``<part>`` sub-boxes (e.g. a person's head).
- ``actions``: dict of action name -> bool flag, from ``<actions>`` (VOC action task).
- CVAT ``<attributes><attribute><name>k</name><value>v</value>`` and any other leaf element
  of ``<object>`` (``<score>``, ``<id>``...): ``k: v`` at the top level, with ``true``/``false``
  read as bool and numbers as int/float; the writer puts them all back as CVAT attributes.

Images: a ``<size>`` of width/height > 0 is trusted; otherwise the header of the image file is
read when the file exists (`files.probe_image`), else the size is ``<NA>`` (noted). A ``<depth>``
other than 3 is kept in ``images.attributes["depth"]``.

Security: XML with a DOCTYPE or ENTITY declaration is refused before parsing (entity expansion
"billion laughs", external entities); VOC never needs one.

The package is split by role: `layout` (where the files are: detection, folders, split lists,
labelmap), `parse` (xml bytes -> rows), `attributes` (what VOC holds of an object's extras, and
their xml), `write` (`plan` and `write`, both built on one ``_prepare``), `documents`
(validation hooks); this module holds `FORMAT` and `read`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dataprep import boxes
from dataprep.dataset import Dataset
from dataprep.errors import InputError, UsageError
from dataprep.files import probe_image
from dataprep.formats.base import SPLIT_ALIASES, FormatSpec, OnError, ReadResult
from dataprep.formats.voc import documents
from dataprep.formats.voc.layout import (
    ANNOTATIONS_DIR,
    IMAGES_DIR,
    LABELMAP,
    NO_SPLIT,
    SPLITS_DIR,
    Collector,
    Layout,
    categories_frame,
    detect,
    image_file_names,
    index_files,
    list_xml,
    read_splits,
    resolve_layout,
)
from dataprep.formats.voc.parse import FLAGS, Rows, parse_files
from dataprep.formats.voc.write import CAPABILITIES, plan, write

__all__ = [
    "ANNOTATIONS_DIR",
    "CAPABILITIES",
    "FLAGS",
    "FORMAT",
    "IMAGES_DIR",
    "LABELMAP",
    "NO_SPLIT",
    "SPLITS_DIR",
    "detect",
    "plan",
    "read",
    "write",
]


def read(path: Path, *, on_error: OnError = "raise", provenance: bool = False, **options: Any) -> ReadResult:
    """Read a Pascal VOC dataset folder into a `Dataset`.

    Accepts the standard layout (``Annotations/``, ``ImageSets/Main/<split>.txt``,
    ``JPEGImages/``, optional ``labelmap.txt``), a folder holding one such dataset
    (``VOCdevkit/``), or a bare folder of VOC xml files with the images beside them.

    Images are the xml files plus ids listed in split files without an xml (images without
    labels); ``image_id`` 1..N in sorted VOC-id order; ``file_name`` is ``JPEGImages/<filename>``
    relative to the dataset folder (``root``). An id in several split files gets the most specific
    one (train/val/test before trainval); ``default.txt`` means no split. Categories come from
    ``labelmap.txt`` in its order (ids 1..C), else sorted class names. Boxes are continuous xyxy.
    With ``on_error="collect"`` a broken file is left out (not turned into an unlabelled image)
    and a bad object is skipped, each with a finding. ``provenance=True`` also returns each
    image's xml file and each object's file, line and ``object[k]`` path.

    Raises:
        InputError: the folder is missing, an xml file is malformed or unsafe (DOCTYPE/ENTITY),
            or an object's field is missing or not a number (with ``on_error="raise"``).
        UsageError: an unknown option.
    """
    if options:
        raise UsageError(f"voc reader: unknown option(s) {', '.join(sorted(options))}")
    collector = Collector(on_error)
    # 1. layout: the dataset folder, its split lists and xml files
    layout = resolve_layout(Path(path))
    split_of = read_splits(layout, collector)
    xml_ids, hidden = list_xml(layout.annotations)
    if hidden:
        layout.notes.append(
            f"skipped {hidden} hidden files/folders in {layout.annotations.name}/ (e.g. macOS '._*' files)"
        )
    # 2. parse: every xml file (and split-list id without one) in sorted VOC-id order -> rows
    source_dir = _relative_dir(layout.annotations, layout.root) if provenance else None
    if layout.folder_splits:  # Roboflow: train/a.xml is in split train, valid/ in val
        split_of = {i: SPLIT_ALIASES.get(i.split("/", 1)[0].lower()) or i.split("/", 1)[0] for i in xml_ids if "/" in i}
    voc_ids = sorted(xml_ids.keys() | split_of.keys())
    rows = parse_files(str(layout.annotations), xml_ids, voc_ids, collector, source_dir=source_dir)
    # 3. tables: images (files found, sizes probed where missing), categories, annotations
    images = _images_table(layout, rows, split_of)
    cat_names, categories = categories_frame(layout.root, sorted(set(rows.object_name)), collector, layout.notes)
    annotations = _annotations_table(rows, cat_names)
    # 4. the result, with where each row came from when asked
    ds = Dataset.from_frames(images, annotations, categories, root=layout.root)
    result = ReadResult(ds, "voc", collector.findings, layout.notes)
    if provenance:
        _add_provenance(result, rows)
    return result


def _images_table(layout: Layout, rows: Rows, split_of: dict[str, str]) -> pd.DataFrame:
    """The images table of `rows`: file names resolved against the image folder, sizes filled."""
    notes = layout.notes
    image_files, image_stems = index_files(layout.images)
    prefix = layout.images_rel + "/" if layout.images_rel else ""
    file_names, fallbacks = image_file_names(rows.voc_id, rows.filename, image_files, image_stems, prefix)
    if rows.without_xml:
        notes.append(f"{rows.without_xml} image(s) listed in {SPLITS_DIR} without an annotation file: no labels")
    if fallbacks:
        notes.append(f"{fallbacks} <filename> values were absolute or left the folder: used base names")
    if rows.unknown_nested:
        tags = ", ".join(f"<{t}> x{n}" for t, n in sorted(rows.unknown_nested.items()))
        notes.append(f"ignored unknown nested object elements: {tags}")
    widths, heights = list(rows.width), list(rows.height)
    _fill_sizes(layout, file_names, widths, heights, image_files)
    listed = [split_of.get(i) for i in rows.voc_id]
    splits = [None if s == NO_SPLIT else s for s in listed]
    unlisted, in_default = listed.count(None), listed.count(NO_SPLIT)
    if split_of and unlisted:
        notes.append(f"{unlisted} images are in no split list (split left empty)")
    if in_default:
        notes.append(f"{in_default} images listed in {NO_SPLIT}.txt (CVAT's and Datumaro's 'no subset'): no split")
    return pd.DataFrame(
        {
            "image_id": np.arange(1, len(file_names) + 1, dtype=np.int64),
            "file_name": pd.array(file_names, dtype="str"),
            "width": pd.array(widths, dtype="Int64"),
            "height": pd.array(heights, dtype="Int64"),
            "split": pd.array([np.nan if s is None else s for s in splits], dtype="str"),
            "attributes": pd.Series(rows.attributes, dtype=object),
        }
    )


def _fill_sizes(
    layout: Layout,
    file_names: list[str],
    widths: list[int | None],
    heights: list[int | None],
    image_files: set[str],
) -> None:
    """Fill unknown sizes in place from image headers, where the image file exists; note the rest."""
    prefix_len = len(layout.images_rel) + 1 if layout.images_rel else 0
    missing = probed = unreadable = unknown = 0
    for k, file_name in enumerate(file_names):
        on_disk = file_name[prefix_len:] in image_files
        missing += not on_disk
        if widths[k] is not None and heights[k] is not None:
            continue  # the xml says: never open the image
        if not on_disk:
            unknown += 1
            continue
        try:
            header = probe_image(layout.root / file_name)
        except InputError:
            unreadable += 1
            continue
        widths[k] = widths[k] or header.width
        heights[k] = heights[k] or header.height
        probed += 1
    notes = layout.notes
    if missing:
        where = f"{layout.images_rel}/" if layout.images_rel else "the folder"
        notes.append(f"{missing} of {len(file_names)} image files not found in {where}")
    if probed:
        notes.append(f"read {probed} image sizes from image headers (no <size> in the xml)")
    if unknown:
        notes.append(f"{unknown} image sizes unknown (no <size> and no image file)")
    if unreadable:
        notes.append(f"{unreadable} image files without <size> could not be read: sizes unknown")


def _annotations_table(rows: Rows, cat_names: list[str]) -> pd.DataFrame:
    """The annotations table of `rows`: ids 1..N in file order, VOC boxes as continuous xyxy."""
    n = len(rows.object_name)
    xyxy = boxes.voc_to_xyxy(np.array(rows.object_coords, dtype=np.float64).reshape(n, 4))
    return pd.DataFrame(
        {
            "annotation_id": np.arange(1, n + 1, dtype=np.int64),
            "image_id": np.array(rows.object_image, dtype=np.int64) + 1,
            "category_id": pd.Index(cat_names).get_indexer(rows.object_name).astype(np.int64) + 1,
            "x_min": xyxy[:, 0],
            "y_min": xyxy[:, 1],
            "x_max": xyxy[:, 2],
            "y_max": xyxy[:, 3],
            "attributes": pd.Series(rows.object_attributes, dtype=object),
        }
    )


def _add_provenance(result: ReadResult, rows: Rows) -> None:
    """Each image's xml file, and each object's file, line and ``object[k]`` path."""
    ds = result.dataset
    result.image_sources = pd.DataFrame({"file": pd.array(rows.source, dtype="str")}, index=ds.images.index)
    result.annotation_sources = pd.DataFrame(
        {
            "file": rows.object_source,
            "line": pd.array(rows.object_line, dtype="Int64"),
            "record": rows.object_record,
        },
        index=pd.Index(ds.annotations.index.to_numpy(), name="annotation_id"),
    )


def _relative_dir(folder: Path, root: Path) -> str:
    """``folder`` relative to ``root`` with a trailing ``/`` (``""`` when they are the same)."""
    try:
        rel = folder.relative_to(root).as_posix()
    except ValueError:
        rel = folder.as_posix()
    return "" if rel in ("", ".") else rel + "/"


FORMAT = FormatSpec(
    "voc",
    "Pascal VOC xml: Annotations/, ImageSets/Main/<split>.txt, JPEGImages/, labelmap.txt",
    CAPABILITIES,
    detect,
    read,
    write,
    extensions=(".xml",),
    plan=plan,
    validation=documents.HOOKS,
)
