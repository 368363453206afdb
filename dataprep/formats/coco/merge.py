"""Several COCO json files become one set of tables: duplicate ids, colliding splits, categories by name.

Inside one file a duplicate id is an error (collect mode: the first image is kept, a duplicate
annotation is renumbered). Ids that collide with an earlier file (many exports restart at 1 in
every split) are shifted above it (``new = old + k``, in a note); categories are merged by name
(an id already taken by another name gets a free one), with a note naming every remapped id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep.dataset import BOX_COLUMNS
from dataprep.errors import Finding
from dataprep.formats.base import OnError
from dataprep.formats.coco.fields import Context
from dataprep.formats.coco.layout import Layout, relative
from dataprep.formats.coco.parse import FileTables, select

_IMAGE_PARTS = ("id", "file_name", "width", "height", "attributes", "split", "file", "record")
_ANNOTATION_PARTS = (
    "id",
    "image_id",
    "category_id",
    "xyxy",
    "area",
    "score",
    "iscrowd",
    "segmentation",
    "attributes",
    "file",
    "record",
)


@dataclass
class Merged:
    """The merged tables as columns (``Dataset.from_frames`` input), and where each row came from."""

    images: dict[str, Any]
    annotations: dict[str, Any]
    categories: dict[str, Any]
    info: dict[str, Any]
    prefixes: list[list[str]]  # per json file: the candidate folders of its images
    file_index: npt.NDArray[np.int64]  # per image row: its json file's position in `prefixes`
    # provenance: each json file's name (relative to the root), and per row its file and
    # position in that file's array
    file_names: list[str] = field(default_factory=list)
    image_records: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    annotation_files: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    annotation_records: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))


@dataclass
class _Categories:
    """Categories merged across files by name: the same name is the same category, whatever its id."""

    by_id: dict[int, tuple[str, Any, Any]] = field(default_factory=dict)
    by_name: dict[str, int] = field(default_factory=dict)

    def add(self, rows: list[tuple[int, str, Any, dict[str, Any] | None]]) -> dict[int, int]:
        """Merge one file's categories; return its ids that changed (old -> new)."""
        remap: dict[int, int] = {}
        for cid, cname, sup, extra in rows:
            if cname in self.by_name:
                target = self.by_name[cname]
            elif cid in self.by_id:
                target = max(self.by_id) + 1
            else:
                target = cid
            if target not in self.by_id:
                self.by_id[target] = (cname, sup, extra)
                self.by_name[cname] = target
            if target != cid:
                remap[cid] = target
        return remap

    def columns(self) -> dict[str, Any]:
        ids = sorted(self.by_id)
        return {
            "category_id": np.array(ids, np.int64),
            "name": [self.by_id[i][0] for i in ids],
            "supercategory": [self.by_id[i][1] for i in ids],
            "attributes": [self.by_id[i][2] for i in ids],
        }


def merge(
    files: list[FileTables], layout: Layout, on_error: OnError, notes: list[str], findings: list[Finding]
) -> Merged:
    """Concatenate the files' tables: fix duplicate ids, renumber colliding ids, merge categories by name."""
    img_parts: dict[str, list[Any]] = {k: [] for k in _IMAGE_PARTS}
    ann_parts: dict[str, list[Any]] = {k: [] for k in _ANNOTATION_PARTS}
    taken = [np.empty(0, np.int64), np.empty(0, np.int64)]  # image ids, annotation ids of earlier files
    categories = _Categories()
    info: dict[str, Any] = {}
    for n, f in enumerate(files):
        name = relative(f.source.path, layout.root)
        ctx = Context(f.source.path, on_error)
        img_keep, img_ids = _dedupe(
            f.images.array("id", np.int64), f.images.array("record", np.int64), "images", ctx, keep_first=True
        )
        _, ann_ids = _dedupe(
            f.annotations.array("id", np.int64),
            f.annotations.array("record", np.int64),
            "annotations",
            ctx,
            keep_first=False,
        )
        findings += ctx.findings
        img_ids, ann_ids, ann_image_ids = _shift_collisions(
            img_ids[img_keep], ann_ids, f.annotations.array("image_id", np.int64), taken, name, notes
        )
        ann_cat_ids = _remap_categories(f, categories, name, notes)
        if n == 0:
            info = f.info
        elif f.info != info:
            notes.append(
                f"{name}: info/licenses differ from {relative(files[0].source.path, layout.root)}; kept the first"
            )
        img_parts["id"].append(img_ids)
        ann_parts["id"].append(ann_ids)
        ann_parts["image_id"].append(ann_image_ids)
        ann_parts["category_id"].append(ann_cat_ids)
        _append_rows(f, n, img_keep, img_parts, ann_parts)
        del f.images, f.annotations
    return _concatenate(img_parts, ann_parts, categories, info, files, layout)


