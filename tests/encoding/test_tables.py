"""Dataset-level encoding: clipping, skipped annotations, unknown sizes, layouts, written files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_image

from dataprep.dataset import Dataset
from dataprep.encoding import decode, encode_dataset, make_layout, prepare_boxes, write_targets
from dataprep.errors import InputError, OutputError, UsageError


def _dataset(root: Path, *, width: object = 64, boxes: list | None = None, **ann: list) -> Dataset:
    make_image(root / "a.png", 64, 48)
    boxes = boxes or [[10, 10, 30, 30], [50, 40, 80, 60], [np.nan] * 4, [5, 5, 20, 25], [70, 50, 90, 60]]
    arr = np.array(boxes, dtype=float)
    n = len(arr)
    annotations = {
        "annotation_id": list(range(1, n + 1)),
        "image_id": [1] * n,
        "category_id": ann.get("category_id", [1] * n),
        "x_min": arr[:, 0],
        "y_min": arr[:, 1],
        "x_max": arr[:, 2],
        "y_max": arr[:, 3],
        "iscrowd": ann.get("iscrowd", [False] * n),
    }
    images = {
        "image_id": [1],
        "file_name": ["a.png"],
        "width": [width],
        "height": [48 if width is not pd.NA else pd.NA],
    }
    return Dataset.from_frames(images, annotations, {"category_id": [1, 2], "name": ["a", "b"]}, root=root)


def test_prepare_clips_skips_and_reports(tmp_path: Path) -> None:
    ds = _dataset(tmp_path, iscrowd=[False, False, False, True, False])
    p = prepare_boxes(ds, 64)
    assert p.annotation_id.tolist() == [1, 2]
    assert dict(zip(p.skipped["annotation_id"], p.skipped["reason"], strict=True)) == {
        3: "no-box",
        4: "iscrowd",
        5: "box-outside-image",
    }
    assert p.clipped["annotation_id"].tolist() == [2]
    # 64x48 into 64: no scaling, 8 px padding on top; box 2 clipped to (50, 40, 64, 48)
    np.testing.assert_allclose(p.xyxy, [[10, 18, 30, 38], [50, 48, 64, 56]])


def test_unknown_size_is_probed_from_the_file(tmp_path: Path) -> None:
    ds = _dataset(tmp_path, width=pd.NA)
    assert prepare_boxes(ds, 64).images["width"].tolist() == [64]
    (tmp_path / "a.png").unlink()
    with pytest.raises(InputError, match="image 1 has boxes but no known size"):
        prepare_boxes(ds, 64)


def test_encode_dataset_round_trips_to_image_pixels(small_dataset: Dataset) -> None:
    layout, _ = make_layout(small_dataset, anchors="yolov3", img_size=416)
    result = encode_dataset(small_dataset, layout)
    assert set(result.targets.image.tolist()) == {1, 2}
    cats = small_dataset.categories.index.to_numpy()
    pred = decode(result.targets, images=result.images, category_ids=cats)
    kept = small_dataset.annotations.loc[pred.index]
    cols = ["x_min", "y_min", "x_max", "y_max"]
    np.testing.assert_allclose(pred[cols].to_numpy(), kept[cols].to_numpy(), atol=1e-4)
    assert (pred["category_id"] == kept["category_id"]).all()


def test_make_layout_choices(small_dataset: Dataset) -> None:
    with pytest.raises(UsageError, match="choose one target layout"):
        make_layout(small_dataset)
    with pytest.raises(UsageError, match="choose one target layout"):
        make_layout(small_dataset, grid=7, anchors="auto")
    layout, fit = make_layout(small_dataset, anchors="auto", k=2, scales=1)
    assert len(layout.anchors) == 2 and layout.strides == (32,) and fit is not None
    with pytest.raises(UsageError, match="--k 5 is more than the 4 distinct box sizes"):
        make_layout(small_dataset, anchors="auto", k=5, scales=1)


def test_write_targets_files_and_determinism(small_dataset: Dataset, tmp_path: Path) -> None:
    layout, _ = make_layout(small_dataset, grid=4, img_size=64)
    result = encode_dataset(small_dataset, layout)
    write_targets(result, tmp_path / "a", dense=True)
    write_targets(result, tmp_path / "b", dense=True)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["layout.json", "report.json", "train.npz", "train_dense.npz", "val.npz", "val_dense.npz"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    train = np.load(tmp_path / "a" / "train.npz")
    assert train["image_id"].tolist() == [1, 2] and set(train["annotation_id"].tolist()) <= {1, 2, 3, 4}
    dense = np.load(tmp_path / "a" / "train_dense.npz")
    assert dense["scale0"].shape == (2, 4, 4, 5 + 2)
    doc = json.loads((tmp_path / "a" / "layout.json").read_text())
    assert [c["category_id"] for c in doc["classes"]] == [3, 7] and doc["layout"]["kind"] == "grid"
    with pytest.raises(OutputError, match="already exists"):
        write_targets(result, tmp_path / "a")
    with pytest.raises(UsageError, match=r"needs about .* MiB .*Drop --dense"):
        write_targets(result, tmp_path / "c", dense=True, max_dense_bytes=10)
    assert not (tmp_path / "c").exists()


def test_image_without_boxes_and_size_is_left_out_with_a_note(tmp_path: Path) -> None:
    make_image(tmp_path / "a.png", 64, 48)
    ds = Dataset.from_frames(
        {"image_id": [1, 2], "file_name": ["a.png", "gone.png"], "width": [pd.NA, pd.NA], "height": [pd.NA, pd.NA]},
        {"annotation_id": [1], "image_id": [1], "category_id": [1], "x_min": [1.0], "y_min": [1.0],
         "x_max": [9.0], "y_max": [9.0]},
        {"category_id": [1], "name": ["a"]},
        root=tmp_path,
    )  # fmt: skip
    p = prepare_boxes(ds, 64)
    assert p.images.index.tolist() == [1] and "ids [2]" in p.notes[0]
