"""YOLO txt labels in the Ultralytics (``data.yaml``) and darknet (``obj.data``) layouts.

One label file per image, one object per line, coordinates normalized by the image size:

- ``class cx cy w h``: a box (normalized centre and size);
- ``class cx cy w h conf``: a predicted box with its confidence;
- ``class x1 y1 ... xk yk`` (k >= 3): a polygon, whose box is the polygon's bounds;
- ``class x1 y1 ... xk yk conf``: a predicted polygon (Ultralytics ``save_conf``).

Class indices are 0-based; in the model ``category_id = class index + 1`` so COCO output never
has category 0 (which pycocotools treats as "unmatched"). Absolute coordinates need the image
size, read from the image header with its EXIF orientation applied (the label coordinates are
relative to the image as displayed, which is how Ultralytics and OpenCV load it).

Layouts read (`layout`): Ultralytics ``data.yaml``, darknet ``obj.data``, and loose folders
without a config. Layouts written (`write`): ``ultralytics`` and ``darknet``.

The package by role: `layout` finds the files and splits (reading ``data.yaml`` in `data_yaml`,
``obj.data`` in `obj_data`; `paths` resolves their entries and holds `label_path_for`, the
images -> labels rule; `inventory` the resulting `Layout`), `labels` pairs images with label
files, `names` reads class names,
`parse` turns label bytes into rows and rows into annotations, `write` places and writes (its
`_prepare` shared with `plan`), `documents` holds the validation hooks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.errors import UsageError
from dataprep.formats.base import FormatSpec, ReadResult
from dataprep.formats.yolo import documents, labels, layout, names, parse
from dataprep.formats.yolo import write as writer
from dataprep.formats.yolo._common import ReadContext, relative
from dataprep.formats.yolo.layout import Layout, detect, label_path_for
from dataprep.formats.yolo.write import LAYOUTS, TASKS, plan

__all__ = ["FORMAT", "LAYOUTS", "TASKS", "detect", "label_path_for", "plan", "read"]


def read(path: Path, *, on_error: str = "raise", provenance: bool = False, **options: Any) -> ReadResult:
    """Read a YOLO dataset (folder, data.yaml or obj.data) into a Dataset.

    Image ids are 1..N in sorted ``file_name`` order; annotation ids 1..M in file and line
    order; ``category_id`` is the class index + 1. Boxes are absolute continuous xyxy pixels
    (normalized cxcywh times the displayed image size); polygons become ``(K, 2)`` absolute
    arrays with their bounds as the box; a 6th column (or a last one after a polygon) is the score.

    Raises:
        InputError: a config is missing its names or splits, a label line is malformed (with
            file and line), a label file is binary, or a label file has no image
            (``on_error="collect"`` turns per-file and per-line problems into findings).
        UsageError: an unknown option.
    """
    if options:
        raise UsageError(f"unknown yolo read option(s): {', '.join(sorted(options))}")
    if on_error not in ("raise", "collect"):
        raise UsageError(f"on_error must be 'raise' or 'collect', not {on_error!r}")
    ctx = ReadContext(on_error)
    found = layout.find(Path(path), ctx)  # 1. config, images, their splits, class names
    images = _images(found, ctx)  # 2. each image's label file and displayed size
    label_files, label_image, rows = parse.read_label_files(images.labels, ctx)  # 3. label bytes -> rows
    return _result(found, images, label_files, label_image, rows, ctx, provenance)  # 4. rows -> Dataset


@dataclass(frozen=True)
class _Images:
    """The images in ``file_name`` order, with what step 2 found about each."""

    root: str  # what file names are relative to
    paths: list[str]  # absolute
    names: list[str]  # relative POSIX: the ``file_name`` column
    splits: list[str | None]
    labels: list[str | None]  # label file, None when there is none or its image has no size
    width: npt.NDArray[np.float64]  # as displayed; NaN when unknown
    height: npt.NDArray[np.float64]


def _images(found: Layout, ctx: ReadContext) -> _Images:
    """Pair each image with its label file (reporting orphans), sort by file name, read the sizes."""
    image_paths = list(found.image_paths)
    root = found.root
    if image_paths:
        common = os.path.commonpath([root, *{p.rpartition(os.sep)[0] or os.sep for p in image_paths}])
        if common != root:
            ctx.notes.append(f"images lie outside {root}: file names are relative to {common}")
            root = common
    label_of = labels.pair_labels(found, image_paths, ctx)
    rel = relative(image_paths, root)
    order = sorted(range(len(image_paths)), key=rel.__getitem__)
    paths = [image_paths[i] for i in order]
    rel = [rel[i] for i in order]
    width, height, label_of = parse.image_sizes(paths, [label_of[i] for i in order], rel, found.listing, ctx)
    return _Images(root, paths, rel, [found.image_splits[i] for i in order], label_of, width, height)


def _result(
    found: Layout,
    images: _Images,
    label_files: list[str],
    label_image: npt.NDArray[np.int64],
    rows: parse.Rows,
    ctx: ReadContext,
    provenance: bool,
) -> ReadResult:
    """The Dataset (images, annotations, categories) and, with `provenance`, where each row came from."""
    cols = parse.rows_to_annotations(
        rows, label_image, images.width, images.height, keypoints=found.keypoints, keypoint_dim=found.keypoint_dim
    )
    class_names = names.complete(found.names, found.names_source, np.unique(cols["class_index"]).tolist(), ctx)
    n, m = len(images.paths), len(cols["class_index"])
    image_ids = np.arange(1, n + 1, dtype=np.int64)
    frame = pd.DataFrame(
        {
            "image_id": image_ids,
            "file_name": pd.array(images.names, dtype=object),
            "width": pd.array(np.where(np.isnan(images.width), None, images.width).tolist(), dtype="Int64"),
            "height": pd.array(np.where(np.isnan(images.height), None, images.height).tolist(), dtype="Int64"),
            "split": pd.array([np.nan if s is None else s for s in images.splits], dtype=object),
        }
    )
    annotations = {
        "annotation_id": np.arange(1, m + 1, dtype=np.int64),
        "image_id": image_ids[cols["image_pos"]],
        "category_id": cols["class_index"] + 1,
        **{k: cols[k] for k in ("x_min", "y_min", "x_max", "y_max", "segmentation", "score", "attributes")},
    }
    cat_ids = sorted(class_names)
    categories = {"category_id": np.asarray(cat_ids, dtype=np.int64) + 1, "name": [class_names[c] for c in cat_ids]}
    ds = Dataset.from_frames(frame, annotations, categories, root=Path(images.root))
    result = ReadResult(ds, "yolo", ctx.findings, ctx.notes)
    if provenance:
        _add_provenance(result, images, label_files, rows, image_ids, annotations["annotation_id"])
    return result


def _add_provenance(
    result: ReadResult,
    images: _Images,
    label_files: list[str],
    rows: parse.Rows,
    image_ids: npt.NDArray[np.int64],
    annotation_ids: npt.NDArray[np.int64],
) -> None:
    """Each image's label file (where it would be when there is none) and each annotation's file and line."""
    expected = [lbl or labels.expected_label(img) for img, lbl in zip(images.paths, images.labels, strict=True)]
    result.image_sources = pd.DataFrame(
        {"file": pd.array(relative(expected, images.root), dtype=object)}, index=pd.Index(image_ids, name="image_id")
    )
    label_rel = np.asarray(relative(label_files, images.root), dtype=object)
    result.annotation_sources = pd.DataFrame(
        {
            "file": label_rel[rows.file] if len(label_rel) else np.zeros(0, dtype=object),
            "line": pd.array(rows.line, dtype="Int64"),
            "record": pd.array([np.nan] * len(annotation_ids), dtype=object),
        },
        index=pd.Index(annotation_ids, name="annotation_id"),
    )


FORMAT = FormatSpec(
    "yolo",
    "YOLO txt labels: Ultralytics (data.yaml) or darknet (obj.data) layout; boxes, polygons (task=segment), scores",
    writer.capabilities("detect", False),
    detect,
    read,
    writer.write,
    extensions=(".txt",),
    plan=plan,
    validation=documents.HOOKS,
)
