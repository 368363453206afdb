"""YOLO's validation hooks: ``data.yaml`` follows ``schemas/data-yaml.schema.json``; findings point at label files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.formats.base import Document, Locating, ReadResult, ValidationHooks
from dataprep.formats.yolo.layout import label_path_for


def documents(path: Path, result: ReadResult) -> list[Document]:
    """The ``*.yaml``/``*.yml`` configs beside the labels (``data.yaml``), each against the data-yaml schema."""
    folder = path if path.is_dir() else path.parent
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    return [Document(f, "data-yaml") for f in files]


def locate(ds: Dataset, ids: np.ndarray, unit: str, where: Locating) -> tuple[list[str | None], list[str | None]]:
    """Each image's label file by the reader's images -> labels rule (`label_path_for`); no record."""
    image_ids = ids if unit == "image" else ds.annotations["image_id"].reindex(ids).to_numpy()
    names = ds.images["file_name"].astype(object).reindex(image_ids)
    files: list[str | None] = [None if pd.isna(n) else label_path_for(where.display(n)) for n in names]
    return files, [None] * len(ids)


HOOKS = ValidationHooks(documents=documents, locate=locate, checks=("yolo-out-of-range",))
