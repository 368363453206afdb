"""summary.summarize: counts per split and class, COCO size buckets, aspect octaves, notes, to_dict."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dataprep.dataset import Dataset
from dataprep.summary import ASPECT_LABELS, SIZE_BUCKETS, summarize

NAN = np.nan


def _dataset() -> Dataset:
    """4 images (train, train, val, no split and unknown size), classes 1 and 2, and odd rows.

    The odd rows: an image-level label of undefined class 9, a box of zero height, and an
    annotation of image 99, which does not exist.
    """
    images = {
        "image_id": [1, 2, 3, 4],
        "file_name": ["a.jpg", "b.jpg", "c.jpg", "d.jpg"],
        "width": [100, 100, 640, None],
        "height": [50, 50, 480, None],
        "split": ["train", "train", "val", None],
    }
    boxes = np.array(
        [
            [0, 0, 10, 10],  # 100 px², 1:1
            [0, 0, 40, 40],  # 1600 px² (medium), 1:1
            [0, 0, 200, 50],  # 10000 px² (large), 4:1
            [0, 0, 10, 0],  # zero height
            [NAN, NAN, NAN, NAN],  # image-level label
            [0, 0, 1, 2],  # 1:2
        ]
    )
    annotations = {
        "annotation_id": [1, 2, 3, 4, 5, 6],
        "image_id": [1, 1, 3, 3, 2, 99],
        "category_id": [1, 2, 1, 1, 9, 2],
        "x_min": boxes[:, 0],
        "y_min": boxes[:, 1],
        "x_max": boxes[:, 2],
        "y_max": boxes[:, 3],
    }
    categories = {"category_id": [1, 2], "name": ["cat", "dog"]}
    return Dataset.from_frames(images, annotations, categories)


def test_totals() -> None:
    assert summarize(_dataset()).totals == {
        "images": 4,
        "annotations": 6,
        "boxes": 5,
        "image_labels": 1,
        "categories": 2,
        "images_without_labels": 1,
        "images_with_unknown_size": 1,
        "crowd": 0,
        "segmentations": 0,
        "predictions": 0,
    }


def test_splits_in_train_val_test_order_with_unassigned_and_dangling_rows() -> None:
    splits = summarize(_dataset()).splits
    assert splits.index.name == "split"
    assert splits.index.tolist() == ["train", "val", "(dangling)", "(none)"]
    assert splits.to_dict(orient="list") == {
        "images": [2, 1, 0, 1],
        "annotations": [3, 2, 1, 0],
        "empty_images": [0, 0, 0, 1],
    }


def test_classes_count_annotations_images_and_splits_and_name_undefined_ids() -> None:
    summary = summarize(_dataset())
    classes = summary.classes
    assert classes.index.tolist() == [1, 2, 9]
    assert classes["name"].tolist() == ["cat", "dog", "(undefined)"]
    assert classes["annotations"].tolist() == [3, 2, 1]
    assert classes["images"].tolist() == [2, 2, 1]
    assert classes["train"].tolist() == [1, 1, 1]
    assert classes["val"].tolist() == [2, 0, 0]
    assert classes["(none)"].tolist() == [0, 0, 0]
    assert "1 annotations use undefined category ids [9]" in summary.notes


def test_box_sizes_use_coco_area_buckets_and_aspects_octaves() -> None:
    summary = summarize(_dataset())
    assert summary.box_sizes["boxes"].tolist() == [3, 1, 1]  # 100, 0 and 2 px² are small
    aspects = summary.aspects["boxes"]
    assert aspects.index.tolist() == ASPECT_LABELS
    assert aspects.to_dict() == {label: 0 for label in ASPECT_LABELS} | {"2:3-3:2": 2, "4:1-8:1": 1, "1:2-2:3": 1}
    assert "1 boxes have zero height" in summary.notes  # not in any aspect bucket


@pytest.mark.parametrize(("side", "bucket"), [(31.9, 0), (32.0, 1), (95.9, 1), (96.0, 2), (1e4, 2)])
def test_size_bucket_edges(side: float, bucket: int) -> None:
    ds = Dataset.from_frames(
        {"image_id": [1], "file_name": ["a.jpg"]},
        {"annotation_id": [1], "image_id": [1], "category_id": [1], "x_min": [0.0], "y_min": [0.0]}
        | {"x_max": [side], "y_max": [side]},
        {"category_id": [1], "name": ["a"]},
    )
    counts = summarize(ds).box_sizes["boxes"].tolist()
    assert counts == [int(i == bucket) for i in range(len(SIZE_BUCKETS))]


def test_most_common_image_sizes() -> None:
    sizes = summarize(_dataset(), top_sizes=1).image_sizes
    assert sizes.index.names == ["width", "height"]
    assert list(sizes.index) == [(100, 50)] and sizes["images"].tolist() == [2]


def test_one_split_has_no_per_split_class_columns() -> None:
    ds = _dataset()
    ds = Dataset.from_frames(ds.images.assign(split="train").reset_index(), None, ds.categories.reset_index())
    summary = summarize(ds)
    assert summary.splits.index.tolist() == ["train"]
    assert list(summary.classes.columns) == ["name", "annotations", "images"]
    assert summary.totals["images_without_labels"] == 4


def test_to_dict_is_json_ready() -> None:
    data = summarize(_dataset()).to_dict()
    text = json.dumps(data)  # no numpy scalars, no NaN
    assert "NaN" not in text
    assert data["splits"][0] == {"split": "train", "images": 2, "annotations": 3, "empty_images": 0}
    assert data["classes"][2]["name"] == "(undefined)"
    assert data["image_sizes"][0] == {"width": 100, "height": 50, "images": 2}
    assert set(data) == {"totals", "splits", "classes", "box_sizes", "aspects", "image_sizes", "notes"}
