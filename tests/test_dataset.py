"""The three-table model: normalisation, structure checks, per-image slices, immutability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dataprep.dataset import Dataset, DatasetStructureError


def _tables() -> tuple[dict, dict, dict]:
    images = {"image_id": [5, 2], "file_name": ["b.jpg", "a.jpg"], "width": [10, 20], "height": [5, 6]}
    anns = {
        "annotation_id": [9, 1, 4],
        "image_id": [5, 2, 5],
        "category_id": [1, 1, 2],
        "x_min": [0.0, 1, 2],
        "y_min": [0.0, 1, 2],
        "x_max": [1.0, 2, 3],
        "y_max": [1.0, 2, 3],
    }
    cats = {"category_id": [2, 1], "name": ["b", "a"]}
    return images, anns, cats


def test_from_frames_sorts_and_types() -> None:
    ds = Dataset.from_frames(*_tables())
    assert ds.images.index.tolist() == [2, 5]
    assert ds.annotations.index.tolist() == [1, 4, 9]  # by (image_id, annotation_id)
    assert ds.categories.index.tolist() == [1, 2]
    assert str(ds.images["width"].dtype) == "Int64"
    assert ds.annotations["iscrowd"].dtype == bool
    assert ds.annotations["score"].isna().all()
    assert ds.class_index().to_dict() == {1: 0, 2: 1}


def test_image_slices_match_rows() -> None:
    ds = Dataset.from_frames(*_tables())
    starts, stops = ds.image_slices()
    for image_id, a, b in zip(ds.images.index, starts, stops, strict=True):
        assert (ds.annotations["image_id"].iloc[a:b] == image_id).all()
        assert b - a == (ds.annotations["image_id"] == image_id).sum()


def test_select_images_keeps_only_their_annotations() -> None:
    ds = Dataset.from_frames(*_tables())
    sub = ds.select_images(ds.images.index == 5)
    assert sub.images.index.tolist() == [5]
    assert sub.annotations.index.tolist() == [4, 9]
    assert len(sub.categories) == 2


def test_inputs_not_mutated() -> None:
    images, anns, cats = (pd.DataFrame(t) for t in _tables())
    before = [t.copy(deep=True) for t in (images, anns, cats)]
    Dataset.from_frames(images, anns, cats)
    for a, b in zip(before, (images, anns, cats), strict=True):
        pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    ("table", "change", "message"),
    [
        ("images", {"image_id": [1, 1]}, "duplicate image_id"),
        ("annotations", {"annotation_id": [1, 1, 2]}, "duplicate annotation_id"),
        ("categories", {"name": ["a", "a"]}, "duplicate names"),
        ("annotations", {"bogus": [1, 2, 3]}, "unknown columns"),
    ],
)
def test_structure_errors(table: str, change: dict, message: str) -> None:
    images, anns, cats = _tables()
    target = {"images": images, "annotations": anns, "categories": cats}[table]
    target.update(change)
    with pytest.raises(DatasetStructureError, match=message):
        Dataset.from_frames(images, anns, cats)


def test_dangling_ids_are_loadable() -> None:
    images, anns, cats = _tables()
    anns["image_id"] = [5, 2, 99]
    anns["category_id"] = [1, 7, 2]
    ds = Dataset.from_frames(images, anns, cats)
    assert 99 in ds.annotations["image_id"].to_numpy()
    assert np.isin(7, ds.annotations["category_id"].to_numpy())


def test_empty() -> None:
    ds = Dataset.empty()
    assert len(ds.images) == len(ds.annotations) == len(ds.categories) == 0
    assert ds.splits == []
