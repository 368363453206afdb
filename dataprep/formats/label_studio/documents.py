"""Label Studio's validation hooks: findings point at the export json and the task (``[k]``, 0-based)."""

from __future__ import annotations

import numpy as np

from dataprep.dataset import Dataset
from dataprep.formats.base import Locating, ValidationHooks
from dataprep.formats.label_studio.layout import TASKS_FILE


def locate(ds: Dataset, ids: np.ndarray, unit: str, where: Locating) -> tuple[list[str | None], list[str | None]]:
    """The json the writer makes (``tasks.json``) and ``[k]``, k the task's position."""
    image_ids = ids if unit == "image" else ds.annotations["image_id"].reindex(ids).to_numpy()
    position = ds.images.index.get_indexer(image_ids)
    records: list[str | None] = [None if p < 0 else f"[{p}]" for p in position.tolist()]
    return [TASKS_FILE] * len(ids), records


HOOKS = ValidationHooks(locate=locate)
