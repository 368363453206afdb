"""LabelMe's validation hooks: findings point at the image's json file and ``shapes[k]``."""

from __future__ import annotations

import posixpath

import numpy as np
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.formats.base import Locating, ValidationHooks


def locate(ds: Dataset, ids: np.ndarray, unit: str, where: Locating) -> tuple[list[str | None], list[str | None]]:
    """Each image's json (the image path with ``.json``, where the writer puts it); no record (groups merge shapes)."""
    image_ids = ids if unit == "image" else ds.annotations["image_id"].reindex(ids).to_numpy()
    names = ds.images["file_name"].astype(object).reindex(image_ids)
    files: list[str | None] = [None if pd.isna(n) else posixpath.splitext(where.display(n))[0] + ".json" for n in names]
    return files, [None] * len(ids)


HOOKS = ValidationHooks(locate=locate)
