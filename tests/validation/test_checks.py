"""Each check: a planted problem is found (right code, ids, message), and the clean dataset passes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from validation_builders import clean_dataset, clean_frames, set_box, write_image

from dataprep.dataset import Dataset
from dataprep.validation import CHECKS, CheckContext, Thresholds, checks, validate


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data"


def run(code: str, ds: Dataset, **ctx_options: object) -> pd.DataFrame:
    """Run the one check behind `code` and check the frame's shape."""
    ctx = CheckContext(ds, **ctx_options)
    frame = CHECKS[code].func(ctx)
    assert list(frame.columns) == checks.FINDING_COLUMNS
    assert (frame["code"] == code).all()
    return frame


def test_clean_dataset_has_no_finding_above_info(root: Path) -> None:
    report = validate(clean_dataset(root), format="coco")
    assert report.counts == {"error": 0, "warning": 0, "info": 0}, report.findings.to_string()
    assert report.exit_code == 0


@pytest.mark.parametrize("code", [c for c, rule in CHECKS.items() if rule.func is not None])
def test_every_check_passes_the_clean_dataset(root: Path, code: str) -> None:
    ds = clean_dataset(root)
    manifest = {"format": "coco", "classes": ["cat", "dog", "bird"], "splits": {"train": 0.5, "val": 0.5}}
    frame = run(code, ds, format="yolo" if code == "yolo-out-of-range" else "coco", decode=True, manifest=manifest)
    assert frame.empty, frame.to_string()


def test_every_check_accepts_a_bare_dataset(root: Path) -> None:
    ds = clean_dataset(root)
    for rule in CHECKS.values():
        if rule.func is not None:
            assert list(rule.func(ds).columns) == checks.FINDING_COLUMNS


# -- boxes ----------------------------------------------------------------------------------------


def test_box_outside_image(root: Path) -> None:
    ds = clean_dataset(root, annotations=set_box(2, [20, 10, 66.5, 48]))
    frame = run("box-outside-image", ds)
    assert frame[["image_id", "annotation_id"]].values.tolist() == [[1, 2]]
    assert frame.loc[0, "severity"] == "error"
    message = frame.loc[0, "message"]
    assert "(20, 10, 66.5, 48)" in message and "2.5 px outside the 64x48 image" in message
    assert frame.loc[0, "hint"]


def test_box_outside_tolerance_absorbs_float_noise(root: Path) -> None:
    ds = clean_dataset(root, annotations=set_box(2, [-1e-9, 0, 64 + 1e-6, 48]))
    assert run("box-outside-image", ds).empty
    assert len(run("box-outside-image", ds, thresholds=Thresholds(outside_tolerance=0))) == 1


def test_box_outside_uses_probed_size_when_labels_have_none(root: Path) -> None:
    def no_size(images: pd.DataFrame) -> pd.DataFrame:
        images["width"] = pd.NA
        images["height"] = pd.NA
        return images

    ds = clean_dataset(root, images=no_size, annotations=set_box(2, [20, 10, 70, 48]))
    assert run("box-outside-image", ds)["annotation_id"].tolist() == [2]
    assert run("box-outside-image", ds, images=False).empty
    unknown = run("size-unknown", ds, images=False)
    assert unknown["image_id"].tolist() == [1, 2, 3, 4] and (unknown["severity"] == "info").all()


def test_box_inverted(root: Path) -> None:
    frame = run("box-inverted", clean_dataset(root, annotations=set_box(3, [35, 5, 5, 35])))
    assert frame["annotation_id"].tolist() == [3]
    assert "inverted" in frame.loc[0, "message"]


