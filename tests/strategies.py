"""Hypothesis strategies for random valid datasets, written with real (tiny) image files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from dataprep.dataset import Dataset
from dataprep.formats.base import image_layout

NAMES = st.sampled_from(["cat", "dog", "traffic light", "Ünïcode", "person", "a-b_c", "7"])
FILE_STEMS = st.sampled_from(["img", "photo 1", "été", "x.y", "IMG_0001"])


@st.composite
def detection_tables(draw: st.DrawFn, *, integer: bool = True, max_images: int = 5) -> dict:
    """Tables for a detection dataset with boxes inside their images (integer pixels if `integer`)."""
    n_images = draw(st.integers(1, max_images))
    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    with_splits = draw(st.booleans())
    images, anns = [], []
    ann_id = 1
    for i in range(n_images):
        w = draw(st.integers(8, 120))
        h = draw(st.integers(8, 120))
        stem = draw(FILE_STEMS)
        split = draw(st.sampled_from(["train", "val"])) if with_splits else None
        images.append({"image_id": i + 1, "file_name": f"{stem}_{i}.png", "width": w, "height": h, "split": split})
        for _ in range(draw(st.integers(0, 4))):
            if integer:
                x0 = draw(st.integers(0, w - 2))
                y0 = draw(st.integers(0, h - 2))
                x1 = draw(st.integers(x0 + 1, w))
                y1 = draw(st.integers(y0 + 1, h))
            else:
                x0 = draw(st.floats(0, w - 1, allow_nan=False))
                y0 = draw(st.floats(0, h - 1, allow_nan=False))
                x1 = draw(st.floats(x0 + 0.5, w, allow_nan=False))
                y1 = draw(st.floats(y0 + 0.5, h, allow_nan=False))
            cat = draw(st.integers(1, len(names)))
            anns.append(
                {
                    "annotation_id": ann_id,
                    "image_id": i + 1,
                    "category_id": cat,
                    "x_min": float(x0),
                    "y_min": float(y0),
                    "x_max": float(x1),
                    "y_max": float(y1),
                }
            )
            ann_id += 1
    cats = {"category_id": list(range(1, len(names) + 1)), "name": names}
    return {"images": images, "annotations": anns, "categories": cats}


def materialize(tables: dict, root: Path) -> Dataset:
    """Write each image as a tiny PNG of its stated size under `root` and return the Dataset."""
    for img in tables["images"]:
        path = root / img["file_name"]
        if not path.exists():
            from PIL import Image

            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("L", (img["width"], img["height"]), 100).save(path)
    anns = tables["annotations"]
    columns = ["annotation_id", "image_id", "category_id", "x_min", "y_min", "x_max", "y_max"]
    ann_frame = pd.DataFrame(anns, columns=columns) if anns else pd.DataFrame({c: [] for c in columns})
    return Dataset.from_frames(pd.DataFrame(tables["images"]), ann_frame, tables["categories"], root=root)


def canonical(ds: Dataset) -> pd.DataFrame:
    """One row per image x box, keyed by names only, so datasets compare across formats.

    Columns: name (path within its split folder), split, width, height, label, x_min..y_max.
    Images without boxes appear once with NaN label and box.
    """
    layout = image_layout(ds)
    images = ds.images.assign(name=layout["name"], split=ds.images["split"].astype(object))
    labels = ds.categories["name"].astype(object)
    anns = ds.annotations.assign(label=ds.annotations["category_id"].map(labels))
    merged = images[["name", "split", "width", "height"]].join(
        anns.set_index("image_id")[["label", "x_min", "y_min", "x_max", "y_max"]], how="left"
    )
    merged["width"] = merged["width"].astype("float64")
    merged["height"] = merged["height"].astype("float64")
    merged = merged.reset_index(drop=True)
    merged["split"] = merged["split"].where(merged["split"].notna(), None)
    # sort on coordinates rounded well above any format's tolerance, so near-ties cannot swap rows
    keys = merged[["x_min", "y_min", "x_max", "y_max"]].round(2).add_prefix("_k_")
    merged = pd.concat([merged, keys], axis=1)
    order = ["name", "label", *keys.columns]
    return merged.sort_values(order, na_position="first").drop(columns=keys.columns).reset_index(drop=True)


def assert_same(a: Dataset, b: Dataset, *, atol: float = 0.0) -> None:
    """Assert two datasets hold the same images, labels and boxes (names, not ids)."""
    ca, cb = canonical(a), canonical(b)
    assert len(ca) == len(cb), f"{len(ca)} rows != {len(cb)} rows"
    pd.testing.assert_frame_equal(
        ca.drop(columns=["x_min", "y_min", "x_max", "y_max"]), cb.drop(columns=["x_min", "y_min", "x_max", "y_max"])
    )
    np.testing.assert_allclose(
        ca[["x_min", "y_min", "x_max", "y_max"]].to_numpy(float),
        cb[["x_min", "y_min", "x_max", "y_max"]].to_numpy(float),
        atol=atol,
        rtol=0,
    )
    assert sorted(a.categories["name"]) == sorted(b.categories["name"])
