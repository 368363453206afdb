"""Helpers shared by the image-level label formats (`folders`, `labels_csv`).

One row per (image, class) label (`label_table`), class names made safe for a folder or a csv
cell (`sanitize_names`), output paths made unique (`dedupe_paths`), and the losses these
steps report.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.formats.base import MAX_EXAMPLES, Loss

# Characters a class folder name cannot hold: separators and control characters.
PATH_UNSAFE_CHARS = re.compile(r"[/\\\x00-\x1f]")


def sanitize_names(
    names: pd.Series, *, forbidden: re.Pattern[str] = PATH_UNSAFE_CHARS, path_component: bool = True
) -> pd.Series:
    """Make names usable as one path component (or, with ``path_component=False``, one csv
    label), keeping them unique.

    `names` is indexed by an id. Characters matching `forbidden` become ``_``; surrounding
    whitespace is stripped; empty names, and for path components ``.``, ``..`` and hidden
    (leading ``.``) names, get a prefix; a name that collides with another afterwards gets
    ``_<id>`` appended.
    """
    text = names.astype(object).fillna("").astype(str)
    clean = text.str.replace(forbidden, "_", regex=True).str.strip()
    bad = clean.eq("")
    if path_component:
        bad |= clean.isin([".", ".."]) | clean.str.startswith(".")
    ids = pd.Series(names.index.astype(str), index=names.index)
    stripped = clean.str.lstrip(".")
    clean = clean.where(~bad, "_" + stripped.where(stripped != "", ids))
    # Only changed names give way: an untouched name keeps its spelling.
    dup = clean.duplicated(keep=False) & (clean != text)
    return clean.where(~dup, clean + "_" + ids)


def renamed_loss(names: pd.Series, clean: pd.Series, *, what: str, format_name: str) -> Loss | None:
    """A ``category-renamed`` Loss listing names that `sanitize_names` changed (None if none)."""
    changed = names.astype(object).fillna("").astype(str) != clean
    if not changed.any():
        return None
    pairs = ", ".join(f"{a!r} -> {b!r}" for a, b in zip(names[changed][:3], clean[changed][:3], strict=True))
    return Loss(
        "category-renamed",
        f"{format_name} cannot hold these {what} names as they are: renamed ({pairs})",
        int(changed.sum()),
        [int(i) for i in names.index[changed][:MAX_EXAMPLES]],
        unit="category",
    )


def id_change_loss(categories: pd.DataFrame, order: list[int], *, format_name: str) -> Loss | None:
    """A ``category-id-changed`` Loss when reading back will number `order` as 1..C instead."""
    old = np.asarray(order, dtype=np.int64)
    new = np.arange(1, len(old) + 1, dtype=np.int64)
    moved = old != new
    if not moved.any():
        return None
    names = categories["name"].reindex(old[moved][:3]).tolist()
    detail = ", ".join(f"{n!r} {o}->{w}" for n, o, w in zip(names, old[moved][:3], new[moved][:3], strict=True))
    return Loss(
        "category-id-changed",
        f"{format_name} stores class names only: read back, categories are numbered 1..C by name ({detail})",
        int(moved.sum()),
        [int(i) for i in old[moved][:MAX_EXAMPLES]],
        unit="category",
    )


def label_table(ds: Dataset) -> tuple[pd.DataFrame, list[Loss]]:
    """One row per distinct (image_id, category_id) label, with the losses met on the way.

    Rows are sorted by image_id then by how often the category occurs in the image (most
    first), then category_id; column ``count`` says how many annotations made the label.
    Annotations whose image or category is not in the tables are dropped and reported.
    """
    anns = ds.annotations
    losses: list[Loss] = []
    orphan = ~anns["image_id"].isin(ds.images.index)
    dangling = ~anns["category_id"].isin(ds.categories.index) & ~orphan
    if orphan.any():
        losses.append(
            Loss(
                "orphan-annotation-dropped",
                "annotations of an image_id not in the images table dropped",
                int(orphan.sum()),
                [int(i) for i in anns.index[orphan][:MAX_EXAMPLES]],
            )
        )
    if dangling.any():
        losses.append(
            Loss(
                "dangling-label-dropped",
                "annotations of a category_id not in the categories table have no class name: dropped",
                int(dangling.sum()),
                [int(i) for i in anns.index[dangling][:MAX_EXAMPLES]],
            )
        )
    good = anns.loc[~orphan & ~dangling, ["image_id", "category_id", "x_min"]]
    grouped = good.groupby(["image_id", "category_id"], sort=True)
    table = pd.DataFrame({"count": grouped.size(), "boxes": grouped["x_min"].count()}).reset_index()
    no_box_dups = (table["count"] - table["boxes"]) > 1
    if no_box_dups.any():
        ids = table.loc[no_box_dups, "image_id"]
        losses.append(
            Loss(
                "duplicate-label-merged",
                "the same image-level label given twice for an image: kept once",
                int(no_box_dups.sum()),
                [int(i) for i in ids[:MAX_EXAMPLES]],
                unit="image",
            )
        )
    table = table.sort_values(
        ["image_id", "count", "category_id"], ascending=[True, False, True], kind="stable", ignore_index=True
    )
    return table[["image_id", "category_id", "count"]], losses


def dedupe_paths(out: pd.Series) -> tuple[pd.Series, list[int]]:
    """Make output paths unique: later duplicates get ``_<image_id>`` before their suffix.

    `out` is indexed by image_id. Returns the new paths and the sorted ids of renamed images.
    """
    renamed: list[int] = []
    dup = out.duplicated(keep="first")
    while dup.any():
        ids = out.index[dup].astype(str)
        stem, dot, suffix = (out[dup].str.rpartition(".")[i] for i in range(3))
        out = out.copy()
        out[dup] = np.where(dot == ".", stem + "_" + ids + "." + suffix, out[dup] + "_" + ids)
        renamed.extend(int(i) for i in out.index[dup])
        dup = out.duplicated(keep="first")
    return out, sorted(set(renamed))
