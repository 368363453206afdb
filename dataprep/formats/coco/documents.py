"""COCO's validation hooks: its json files follow ``schemas/coco.schema.json``; findings point into them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dataprep.dataset import Dataset
from dataprep.formats.base import Document, Locating, ReadResult, ValidationHooks

# where COCO layouts keep their json files (no recursive walk: a dataset folder can hold a
# million images)
_PATTERNS = ("*.json", "annotations/*.json", "*/_annotations.coco.json", "*/annotations/*.json")


def documents(path: Path, result: ReadResult) -> list[Document]:
    """The dataset's COCO json files: those the reader's provenance names, else where layouts keep them."""
    if path.is_file():
        return [Document(path, "coco")]
    names: set[str] = set()
    for frame in (result.image_sources, result.annotation_sources):
        if frame is not None and "file" in frame:
            names |= {str(f) for f in frame["file"].dropna().unique() if str(f).lower().endswith(".json")}
    if names:
        return [Document(path / n, "coco") for n in sorted(names)]
    found = {p for pattern in _PATTERNS for p in path.glob(pattern)}
    return [Document(p, "coco") for p in sorted(found)]


def locate(ds: Dataset, ids: np.ndarray, unit: str, where: Locating) -> tuple[list[str | None], list[str | None]]:
    """The json file of each image (or annotation) and its record (``images[id=3]``, ``annotations[id=7]``)."""
    if unit == "image":
        image_ids = ids
        records: list[str | None] = [f"images[id={int(i)}]" for i in ids]
    else:
        image_ids = ds.annotations["image_id"].reindex(ids).to_numpy()
        records = [f"annotations[id={int(i)}]" for i in ids]
    if where.path is None:
        return [None] * len(ids), records
    return _json_file_of(ds, image_ids, where.path, where.documents), records


def _json_file_of(ds: Dataset, image_ids: np.ndarray, path: Path, files: tuple[Path, ...]) -> list[str | None]:
    """The json file each image came from: the one file, or the one named after the image's split."""
    if path.is_file():
        return [path.name] * len(image_ids)
    names = [_relative(f, path) for f in files]
    if len(names) == 1:
        return names * len(image_ids)
    by_split: dict[str, str] = {}
    for name in names:
        stem = Path(name).stem
        split = stem[len("instances_") :] if stem.startswith("instances_") else Path(name).parent.name
        by_split.setdefault(split, name)
    splits = ds.images["split"].astype(object).reindex(image_ids)
    return [by_split.get(s) if isinstance(s, str) else None for s in splits]


def _relative(file: Path, base: Path) -> str:
    try:
        return file.absolute().relative_to(base.absolute()).as_posix()
    except ValueError:
        return file.as_posix()


HOOKS = ValidationHooks(documents=documents, locate=locate, checks=("coco-id-zero",))