def _shift_collisions(
    img_ids: npt.NDArray[np.int64],
    ann_ids: npt.NDArray[np.int64],
    ann_image_ids: npt.NDArray[np.int64],
    taken: list[npt.NDArray[np.int64]],
    name: str,
    notes: list[str],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Ids restart in every split file of many exports: shift a colliding file above the others.

    Returns the image ids, annotation ids and annotations' image ids; extends `taken`.
    """
    if len(img_ids) and np.isin(img_ids, taken[0]).any():
        shift = int(taken[0].max()) - int(img_ids.min()) + 1
        img_ids = img_ids + shift
        ann_image_ids = ann_image_ids + shift
        notes.append(f"{name}: image ids collide with an earlier split file; renumbered (new = old + {shift})")
    if len(ann_ids) and np.isin(ann_ids, taken[1]).any():
        shift = int(taken[1].max()) - int(ann_ids.min()) + 1
        ann_ids = ann_ids + shift
        notes.append(f"{name}: annotation ids collide with an earlier split file; renumbered (new = old + {shift})")
    taken[0] = np.concatenate([taken[0], img_ids])
    taken[1] = np.concatenate([taken[1], ann_ids])
    return img_ids, ann_ids, ann_image_ids


def _remap_categories(f: FileTables, categories: _Categories, name: str, notes: list[str]) -> npt.NDArray[np.int64]:
    """Merge the file's categories by name; return its annotations' category ids in the merged numbering."""
    ann_cat_ids = f.annotations.array("category_id", np.int64)
    remap = categories.add(f.categories)
    if not remap:
        return ann_cat_ids
    pairs = ", ".join(f"{a}->{b}" for a, b in sorted(remap.items()))
    notes.append(f"{name}: category ids differ from an earlier split file; merged by name ({pairs})")
    mapped = pd.Series(ann_cat_ids).map(remap).to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isnan(mapped), ann_cat_ids, mapped).astype(np.int64)


def _append_rows(
    f: FileTables,
    n: int,
    img_keep: npt.NDArray[np.bool_],
    img_parts: dict[str, list[Any]],
    ann_parts: dict[str, list[Any]],
) -> None:
    """Append file `n`'s columns other than the ids (kept images only) to the merged parts."""
    n_images, n_annotations = int(img_keep.sum()), len(f.annotations.array("record", np.int64))
    img_parts["file_name"].append(select(f.images.objects("file_name"), img_keep))
    img_parts["width"].append(f.images.array("width", np.float64)[img_keep])
    img_parts["height"].append(f.images.array("height", np.float64)[img_keep])
    img_parts["attributes"].append(select(f.images.objects("attributes"), img_keep))
    img_parts["split"].append([f.source.split] * n_images)
    img_parts["file"].append(np.full(n_images, n, np.int64))
    img_parts["record"].append(f.images.array("record", np.int64)[img_keep])
    ann_parts["file"].append(np.full(n_annotations, n, np.int64))
    ann_parts["record"].append(f.annotations.array("record", np.int64))
    for key, dtype in (("xyxy", np.float64), ("area", np.float64), ("score", np.float64), ("iscrowd", bool)):
        ann_parts[key].append(f.annotations.array(key, dtype))
    for key in ("segmentation", "attributes"):
        ann_parts[key].append(f.annotations.objects(key))


def _concatenate(
    img_parts: dict[str, list[Any]],
    ann_parts: dict[str, list[Any]],
    categories: _Categories,
    info: dict[str, Any],
    files: list[FileTables],
    layout: Layout,
) -> Merged:
    cat = lambda parts, empty: np.concatenate(parts) if parts else empty  # noqa: E731
    flat = lambda parts: [v for part in parts for v in part]  # noqa: E731
    empty = np.empty(0, np.int64)
    xyxy = cat([x.reshape(-1, 4) for x in ann_parts["xyxy"]], np.empty((0, 4)))
    images = {
        "image_id": cat(img_parts["id"], empty),
        "file_name": flat(img_parts["file_name"]),
        "width": cat(img_parts["width"], np.empty(0)),
        "height": cat(img_parts["height"], np.empty(0)),
        "split": flat(img_parts["split"]),
        "attributes": flat(img_parts["attributes"]),
    }
    annotations = {
        "annotation_id": cat(ann_parts["id"], empty),
        "image_id": cat(ann_parts["image_id"], empty),
        "category_id": cat(ann_parts["category_id"], empty),
        **{c: xyxy[:, k] for k, c in enumerate(BOX_COLUMNS)},
        "segmentation": flat(ann_parts["segmentation"]),
        "iscrowd": cat(ann_parts["iscrowd"], np.empty(0, bool)).astype(bool),
        "score": cat(ann_parts["score"], np.empty(0)),
        "area": cat(ann_parts["area"], np.empty(0)),
        "attributes": flat(ann_parts["attributes"]),
    }
    return Merged(
        images,
        annotations,
        categories.columns(),
        info,
        [s.source.prefixes for s in files],
        cat(img_parts["file"], empty),
        [relative(f.source.path, layout.root) for f in files],
        cat(img_parts["record"], empty),
        cat(ann_parts["file"], empty),
        cat(ann_parts["record"], empty),
    )


def _dedupe(
    ids: npt.NDArray[np.int64], records: npt.NDArray[np.int64], section: str, ctx: Context, *, keep_first: bool
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """Handle duplicate ids inside one file.

    Returns a keep mask (duplicates dropped when `keep_first`) and the ids (duplicates
    renumbered above the maximum otherwise). Raises in raise mode via ``ctx.fail``.
    """
    keep = np.ones(len(ids), bool)
    dup = pd.Index(ids).duplicated()
    if not dup.any():
        return keep, ids
    first = pd.Series(records, index=ids).groupby(level=0).first()
    new_ids = ids.copy()
    next_id = int(ids.max()) + 1
    for j in np.flatnonzero(dup).tolist():
        where = f"{section}[{int(first[ids[j]])}] and {section}[{int(records[j])}]"
        what = f"{section[:-1]} id {int(ids[j])} is used twice ({where})"
        fix = "kept the first image" if keep_first else f"renumbered the second to {next_id}"
        ctx.fail(
            f"{section}[{int(records[j])}].id",
            what,
            f"Give every {section[:-1]} a unique id; {fix}",
            code="duplicate-id",
        )
        if keep_first:
            keep[j] = False
        else:
            new_ids[j] = next_id
            next_id += 1
    return keep, new_ids


def sources(tables: Merged) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(image_sources, annotation_sources)`` for `ReadResult`: json file and JSON pointer per row."""
    names = np.array(tables.file_names, dtype=object)
    image_sources = pd.DataFrame(
        {
            "file": names[tables.file_index] if len(names) else [],
            "record": [f"images[{i}]" for i in tables.image_records.tolist()],
        },
        index=pd.Index(tables.images["image_id"], name="image_id"),
    )
    annotation_sources = pd.DataFrame(
        {
            "file": names[tables.annotation_files] if len(names) else [],
            "line": pd.array([pd.NA] * len(tables.annotation_records), dtype="Int64"),
            "record": [f"annotations[{i}]" for i in tables.annotation_records.tolist()],
        },
        index=pd.Index(tables.annotations["annotation_id"], name="annotation_id"),
    )
    return image_sources, annotation_sources
