"""COCO *results* files: a list of scored detections read over a reference dataset's images."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from dataprep._gc import gc_paused
from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import InputError
from dataprep.formats import _json_chunks
from dataprep.formats._json_chunks import DEFAULT_SIZES, ChunkSizes
from dataprep.formats.coco.fields import Context
from dataprep.formats.coco.parse import Columns, annotation_chunk


def read_results(path: Path | str, reference: Dataset, *, chunk_sizes: ChunkSizes = DEFAULT_SIZES) -> Dataset:
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
    cols = Columns()
    with gc_paused():
        chunks, section = _detections(p, chunk_sizes)
        ctx = Context(p, "raise")
        base = 0
        for records in chunks:
            annotation_chunk(records, base, ctx, cols, section=section, results=True)
            base += len(records)
        del chunks
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


def _detections(path: Path, sizes: ChunkSizes) -> tuple[Iterator[list[Any]], str]:
    """The detection records in chunks, and the JSON pointer of their array (``""`` or ``annotations``).

    Raises:
        InputError: not JSON, or neither a list nor an object with an ``annotations`` list.
    """
    doc = _json_chunks.load(_json_chunks.read_document(path), path, [], keys=("annotations",), sizes=sizes)
    if "" in doc.arrays:
        return doc.arrays[""], ""
    if "annotations" in doc.arrays:
        return doc.arrays["annotations"], "annotations"
    raise InputError(
        path,
        f"a results file is a list of detections, got {type(doc.head).__name__}",
        hint="Write [{image_id, category_id, bbox, score}, ...]",
    )
