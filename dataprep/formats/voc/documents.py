"""Pascal VOC's validation hooks: findings point at ``Annotations/<stem>.xml`` and ``object[k]``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.formats.base import Locating, ValidationHooks


def locate(ds: Dataset, ids: np.ndarray, unit: str, where: Locating) -> tuple[list[str | None], list[str | None]]:
    """Each image's xml file (``Annotations/<stem>.xml``); an annotation's record is ``object[k]`` (1-based)."""
    anns = ds.annotations
    image_ids = ids if unit == "image" else anns["image_id"].reindex(ids).to_numpy()
    names = ds.images["file_name"].astype(object).reindex(image_ids)
    files: list[str | None] = [None if pd.isna(n) else f"Annotations/{Path(n).stem}.xml" for n in names]
    if unit == "image":
        return files, [None] * len(ids)
    nth = anns.groupby("image_id", sort=False).cumcount().reindex(ids).to_numpy() + 1
    return files, [None if np.isnan(k) else f"object[{int(k)}]" for k in nth]


HOOKS = ValidationHooks(locate=locate)
