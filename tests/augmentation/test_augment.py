"""`dataprep.augment` over whole datasets: splits, originals, files, determinism, bad images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import build_small_dataset
from PIL import Image

import dataprep
from dataprep.augmentation import augment
from dataprep.dataset import Dataset
from dataprep.errors import ExitCode, OutputError, UsageError

PIPE = {
    "min_visibility": 0.2,
    "transforms": [
        {"type": "hflip", "p": 0.5},
        {"type": "rotate", "degrees": 20, "p": 0.7},
        {"type": "noise", "p": 0.5},
    ],
}


@pytest.fixture
def coco_src(tmp_path: Path) -> Path:
    dataprep.write(build_small_dataset(tmp_path / "raw"), tmp_path / "coco", "coco")
    return tmp_path / "coco"


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_augments_train_only_and_keeps_val_untouched(coco_src: Path, tmp_path: Path) -> None:
    result = augment(coco_src, tmp_path / "out", pipeline=PIPE, copies=2, seed=3)
    assert result.exit_code == ExitCode.OK
    assert result.splits == ["train"]
    assert (result.images_augmented, result.copies_written, result.originals_written) == (2, 4, 3)
    out = dataprep.read(tmp_path / "out")
    assert len(out.images) == 7
    assert (out.images["split"] == "train").sum() == 6
    val = out.images.loc[out.images["split"] == "val", "file_name"].tolist()
    assert len(val) == 1
    src = dataprep.read(coco_src)
    src_val = src.images.loc[src.images["split"] == "val", "file_name"].iloc[0]
    assert out.resolve(val[0]).read_bytes() == src.resolve(src_val).read_bytes()
    report = dataprep.validate(tmp_path / "out")
    assert report.exit_code == 0, report.findings[["code", "message"]].to_string()
    assert result.objects_in == result.objects_out + result.dropped_outside + result.dropped_degenerate


@pytest.mark.parametrize("backend", ["opencv", "pillow"])
def test_same_seed_gives_byte_identical_output(coco_src: Path, tmp_path: Path, backend: str) -> None:
    augment(coco_src, tmp_path / "a", pipeline="detection", copies=2, seed=7, backend=backend)
    augment(coco_src, tmp_path / "b", pipeline="detection", copies=2, seed=7, backend=backend)
    augment(coco_src, tmp_path / "c", pipeline="detection", copies=2, seed=8, backend=backend)
    a, b, c = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "b"), tree_bytes(tmp_path / "c")
    assert a == b
    assert a != c


def test_copies_do_not_depend_on_which_other_images_are_augmented(tmp_path: Path) -> None:
    ds = build_small_dataset(tmp_path / "raw")
    ds = ds.replace(images=ds.images.assign(split=np.nan))  # no splits: every image is augmented
    augment(ds, tmp_path / "all", pipeline=PIPE, copies=2, seed=1, to="coco")
    augment(ds.select_images([1]), tmp_path / "one", pipeline=PIPE, copies=2, seed=1, to="coco")
    for k in (1, 2):
        name = f"images/a_aug{k}.jpg"
        assert (tmp_path / "all" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()


def test_no_originals_drops_only_augmented_originals(coco_src: Path, tmp_path: Path) -> None:
    result = augment(coco_src, tmp_path / "out", pipeline="light", copies=1, originals=False)
    out = dataprep.read(tmp_path / "out")
    assert result.originals_written == 1  # the val image
    assert sorted(out.images["split"]) == ["train", "train", "val"]
    assert all("_aug1" in n for n in out.images.loc[out.images["split"] == "train", "file_name"])


def test_unreadable_image_is_named_skipped_and_the_rest_written(coco_src: Path, tmp_path: Path) -> None:
    bad = next((coco_src / "images").rglob("*.png"))
    bad.write_bytes(b"not a png")
    result = augment(coco_src, tmp_path / "out", pipeline=PIPE, copies=1)
    assert result.exit_code == ExitCode.FINDINGS
    assert [f.code for f in result.findings] == ["image-unreadable"]
    assert result.findings[0].file.endswith(bad.name)
    assert result.copies_written == 1
    assert (tmp_path / "out" / "annotations").is_dir()


def test_degenerate_source_boxes_are_reported_with_their_ids(tmp_path: Path) -> None:
    ds = build_small_dataset(tmp_path / "raw")
    anns = ds.annotations.copy()
    anns.loc[4, ["x_min", "x_max"]] = [3.0, 3.0]  # zero width
    ds = ds.replace(annotations=anns)
    result = augment(ds, tmp_path / "out", pipeline={"transforms": []}, copies=1, to="coco")
    assert result.dropped_degenerate == 1
    assert result.examples["dropped_degenerate"] == [4]


def test_polygons_are_moved_and_written(tmp_path: Path) -> None:
    ds = build_small_dataset(tmp_path / "raw")
    anns = ds.annotations.copy()
    anns["segmentation"] = pd.Series(
        [[np.array([[1.0, 1.0], [9.0, 1.0], [5.0, 9.0]])], None, None, None], index=anns.index
    )
    ds = ds.replace(annotations=anns)
    flip = {"transforms": [{"type": "hflip", "p": 1}]}
    augment(ds, tmp_path / "out", pipeline=flip, copies=1, to="coco")
    out = dataprep.read(tmp_path / "out")
    copy_id = out.images.index[out.images["file_name"].str.endswith("a_aug1.jpg")][0]
    seg = out.annotations.loc[out.annotations["image_id"] == copy_id, "segmentation"].dropna().iloc[0]
    ring = sorted(map(tuple, np.asarray(seg[0])))
    assert ring == sorted([(63.0, 1.0), (55.0, 1.0), (59.0, 9.0)])


def test_usage_and_output_errors(coco_src: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no split 'nope'"):
        augment(coco_src, tmp_path / "o", pipeline="light", splits=["nope"])
    with pytest.raises(UsageError, match="--copies"):
        augment(coco_src, tmp_path / "o", pipeline="light", copies=0)
    (tmp_path / "exists").mkdir()
    with pytest.raises(OutputError, match="--overwrite"):
        augment(coco_src, tmp_path / "exists", pipeline="light")
    with pytest.raises(OutputError):
        augment(coco_src, coco_src, pipeline="light", overwrite=True)
    assert not list(tmp_path.glob(".o.augment-*")) and not list(tmp_path.glob(".exists*"))


def test_preview_png(coco_src: Path, tmp_path: Path) -> None:
    result = augment(coco_src, tmp_path / "out", pipeline="detection", copies=2, preview=tmp_path / "p.png")
    with Image.open(result.preview) as im:
        assert im.format == "PNG" and im.width > 256


def test_dataset_without_splits_rejects_splits(tmp_path: Path) -> None:
    ds = build_small_dataset(tmp_path / "raw")
    ds = Dataset.from_frames(ds.images.assign(split=np.nan), ds.annotations, ds.categories, root=ds.root)
    with pytest.raises(UsageError, match="no splits"):
        augment(ds, tmp_path / "o", pipeline="light", splits=["train"])


def test_mosaic_draws_partners_from_the_augmented_images(coco_src: Path, tmp_path: Path) -> None:
    mosaic = {"min_visibility": 0.0, "transforms": [{"type": "mosaic", "p": 1}]}
    result = augment(coco_src, tmp_path / "out", pipeline=mosaic, copies=2, seed=2)
    assert result.exit_code == ExitCode.OK and result.copies_written == 4
    # partners come from the two train images only: their objects (4) can reach each copy
    assert result.objects_in == result.objects_out + result.dropped_outside + result.dropped_degenerate
    assert result.objects_out > 0
    assert dataprep.validate(tmp_path / "out").exit_code == 0
