"""The canonical dataset model: three pandas tables plus where the images live.

Every reader produces a `Dataset`, every writer consumes one, and every operation maps one
to a new one. Tables and columns:

``images`` (index ``image_id``, int64)
    ``file_name`` (str, POSIX path relative to `root`), ``width``/``height`` (Int64 pixels,
    ``<NA>`` until known), ``split`` (str: ``train``/``val``/``test`` or the source's own name,
    NaN if none), ``group`` (str, optional leak group), ``attributes`` (dict or None:
    format extras such as COCO ``license``/``coco_url``).
``annotations`` (index ``annotation_id``, int64; sorted by ``(image_id, annotation_id)``)
    ``image_id``, ``category_id`` (int64), ``x_min``/``y_min``/``x_max``/``y_max`` (float64
    absolute continuous pixels; NaN for image-level labels such as classification),
    ``segmentation`` (None, a list of ``(K, 2)`` float64 polygons in absolute pixels, or a COCO
    RLE dict), ``iscrowd`` (bool), ``score`` (float64, NaN for ground truth), ``area`` (float64,
    the source's stated area such as COCO's mask area; NaN = derive from the shape),
    ``attributes`` (dict or None: VOC difficult/truncated/occluded/pose, CVAT attributes...).
``categories`` (index ``category_id``, int64, as in the source, may be sparse)
    ``name`` (str, unique), ``supercategory`` (str or NaN), ``attributes`` (dict or None).

`Dataset.check` enforces structure only (columns, dtypes, unique ids, sort order). Semantic
problems (boxes outside images, dangling ids...) are loadable and reported by validation.
Nothing here mutates a frame it was given.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

BOX_COLUMNS = ["x_min", "y_min", "x_max", "y_max"]

# column -> (dtype, default for a missing column)
IMAGE_COLUMNS: dict[str, tuple[Any, Any]] = {
    "file_name": ("str", None),
    "width": ("Int64", pd.NA),
    "height": ("Int64", pd.NA),
    "split": ("str", np.nan),
    "group": ("str", np.nan),
    "attributes": (object, None),
}
ANNOTATION_COLUMNS: dict[str, tuple[Any, Any]] = {
    "image_id": ("int64", None),
    "category_id": ("int64", None),
    "x_min": ("float64", np.nan),
    "y_min": ("float64", np.nan),
    "x_max": ("float64", np.nan),
    "y_max": ("float64", np.nan),
    "segmentation": (object, None),
    "iscrowd": ("bool", False),
    "score": ("float64", np.nan),
    "area": ("float64", np.nan),
    "attributes": (object, None),
}
CATEGORY_COLUMNS: dict[str, tuple[Any, Any]] = {
    "name": ("str", None),
    "supercategory": ("str", np.nan),
    "attributes": (object, None),
}
_TABLES = {
    "images": ("image_id", IMAGE_COLUMNS),
    "annotations": ("annotation_id", ANNOTATION_COLUMNS),
    "categories": ("category_id", CATEGORY_COLUMNS),
}


class DatasetStructureError(ValueError):
    """A table breaks the model's structure (a programming error, not a user's data problem)."""


def _normalize(frame: pd.DataFrame | dict[str, Any] | None, table: str) -> pd.DataFrame:
    """One table with exactly the model's columns and dtypes, built without needless copies.

    Columns already of the right dtype are used as they are (`copy=False`): readers hand over
    ~10^6-row arrays, and each consolidating copy would cost another table's worth of memory.
    """
    index_name, columns = _TABLES[table]
    if frame is None:
        frame = {}
    if isinstance(frame, pd.DataFrame):
        df = frame.set_index(index_name) if index_name in frame.columns else frame
        source: dict[str, Any] = {c: df[c].array for c in df.columns}
        index: Any = df.index
    else:
        source = dict(frame)
        lengths = {len(v) for v in source.values() if not np.isscalar(v)}
        if index_name in source:
            index = source.pop(index_name)
        elif lengths - {0}:
            raise DatasetStructureError(f"{table}: column {index_name!r} is missing")
        else:
            index = []
    index = pd.Index(np.asarray(index, dtype=np.int64), name=index_name)
    extra = [c for c in source if c not in columns]
    if extra:
        raise DatasetStructureError(f"{table}: unknown columns {extra}; put extras in 'attributes'")
    n = len(index)
    out: dict[str, Any] = {}
    for name, (dtype, default) in columns.items():
        if name in source:
            values = source[name]
        elif default is None and n and dtype is not object:
            raise DatasetStructureError(f"{table}: required column {name!r} is missing")
        else:
            values = [default] * n
        if dtype is object:
            # Series() keeps list-valued cells (polygons) as single objects, unlike np.asarray
            out[name] = pd.Series(values, dtype=object, copy=False).to_numpy()
        elif dtype in ("str", "Int64"):
            out[name] = pd.array(values, dtype=dtype)
        else:
            out[name] = np.asarray(values, dtype=dtype)
        if len(out[name]) != n:
            raise DatasetStructureError(f"{table}: column {name!r} has {len(out[name])} rows, the index {n}")
    return pd.DataFrame(out, index=index, copy=False)


@dataclass(frozen=True)
class Dataset:
    """A labelled image dataset as three tables (see the module docstring for columns).

    Build one with `Dataset.from_frames`, which fills optional columns, casts dtypes, sorts
    and checks structure. `root` is the folder `images.file_name` is relative to.
    """

    images: pd.DataFrame
    annotations: pd.DataFrame
    categories: pd.DataFrame
    root: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_frames(
        cls,
        images: pd.DataFrame | dict[str, Any] | None = None,
        annotations: pd.DataFrame | dict[str, Any] | None = None,
        categories: pd.DataFrame | dict[str, Any] | None = None,
        *,
        root: str | Path | None = None,
        info: dict[str, Any] | None = None,
    ) -> Dataset:
        """Build a checked Dataset from frames or dicts of columns.

        Ids may be given as the index or as an ``image_id``/``annotation_id``/``category_id``
        column. Missing optional columns get their defaults; annotations are sorted by
        ``(image_id, annotation_id)``, images and categories by id.

        Raises:
            DatasetStructureError: a required column is missing, a column is unknown, or ids
                are not unique.
        """
        imgs = _normalize(images, "images").sort_index(kind="stable")
        cats = _normalize(categories, "categories").sort_index(kind="stable")
        anns = _normalize(annotations, "annotations")
        if len(anns):
            order = np.lexsort((anns.index.to_numpy(), anns["image_id"].to_numpy()))
            if not (order[1:] > order[:-1]).all():
                anns = anns.iloc[order]
        ds = cls(imgs, anns, cats, root=None if root is None else Path(root), info=dict(info or {}))
        ds.check()
        return ds

    @classmethod
    def empty(cls) -> Dataset:
        """A dataset with no images, annotations or categories."""
        return cls.from_frames()

    def check(self) -> None:
        """Enforce structure: columns, dtypes, unique int64 ids, annotation sort order.

        Raises:
            DatasetStructureError: on the first violation found.
        """
        for table, (index_name, columns) in _TABLES.items():
            df: pd.DataFrame = getattr(self, table)
            if df.index.name != index_name or df.index.dtype != np.int64:
                raise DatasetStructureError(f"{table}: index must be int64 {index_name!r}")
            if list(df.columns) != list(columns):
                raise DatasetStructureError(f"{table}: columns {list(df.columns)} != {list(columns)}")
            if not df.index.is_unique:
                dup = df.index[df.index.duplicated()][:5].tolist()
                raise DatasetStructureError(f"{table}: duplicate {index_name} values {dup}")
        if self.categories["name"].duplicated().any():
            dup = self.categories["name"][self.categories["name"].duplicated()].tolist()[:5]
            raise DatasetStructureError(f"categories: duplicate names {dup}")
        image_ids = self.annotations["image_id"].to_numpy()
        if len(image_ids) > 1:
            ann_ids = self.annotations.index.to_numpy()
            step = np.diff(image_ids)
            ok = (step > 0) | ((step == 0) & (np.diff(ann_ids) > 0))
            if not ok.all():
                raise DatasetStructureError("annotations: not sorted by (image_id, annotation_id)")

    # -- derived views -----------------------------------------------------------------

    def replace(self, **changes: Any) -> Dataset:
        """A copy with some fields replaced (frames are normalised and checked again)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields.update(changes)
        return Dataset.from_frames(
            fields["images"], fields["annotations"], fields["categories"], root=fields["root"], info=fields["info"]
        )

    def boxes_xyxy(self) -> npt.NDArray[np.float64]:
        """``(N, 4)`` float64 absolute xyxy boxes of all annotations, in table order."""
        return self.annotations[BOX_COLUMNS].to_numpy(dtype=np.float64)

    def class_index(self) -> pd.Series:
        """``category_id -> class_index`` (0..C-1 in category_id order): what a net sees."""
        ids = self.categories.index.to_numpy()
        return pd.Series(
            np.arange(len(ids), dtype=np.int64), index=pd.Index(ids, name="category_id"), name="class_index"
        )

    def image_slices(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """``(starts, stops)``: row ranges of each image's annotations, aligned with `images`."""
        keys = self.annotations["image_id"].to_numpy()
        ids = self.images.index.to_numpy()
        return np.searchsorted(keys, ids, side="left"), np.searchsorted(keys, ids, side="right")

    def select_images(self, keep: npt.ArrayLike | pd.Series) -> Dataset:
        """A new Dataset with only the images in `keep` (bool mask over `images` or image ids).

        Annotations of dropped images go too; categories are kept whole.
        """
        keep_arr = np.asarray(keep)
        ids = self.images.index[keep_arr] if keep_arr.dtype == bool else pd.Index(keep_arr.astype(np.int64))
        images = self.images.loc[self.images.index.isin(ids)]
        annotations = self.annotations.loc[self.annotations["image_id"].isin(images.index)]
        return dataclasses.replace(self, images=images, annotations=annotations)

    def resolve(self, file_name: str) -> Path:
        """Absolute-or-relative path of an image file (`root` / `file_name`)."""
        return (self.root or Path(".")) / file_name

    @property
    def has_boxes(self) -> bool:
        """True when at least one annotation has a box (detection rather than classification)."""
        return bool(self.annotations["x_min"].notna().any())

    @property
    def has_segmentation(self) -> bool:
        """True when at least one annotation carries a polygon or RLE mask."""
        return bool(self.annotations["segmentation"].notna().any())

    @property
    def splits(self) -> list[str]:
        """Split names present, in train/val/test order first, then alphabetical."""
        names = self.images["split"].dropna().unique().tolist()
        order = {"train": 0, "val": 1, "test": 2}
        return sorted(names, key=lambda s: (order.get(s, 3), s))

    def __repr__(self) -> str:
        return (
            f"Dataset({len(self.images)} images, {len(self.annotations)} annotations, "
            f"{len(self.categories)} categories, root={str(self.root) if self.root else None!r})"
        )
