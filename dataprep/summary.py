"""Dataset statistics for ``dataprep info``: counts per split and class, box sizes, aspects.

All vectorized over the annotation table; nothing here opens an image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dataprep.dataset import Dataset

# COCO's object-size buckets (area in px²), the ones COCOeval reports AP for.
SIZE_BUCKETS = [
    ("small (<32²)", 0.0, 32.0**2),
    ("medium (32²-96²)", 32.0**2, 96.0**2),
    ("large (≥96²)", 96.0**2, np.inf),
]
# width / height of the box, in octaves
ASPECT_EDGES = [0.0, 1 / 8, 1 / 4, 1 / 2, 2 / 3, 3 / 2, 2, 4, 8, np.inf]
ASPECT_LABELS = ["<1:8", "1:8-1:4", "1:4-1:2", "1:2-2:3", "2:3-3:2", "3:2-2:1", "2:1-4:1", "4:1-8:1", ">8:1"]


@dataclass
class Summary:
    """What `summarize` found. Frames are ready to print; `to_dict` is JSON-ready."""

    totals: dict[str, int]
    splits: pd.DataFrame  # index split name; columns images, annotations, empty_images
    classes: pd.DataFrame  # index category_id; columns name, annotations, images, plus one column per split
    box_sizes: pd.DataFrame  # index bucket; column boxes
    aspects: pd.DataFrame  # index bucket; column boxes
    image_sizes: pd.DataFrame  # the most common (width, height) pairs with counts
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (frames as lists of records)."""

        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            flat = df.reset_index()
            return flat.astype(object).where(flat.notna(), None).to_dict(orient="records")

        return {
            "totals": self.totals,
            "splits": records(self.splits),
            "classes": records(self.classes),
            "box_sizes": records(self.box_sizes),
            "aspects": records(self.aspects),
            "image_sizes": records(self.image_sizes),
            "notes": self.notes,
        }


def summarize(ds: Dataset, *, top_sizes: int = 5) -> Summary:
    """Counts and histograms describing `ds` (images, boxes, classes, splits, sizes)."""
    images, anns, cats = ds.images, ds.annotations, ds.categories
    has_box = anns["x_min"].notna().to_numpy()
    split = images["split"].astype(object).where(images["split"].notna(), "(none)")
    ann_split = anns["image_id"].map(split).fillna("(dangling)")
    labelled = images.index.isin(anns["image_id"].unique())

    splits = (
        pd.DataFrame(
            {
                "images": split.value_counts(),
                "annotations": ann_split.value_counts(),
                "empty_images": split[~labelled].value_counts(),
            }
        )
        .fillna(0)
        .astype("int64")
    )
    order = {"train": 0, "val": 1, "test": 2}
    splits = splits.loc[sorted(splits.index, key=lambda s: (order.get(s, 3), s))]
    splits.index.name = "split"

    per_class = anns.groupby("category_id").size()
    imgs_per_class = anns.groupby("category_id")["image_id"].nunique()
    classes = pd.DataFrame({"name": cats["name"].astype(object)})
    unknown = per_class.index.difference(classes.index)
    if len(unknown):
        classes = pd.concat([classes, pd.DataFrame({"name": ["(undefined)"] * len(unknown)}, index=unknown)])
    classes["annotations"] = per_class.reindex(classes.index).fillna(0).astype("int64")
    classes["images"] = imgs_per_class.reindex(classes.index).fillna(0).astype("int64")
    if len(splits) > 1:
        by_split = pd.crosstab(anns["category_id"], ann_split)
        for s in splits.index:
            classes[s] = by_split[s].reindex(classes.index).fillna(0).astype("int64") if s in by_split else 0
    classes.index.name = "category_id"

    xyxy = anns.loc[has_box, ["x_min", "y_min", "x_max", "y_max"]].to_numpy(dtype=np.float64)
    w = xyxy[:, 2] - xyxy[:, 0]
    h = xyxy[:, 3] - xyxy[:, 1]
    area = np.clip(w, 0, None) * np.clip(h, 0, None)
    box_sizes = pd.DataFrame(
        {"boxes": [int(((area >= lo) & (area < hi)).sum()) for _, lo, hi in SIZE_BUCKETS]},
        index=pd.Index([name for name, _, _ in SIZE_BUCKETS], name="area"),
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        aspect = np.where(h > 0, w / h, np.inf)
    counts = np.histogram(aspect[np.isfinite(aspect)], bins=[*ASPECT_EDGES[:-1], 1e300])[0]
    aspects = pd.DataFrame({"boxes": counts.astype("int64")}, index=pd.Index(ASPECT_LABELS, name="width:height"))

    sizes = images[["width", "height"]].dropna()
    image_sizes = (
        sizes.value_counts().rename("images").head(top_sizes).reset_index().set_index(["width", "height"])
        if len(sizes)
        else pd.DataFrame({"images": []}, index=pd.MultiIndex.from_arrays([[], []], names=["width", "height"]))
    )

    totals = {
        "images": len(images),
        "annotations": len(anns),
        "boxes": int(has_box.sum()),
        "image_labels": int((~has_box).sum()),
        "categories": len(cats),
        "images_without_labels": int((~labelled).sum()),
        "images_with_unknown_size": int((images["width"].isna() | images["height"].isna()).sum()),
        "crowd": int(anns["iscrowd"].sum()),
        "segmentations": int(anns["segmentation"].notna().sum()),
        "predictions": int(anns["score"].notna().sum()),
    }
    notes = []
    if len(unknown):
        notes.append(
            f"{int(per_class.loc[unknown].sum())} annotations use undefined category ids {sorted(unknown.tolist())[:5]}"
        )
    if (aspect == np.inf).any():
        notes.append(f"{int((aspect == np.inf).sum())} boxes have zero height")
    return Summary(totals, splits, classes, box_sizes, aspects, image_sizes, notes)
