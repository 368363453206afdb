"""Datasets for validation tests: a clean one with real image files, and ways to plant problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from dataprep.dataset import Dataset


def write_image(path: Path, width: int, height: int, *, seed: int = 0, exif_orientation: int | None = None) -> Path:
    """A small noise JPEG/PNG (distinct content per seed), optionally with an EXIF orientation."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    im = Image.fromarray(pixels)
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        im.save(path, exif=exif.tobytes())
    else:
        im.save(path)
    return path


def clean_frames(root: Path) -> dict[str, Any]:
    """Frames of a clean detection dataset (4 images, 2 splits, 3 classes, 8 boxes) with files under `root`."""
    names = ["train/a.jpg", "train/b.png", "val/c.jpg", "val/d e.jpg"]
    sizes = [(64, 48), (40, 40), (50, 30), (32, 64)]
    for seed, (name, (w, h)) in enumerate(zip(names, sizes, strict=True)):
        write_image(root / name, w, h, seed=seed + 1)
    images = pd.DataFrame(
        {
            "image_id": [1, 2, 3, 4],
            "file_name": names,
            "width": [w for w, _ in sizes],
            "height": [h for _, h in sizes],
            "split": ["train", "train", "val", "val"],
        }
    )
    boxes = np.array(
        [
            [0, 0, 10, 12],
            [20.5, 10.25, 60, 48],
            [5, 5, 35, 35],
            [0, 0, 40, 40],
            [1, 1, 49, 29],
            [10, 10, 20, 20],
            [2, 3, 30, 60],
            [4, 4, 8, 9],
        ],
        dtype=float,
    )
    annotations = pd.DataFrame(
        {
            "annotation_id": np.arange(1, 9),
            "image_id": [1, 1, 2, 2, 3, 3, 4, 4],
            "category_id": [1, 2, 3, 1, 2, 3, 1, 2],
            "x_min": boxes[:, 0],
            "y_min": boxes[:, 1],
            "x_max": boxes[:, 2],
            "y_max": boxes[:, 3],
        }
    )
    categories = pd.DataFrame({"category_id": [1, 2, 3], "name": ["cat", "dog", "bird"]})
    return {"images": images, "annotations": annotations, "categories": categories}


def clean_dataset(root: Path, **changes: Any) -> Dataset:
    """The clean dataset, with any frame replaced (``images=...``) or edited via a callable."""
    frames = clean_frames(root)
    for name, change in changes.items():
        frames[name] = change(frames[name].copy()) if callable(change) else change
    return Dataset.from_frames(frames["images"], frames["annotations"], frames["categories"], root=root)


def set_box(annotation_id: int, xyxy: list[float]) -> Any:
    """An `annotations=` editor that sets one annotation's box."""

    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        row = frame["annotation_id"] == annotation_id
        frame.loc[row, ["x_min", "y_min", "x_max", "y_max"]] = xyxy
        return frame

    return edit


def write_coco(root: Path, *, plant: bool = False) -> Path:
    """The clean dataset as ``root/annotations/instances_{train,val}.json`` + ``images/<split>/``.

    With `plant`, these problems are written in (file, record -> code):

    - instances_train.json annotations[1]: box reaching 6 px past the right edge (box-outside-image)
    - instances_train.json annotations[2]: ``"bbox": "oops"`` (invalid-record)
    - instances_train.json annotations[3]: category_id 42 (dangling-category)
    - instances_val.json images[1]: its file is missing (image-missing)
    - instances_val.json annotations[1]: zero-width box (box-zero-area)
    """
    import json

    frames = clean_frames(root / "images")
    images, anns, cats = frames["images"], frames["annotations"], frames["categories"]
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    paths = {}
    for split in ("train", "val"):
        imgs = images[images["split"] == split]
        doc_images = [
            {
                "id": int(r.image_id),
                "file_name": r.file_name.split("/", 1)[1],
                "width": int(r.width),
                "height": int(r.height),
            }
            for r in imgs.itertuples()
        ]
        doc_anns = []
        for r in anns[anns["image_id"].isin(imgs["image_id"])].itertuples():
            w, h = r.x_max - r.x_min, r.y_max - r.y_min
            doc_anns.append(
                {
                    "id": int(r.annotation_id),
                    "image_id": int(r.image_id),
                    "category_id": int(r.category_id),
                    "bbox": [r.x_min, r.y_min, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
        doc = {
            "images": doc_images,
            "annotations": doc_anns,
            "categories": [{"id": int(r.category_id), "name": r.name} for r in cats.itertuples()],
        }
        if plant and split == "train":
            doc["annotations"][1]["bbox"] = [20.5, 10.25, 49.5, 37.75]
            doc["annotations"][2]["bbox"] = "oops"
            doc["annotations"][3]["category_id"] = 42
        if plant and split == "val":
            doc["annotations"][1]["bbox"] = [10, 10, 0, 10]
        paths[split] = root / "annotations" / f"instances_{split}.json"
        paths[split].write_text(json.dumps(doc, indent=1))
    if plant:
        (root / "images/val/d e.jpg").unlink()
    return root
