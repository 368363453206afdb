"""Numbers no writer may write: non-finite or overflowing coordinates, impossible image sizes.

Readers keep what they parse (validate reports ``box-non-finite``); writers refuse it, because
``inf`` becomes ``1 inf inf inf inf`` in YOLO and ``null`` in COCO json (issue 7, item 9).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.errors import InputError

MAX_IMAGE_SIDE = 2**31 - 1  # PNG's own limit: a larger width or height is not a real image
INT64_END = 2**63  # a reader's number from here on does not fit the tables' int64/Int64 columns: read as unknown
MAX_COORDINATE = 1e9  # px: far outside any image; past it a float is an overflow waiting to happen
_BOX = ["x_min", "y_min", "x_max", "y_max"]


def unwritable(ds: Dataset, *, path: str | Path | None = None) -> tuple[pd.Index, pd.Index, list[InputError]]:
    """Images with an impossible size and annotations with a non-finite or overflowing coordinate.

    A width or height must be ``<NA>`` (unknown) or a whole number in ``[1, MAX_IMAGE_SIDE]``;
    a box coordinate NaN (image-level label) or finite with ``|v| <= MAX_COORDINATE``.

    Args:
        path: the label file or folder the records come from, named in the errors.

    Returns:
        ``(image ids, annotation ids, one InputError per record, at most 1,000)``.
    """
    images, anns = ds.images, ds.annotations
    errors: list[InputError] = []
    sizes = images[["width", "height"]].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    bad_size = ~np.isnan(sizes) & ((sizes < 1) | (sizes > MAX_IMAGE_SIDE))
    bad_images = images.index[bad_size.any(axis=1)]
    for image_id in bad_images[:_LISTED]:
        w, h = images.at[image_id, "width"], images.at[image_id, "height"]
        errors.append(
            InputError(
                path,
                f"image size {w} x {h} is not a size in pixels (1 to {MAX_IMAGE_SIDE:,})",
                record=f"image {image_id} ({images.at[image_id, 'file_name']})",
                hint="Fix width/height in the labels or remove them (they are then read from the image)",
            )
        )
    box = anns[_BOX].to_numpy(dtype=np.float64, na_value=np.nan) if len(anns) else np.empty((0, 4))
    with np.errstate(invalid="ignore"):
        bad_box = (np.isinf(box) | (np.abs(box) > MAX_COORDINATE)).any(axis=1)
    bad_anns = anns.index[bad_box]
    for annotation_id in bad_anns[:_LISTED]:
        values = ", ".join(f"{v:g}" for v in anns.loc[annotation_id, _BOX].astype(float))
        errors.append(
            InputError(
                path,
                f"box ({values}) has a non-finite or overflowing coordinate (limit {MAX_COORDINATE:g} px)",
                record=f"annotation {annotation_id} (image {anns.at[annotation_id, 'image_id']})",
                hint="Fix or remove the record (--on-error collect skips it)",
            )
        )
    return bad_images, bad_anns, errors


_LISTED = 1000  # records listed one by one; all of them are counted and skipped


def drop_unwritable(ds: Dataset, *, path: str | Path | None = None) -> tuple[Dataset, list[InputError], int]:
    """`ds` without the records `unwritable` finds (and the annotations of dropped images).

    Returns:
        ``(dataset, errors listed, records dropped)``.
    """
    bad_images, bad_anns, errors = unwritable(ds, path=path)
    if not len(bad_images) and not len(bad_anns):
        return ds, [], 0
    keep_images = ~ds.images.index.isin(bad_images)
    out = ds.select_images(keep_images)
    if len(bad_anns):
        anns = out.annotations
        out = dataclasses.replace(out, annotations=anns.loc[~anns.index.isin(bad_anns)])
    return out, errors, len(bad_images) + len(bad_anns)
