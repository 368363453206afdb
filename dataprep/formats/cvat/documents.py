"""CVAT's validation hooks: findings point at ``annotations.xml`` and ``image[k]`` (1-based, in image order)."""

from __future__ import annotations

import numpy as np

from dataprep.dataset import Dataset
from dataprep.formats.base import Locating, ValidationHooks
from dataprep.formats.cvat.layout import PROJECT_FILE


def locate(ds: Dataset, ids: np.ndarray, unit: str, where: Locating) -> tuple[list[str | None], list[str | None]]:
    """The xml the writer makes (``annotations.xml``) and ``image[k]``, k the image's position."""
    image_ids = ids if unit == "image" else ds.annotations["image_id"].reindex(ids).to_numpy()
    position = ds.images.index.get_indexer(image_ids)
    records: list[str | None] = [None if p < 0 else f"image[{p + 1}]" for p in position.tolist()]
    return [PROJECT_FILE] * len(ids), records


HOOKS = ValidationHooks(locate=locate)