def test_box_zero_area(root: Path) -> None:
    frame = run("box-zero-area", clean_dataset(root, annotations=set_box(4, [5, 5, 5, 20])))
    assert frame["annotation_id"].tolist() == [4]
    assert run("box-inverted", clean_dataset(root, annotations=set_box(4, [5, 5, 5, 20]))).empty


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_box_non_finite(root: Path, bad: float) -> None:
    ds = clean_dataset(root, annotations=set_box(5, [1, bad, 49, 29]))
    frame = run("box-non-finite", ds)
    assert frame["annotation_id"].tolist() == [5]
    # other geometry checks skip the row rather than report it twice
    for code in ("box-outside-image", "box-inverted", "box-zero-area", "box-tiny", "box-aspect-ratio"):
        assert run(code, ds).empty


def test_image_level_labels_are_not_non_finite(root: Path) -> None:
    def labels_only(frame: pd.DataFrame) -> pd.DataFrame:
        frame[["x_min", "y_min", "x_max", "y_max"]] = np.nan
        return frame

    ds = clean_dataset(root, annotations=labels_only)
    assert run("box-non-finite", ds).empty
    assert run("box-missing", ds).empty  # a classification dataset


def test_box_missing_in_a_detection_dataset(root: Path) -> None:
    frame = run("box-missing", clean_dataset(root, annotations=set_box(6, [np.nan] * 4)))
    assert frame["annotation_id"].tolist() == [6]
    assert frame.loc[0, "severity"] == "warning"


def test_box_tiny_and_threshold(root: Path) -> None:
    ds = clean_dataset(root, annotations=set_box(8, [4, 4, 5.5, 9]))
    frame = run("box-tiny", ds)
    assert frame["annotation_id"].tolist() == [8] and frame.loc[0, "severity"] == "warning"
    assert "1.5x5 px" in frame.loc[0, "message"]
    assert run("box-tiny", ds, thresholds=Thresholds(min_box_side=1)).empty


def test_box_aspect_ratio_and_threshold(root: Path) -> None:
    ds = clean_dataset(root, annotations=set_box(2, [0, 10, 63, 12]))
    frame = run("box-aspect-ratio", ds)
    assert frame["annotation_id"].tolist() == [2] and "31.5:1" in frame.loc[0, "message"]
    assert run("box-aspect-ratio", ds, thresholds=Thresholds(max_aspect_ratio=40)).empty


def test_yolo_out_of_range_only_for_yolo(root: Path) -> None:
    ds = clean_dataset(root, annotations=set_box(1, [-10, 0, 4, 12]))  # cx < 0
    frame = run("yolo-out-of-range", ds, format="yolo")
    assert frame["annotation_id"].tolist() == [1]
    assert "outside [0, 1]" in frame.loc[0, "message"]
    assert run("yolo-out-of-range", ds, format="coco").empty


def test_duplicate_annotation(root: Path) -> None:
    frames = clean_frames(root)
    anns = frames["annotations"]
    extra = anns.iloc[[1, 1, 4]].copy()
    extra["annotation_id"] = [20, 21, 22]
    extra.loc[extra.index[2], "category_id"] = 3  # same box, other class: not a duplicate
    ds = Dataset.from_frames(frames["images"], pd.concat([anns, extra]), frames["categories"], root=root)
    frame = run("duplicate-annotation", ds)
    assert frame["annotation_id"].tolist() == [20, 21]
    assert frame["message"].tolist() == ["same class and box as annotation 2"] * 2


# -- ids and tables ----------------------------------------------------------------------------


def test_dangling_image_and_category(root: Path) -> None:
    def dangle(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[frame["annotation_id"] == 3, "image_id"] = 99
        frame.loc[frame["annotation_id"] == 5, "category_id"] = 42
        return frame

    ds = clean_dataset(root, annotations=dangle)
    images = run("dangling-image", ds)
    assert images["annotation_id"].tolist() == [3] and "image_id 99" in images.loc[0, "message"]
    cats = run("dangling-category", ds)
    assert cats["annotation_id"].tolist() == [5] and "category_id 42" in cats.loc[0, "message"]
    # an annotation of a missing image has no size: never "outside"
    assert run("box-outside-image", ds).empty


def test_duplicate_file_name(root: Path) -> None:
    def dup(images: pd.DataFrame) -> pd.DataFrame:
        images.loc[images["image_id"] == 3, "file_name"] = "train/a.jpg"
        return images

    frame = run("duplicate-file-name", clean_dataset(root, images=dup))
    assert frame["image_id"].tolist() == [3] and "also image 1" in frame.loc[0, "message"]


def test_coco_id_zero(root: Path) -> None:
    def zero_cat(cats: pd.DataFrame) -> pd.DataFrame:
        cats.loc[cats["category_id"] == 3, "category_id"] = 0
        return cats

    def zero_ann(anns: pd.DataFrame) -> pd.DataFrame:
        anns.loc[anns["category_id"] == 3, "category_id"] = 0
        anns.loc[anns["annotation_id"] == 1, "annotation_id"] = 0
        return anns

    ds = clean_dataset(root, categories=zero_cat, annotations=zero_ann)
    frame = run("coco-id-zero", ds, format="coco")
    assert frame["severity"].eq("warning").all()
    messages = " | ".join(frame["message"])
    assert "annotation id 0" in messages and "pycocotools" in messages
    assert "category id 0 ('bird', 2 annotations)" in messages
    assert run("coco-id-zero", ds, format="yolo").empty


def test_unused_category(root: Path) -> None:
    cats = pd.DataFrame({"category_id": [1, 2, 3, 9], "name": ["cat", "dog", "bird", "fish"]})
    frame = run("unused-category", clean_dataset(root, categories=cats))
    assert frame["record"].tolist() == ["categories[id=9]"] and "'fish'" in frame.loc[0, "message"]


def test_similar_category_names(root: Path) -> None:
    cats = pd.DataFrame({"category_id": [1, 2, 3, 4, 5], "name": ["cat", "dog", "bird", "Cat ", "traffic_light"]})
    cats2 = pd.concat([cats, pd.DataFrame({"category_id": [6], "name": ["Traffic Light"]})])
    frame = run("similar-category-names", clean_dataset(root, categories=cats2))
    assert frame["record"].tolist() == ["categories[id=4]", "categories[id=6]"]
    assert "'Cat ' differs from 'cat'" in frame.loc[0, "message"]


def test_image_without_labels_is_info(root: Path) -> None:
    frames = clean_frames(root)
    write_image(root / "val/empty.jpg", 10, 10, seed=77)
    extra = pd.DataFrame({"image_id": [5], "file_name": ["val/empty.jpg"], "width": [10], "height": [10]})
    images = pd.concat([frames["images"], extra])
    ds = Dataset.from_frames(images, frames["annotations"], frames["categories"], root=root)
    frame = run("image-without-labels", ds)
    assert frame["image_id"].tolist() == [5] and (frame["severity"] == "info").all()


# -- polygons, masks, crowds ---------------------------------------------------------------------


def _with_segmentation(root: Path, segs: dict[int, object], crowd: tuple[int, ...] = ()) -> Dataset:
    def edit(anns: pd.DataFrame) -> pd.DataFrame:
        anns["segmentation"] = [segs.get(int(i)) for i in anns["annotation_id"]]
        anns["iscrowd"] = anns["annotation_id"].isin(crowd)
        return anns

    return clean_dataset(root, annotations=edit)


def test_polygons_valid_invalid_and_self_intersecting(root: Path) -> None:
    square = np.array([[0, 0], [10, 0], [10, 12], [0, 12]], float)
    bowtie = np.array([[20, 10], [60, 48], [60, 10], [20, 48]], float)
    line = np.array([[5, 5], [20, 20], [35, 35]], float)
    two_points = np.array([[0, 0], [40, 40], [0, 0]], float)
    ds = _with_segmentation(root, {1: [square], 2: [bowtie], 3: [line], 4: [two_points], 5: [square, bowtie]})
    invalid = run("polygon-invalid", ds)
    assert invalid["annotation_id"].tolist() == [3, 4]
    assert "zero area" in invalid.loc[0, "message"] and "2 distinct points" in invalid.loc[1, "message"]
    crossing = run("polygon-self-intersection", ds)
    assert crossing["annotation_id"].tolist() == [2, 5]
    assert "Self-intersection" in crossing.loc[0, "message"] and crossing.loc[0, "severity"] == "warning"


def test_polygon_with_nan_is_invalid(root: Path) -> None:
    ds = _with_segmentation(root, {1: [np.array([[0, 0], [np.nan, 0], [10, 12]], float)]})
    assert run("polygon-invalid", ds)["annotation_id"].tolist() == [1]


def test_rle_size_mismatch(root: Path) -> None:
    from dataprep.geometry import rle_encode

    good = rle_encode(np.ones((48, 64), np.uint8))
    bad = rle_encode(np.ones((40, 64), np.uint8))
    ds = _with_segmentation(root, {1: good, 2: bad}, crowd=(1, 2))
    frame = run("rle-size-mismatch", ds)
    assert frame["annotation_id"].tolist() == [2] and "64x40" in frame.loc[0, "message"]


def test_crowd_without_mask(root: Path) -> None:
    frame = run("crowd-without-mask", _with_segmentation(root, {}, crowd=(7,)))
    assert frame["annotation_id"].tolist() == [7] and frame.loc[0, "severity"] == "warning"


# -- image files ------------------------------------------------------------------------------


def test_image_missing(root: Path) -> None:
    ds = clean_dataset(root)
    (root / "val/c.jpg").unlink()
    frame = run("image-missing", ds, base=root)
    assert frame["image_id"].tolist() == [3] and frame["file"].tolist() == ["val/c.jpg"]
    assert run("image-missing", ds, images=False).empty


def test_image_unreadable_garbage(root: Path) -> None:
    ds = clean_dataset(root)
    (root / "train/b.png").write_bytes(b"\x00garbage, not a png" * 10)
    frame = run("image-unreadable", ds, base=root)
    assert frame["image_id"].tolist() == [2] and frame["file"].tolist() == ["train/b.png"]
    assert "not readable" in frame.loc[0, "message"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_image_unreadable_permission(root: Path) -> None:
    ds = clean_dataset(root)
    target = root / "train/a.jpg"
    target.chmod(0)
    try:
        frame = run("image-unreadable", ds)
    finally:
        target.chmod(0o644)
    assert frame["image_id"].tolist() == [1]


def test_image_corrupt_needs_decode(root: Path) -> None:
    ds = clean_dataset(root)
    path = root / "val/c.jpg"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # header intact, pixels cut
    assert run("image-corrupt", ds, decode=False).empty
    assert run("image-unreadable", ds).empty
    frame = run("image-corrupt", ds, decode=True)
    assert frame["image_id"].tolist() == [3] and frame.loc[0, "severity"] == "error"


def test_size_mismatch(root: Path) -> None:
    def wrong(images: pd.DataFrame) -> pd.DataFrame:
        images.loc[images["image_id"] == 2, "width"] = 80
        return images

    frame = run("size-mismatch", clean_dataset(root, images=wrong))
    assert frame["image_id"].tolist() == [2]
    assert frame.loc[0, "message"] == "labels say 80x40 but the file is 40x40"


def test_exif_rotation(root: Path) -> None:
    ds = clean_dataset(root)
    write_image(root / "train/a.jpg", 64, 48, seed=1, exif_orientation=6)  # displayed 48x64
    frame = run("exif-rotation", ds)
    assert frame["image_id"].tolist() == [1] and frame.loc[0, "severity"] == "warning"
    assert "EXIF orientation 6" in frame.loc[0, "message"] and "stored" in frame.loc[0, "message"]
    # labels of the stored 64x48 are not a size mismatch: exif-rotation says it all
    assert run("size-mismatch", ds).empty
    write_image(root / "train/a.jpg", 64, 48, seed=1, exif_orientation=3)  # 180°: size unchanged
    assert run("exif-rotation", ds).empty


def test_duplicate_image_and_split_leak(root: Path) -> None:
    ds = clean_dataset(root)
    (root / "train/b.png").unlink()
    write_image(root / "train/b.png", 64, 48, seed=1)  # same pixels as a.jpg, but PNG: different bytes
    (root / "val/d e.jpg").write_bytes((root / "train/a.jpg").read_bytes())  # same bytes as a.jpg, in val
    (root / "val/c.jpg").write_bytes((root / "train/a.jpg").read_bytes())
    dup = run("duplicate-image", ds, base=root)
    assert dup["image_id"].tolist() == [4] and "same content as image 3" in dup.loc[0, "message"]
    leak = run("split-leak", ds, base=root)
    assert leak["image_id"].tolist() == [3, 4]
    assert "split 'train', but this one is in 'val'" in leak.loc[0, "message"]
    assert leak["file"].tolist() == ["val/c.jpg", "val/d e.jpg"]


def test_split_leak_by_group_without_images(root: Path) -> None:
    def grouped(images: pd.DataFrame) -> pd.DataFrame:
        images["group"] = ["video1", "video2", "video1", "video3"]
        return images

    frame = run("split-leak", clean_dataset(root, images=grouped), images=False)
    assert frame["image_id"].tolist() == [3] and "'video1'" in frame.loc[0, "message"]


def test_only_size_collisions_are_hashed(root: Path) -> None:
    ds = clean_dataset(root)
    ctx = CheckContext(ds)
    assert ctx.image_digests.isna().all()  # four files of four sizes: nothing read twice
    (root / "val/c.jpg").write_bytes((root / "train/a.jpg").read_bytes())
    ctx = CheckContext(ds)
    assert ctx.image_digests.notna().tolist() == [True, False, True, False]


# -- dataset level -----------------------------------------------------------------------------


def test_class_imbalance(root: Path) -> None:
    def skew(anns: pd.DataFrame) -> pd.DataFrame:
        anns["category_id"] = [1, 1, 1, 1, 2, 2, 2, 3]
        return anns

    ds = clean_dataset(root, annotations=skew)
    assert run("class-imbalance", ds).empty  # 4:1 is under the default 10
    frame = run("class-imbalance", ds, thresholds=Thresholds(imbalance_ratio=3))
    assert frame.loc[0, "severity"] == "info"
    assert "'cat' has 4 annotations, 4.0x the 1 of 'bird'" in frame.loc[0, "message"]


def test_manifest_mismatch_and_split_ratio(root: Path) -> None:
    ds = clean_dataset(root)
    manifest = {"format": "voc", "classes": ["cat", "dog", "horse"], "splits": {"train": 0.8, "val": 0.1, "test": 0.1}}
    frame = run("manifest-mismatch", ds, format="coco", manifest=manifest)
    messages = " | ".join(frame["message"])
    assert "format 'voc'" in messages and "'horse'" in messages and "'bird'" in messages
    ratio = run("split-ratio", ds, manifest=manifest)
    messages = " | ".join(ratio["message"])
    assert "split 'train' has 50.0%" in messages and "split 'test' has no images" in messages
    assert ratio["severity"].eq("warning").all()


def test_checks_do_not_mutate_the_dataset(root: Path) -> None:
    ds = clean_dataset(root, annotations=set_box(2, [20, 10, 70, 48]))
    before = [ds.images.copy(), ds.annotations.copy(), ds.categories.copy()]
    validate(ds, format="coco", decode=True)
    for a, b in zip(before, [ds.images, ds.annotations, ds.categories], strict=True):
        pd.testing.assert_frame_equal(a, b)
