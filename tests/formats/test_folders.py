"""The class-folders format: conformance tree, layouts, round trips, losses, errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_image

import dataprep.formats as F
from dataprep.dataset import Dataset
from dataprep.errors import InputError
from dataprep.formats import folders


def _tree(root: Path, names: list[str]) -> Path:
    for name in names:
        if name.endswith("/"):
            (root / name).mkdir(parents=True, exist_ok=True)
        elif name.lower().endswith((".jpg", ".png")):
            make_image(root / name, 4, 3)
        else:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text("x\n")
    return root


def _labels(ds: Dataset) -> dict[str, str | None]:
    """file_name -> class name (None without a label)."""
    names = ds.categories["name"]
    by_image = ds.annotations.groupby("image_id")["category_id"].first()
    out = {}
    for image_id, file_name in ds.images["file_name"].items():
        cid = by_image.get(image_id)
        out[file_name] = None if cid is None else names[cid]
    return out


def _classification(root: Path, files: dict[str, tuple[str | None, str | None]], classes: list[str]) -> Dataset:
    """A dataset of real image files: file_name -> (class name or None, split or None)."""
    for name in files:
        make_image(root / name, 5, 4)
    ids = np.arange(1, len(files) + 1)
    cat_id = {c: i + 1 for i, c in enumerate(classes)}
    labelled = [(i, cat_id[c]) for i, (c, _) in zip(ids, files.values(), strict=True) if c is not None]
    return Dataset.from_frames(
        {"image_id": ids, "file_name": list(files), "split": [s for _, s in files.values()]},
        {
            "annotation_id": np.arange(1, len(labelled) + 1),
            "image_id": [i for i, _ in labelled],
            "category_id": [c for _, c in labelled],
        },
        {"category_id": np.arange(1, len(classes) + 1), "name": classes},
        root=root,
    )


# -- conformance ---------------------------------------------------------------------------


def test_reads_datumaro_imagenet_tree(conformance: Path) -> None:
    path = conformance / "datumaro" / "imagenet_dataset"
    assert F.detect(path)[0] == ("folders", 0.5)
    result = F.load(path)
    ds = result.dataset
    assert ds.categories["name"].tolist() == ["label_0", "label_1"]
    assert ds.categories.index.tolist() == [1, 2]
    assert _labels(ds) == {
        "label_0/label_0_1.jpg": "label_0",
        "label_0_2.jpg": None,  # at the root: no class folder
        "label_1/label_1_1.jpg": "label_1",
        "label_1/label_1_1/label_1_1.jpg": "label_1",  # nested below label_1: still label_1
    }
    assert ds.annotations[["x_min", "y_min", "x_max", "y_max"]].isna().all().all()
    assert ds.images["width"].isna().all()  # images are not opened
    assert any("label_0_2.jpg" in n and "without a label" in n for n in result.notes)


def test_detection_trees_are_not_taken_for_class_folders(conformance: Path) -> None:
    base = conformance / "datumaro"
    for sub in ["coco_dataset/coco_instances", "coco_dataset/coco_roboflow", "voc_dataset/voc_dataset1",
                "yolo_dataset/strict", "yolo_dataset/labels", "yolo_dataset/annotations"]:  # fmt: skip
        assert folders.detect(base / sub) is None, sub


# -- reading layouts -----------------------------------------------------------------------


def test_reads_split_folders_with_aliases_and_loose_images(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        ["train/cat/1.jpg", "train/dog/2.JPG", "valid/cat/3.png", "test/bird/", "train/loose.jpg", "top.jpg",
         "train/cat/notes.txt", ".hidden/x.jpg", "train/.DS_Store"],
    )  # fmt: skip
    result = folders.read(root)
    ds = result.dataset
    assert ds.categories["name"].tolist() == ["bird", "cat", "dog"]  # bird: empty folder, still a class
    assert dict(zip(ds.images["file_name"], ds.images["split"].fillna("-"), strict=True)) == {
        "top.jpg": "-",
        "train/cat/1.jpg": "train",
        "train/dog/2.JPG": "train",
        "train/loose.jpg": "train",
        "valid/cat/3.png": "val",
    }
    assert _labels(ds) == {
        "top.jpg": None,
        "train/cat/1.jpg": "cat",
        "train/dog/2.JPG": "dog",
        "train/loose.jpg": None,
        "valid/cat/3.png": "cat",
    }
    notes = " | ".join(result.notes)
    assert "valid -> val" in notes and "notes.txt" in notes and "bird" in notes


def test_splits_option_forces_the_reading(tmp_path: Path) -> None:
    root = _tree(tmp_path, ["train/a.jpg", "test/b.jpg"])  # two classes that happen to be called train/test
    assert folders.read(root).dataset.categories["name"].tolist() == []  # auto: split folders with loose images
    ds = folders.read(root, splits=False).dataset
    assert _labels(ds) == {"test/b.jpg": "test", "train/a.jpg": "train"}
    assert ds.images["split"].isna().all()
    mixed = _tree(tmp_path / "mixed", ["train/cat/a.jpg", "cat/b.jpg"])
    assert folders.read(mixed).dataset.categories["name"].tolist() == ["cat", "train"]  # not all split names


def test_follows_symlinked_class_folders_without_looping(tmp_path: Path) -> None:
    root = _tree(tmp_path / "d", ["cat/a.jpg"])
    _tree(tmp_path / "elsewhere", ["dog/b.jpg"])
    os.symlink(tmp_path / "elsewhere" / "dog", root / "dog")
    os.symlink(root / "cat", root / "cat" / "loop")  # a cycle
    ds = folders.read(root).dataset
    assert _labels(ds) == {"cat/a.jpg": "cat", "dog/b.jpg": "dog"}


def test_ids_are_deterministic_and_sorted(tmp_path: Path) -> None:
    root = _tree(tmp_path, ["b/2.jpg", "a/9.jpg", "a/10.jpg", "c/é.jpg", "c/e.jpg"])
    ds = folders.read(root).dataset
    assert ds.images["file_name"].tolist() == sorted(ds.images["file_name"])
    assert ds.images.index.tolist() == [1, 2, 3, 4, 5]
    assert ds.annotations["image_id"].tolist() == [1, 2, 3, 4, 5]


def test_provenance_names_the_class_folder(tmp_path: Path) -> None:
    root = _tree(tmp_path, ["train/cat/deep/a.jpg"])
    result = folders.read(root, provenance=True)
    assert result.annotation_sources["record"].tolist() == ["train/cat"]
    assert result.image_sources["file"].tolist() == ["train/cat/deep/a.jpg"]


# -- detect --------------------------------------------------------------------------------


def test_detect(tmp_path: Path) -> None:
    assert folders.detect(_tree(tmp_path / "cls", ["cat/a.jpg", "dog/b.png"])) == 0.5
    assert folders.detect(_tree(tmp_path / "split", ["train/cat/a.jpg", "val/cat/b.png"])) == 0.5
    assert folders.detect(_tree(tmp_path / "yolo", ["images/train/a.jpg", "labels/train/a.txt"])) is None
    assert folders.detect(_tree(tmp_path / "voc", ["JPEGImages/a.jpg", "Annotations/a.xml"])) is None
    assert folders.detect(_tree(tmp_path / "csv", ["images/a.jpg", "labels.csv"])) == 0.2
    assert folders.detect(_tree(tmp_path / "flat", ["a.jpg", "b.jpg"])) is None
    assert folders.detect(tmp_path / "cls" / "cat" / "a.jpg") is None


# -- writing -------------------------------------------------------------------------------


def test_round_trip_with_splits_odd_names_and_unlabeled(tmp_path: Path) -> None:
    files = {
        "x/a b.jpg": ("cat", "train"),
        "x/é ü.png": ("dog", "train"),
        "x/sub/c.jpg": ("cat", "val"),
        "x/d.jpg": (None, "val"),
        "x/e.jpg": ("dog", None),
    }
    ds = _classification(tmp_path / "src", files, ["cat", "dog", "empty"])
    report = F.write(ds, tmp_path / "out", "folders")
    assert report.lossless, report.losses
    assert (report.images, report.annotations, report.categories, report.images_transferred) == (5, 4, 3, 5)
    for split in ("train", "val", "unassigned"):
        for name in ("cat", "dog", "empty"):
            assert (tmp_path / "out" / split / name).is_dir()  # every class in every split
    back = F.read(tmp_path / "out")
    assert back.categories["name"].tolist() == ["cat", "dog", "empty"]
    got = {Path(f).name: (lab, s) for (f, lab), s in zip(_labels(back).items(), back.images["split"], strict=True)}
    want = {Path(f).name: (c, s) for f, (c, s) in files.items()}
    assert {k: (c, None if pd.isna(s) else s) for k, (c, s) in got.items()} == want
    assert (tmp_path / "out" / "val" / "cat" / "sub" / "c.jpg").is_file()  # sub-path below the class kept


def test_round_trip_of_a_folders_tree_is_identical(tmp_path: Path) -> None:
    src = _tree(
        tmp_path / "src", ["train/cat/1.jpg", "train/cat/deep/2.jpg", "val/dog/3.jpg", "val/4.jpg", "test/bird/"]
    )
    src_ds = folders.read(src).dataset
    F.write(src_ds, tmp_path / "out", "folders")
    back = F.read(tmp_path / "out", "folders")
    pd.testing.assert_frame_equal(back.images, src_ds.images)
    pd.testing.assert_frame_equal(back.annotations, src_ds.annotations)
    pd.testing.assert_frame_equal(back.categories, src_ds.categories)


def test_detection_dataset_goes_under_its_majority_class(tmp_path: Path, small_dataset: Dataset) -> None:
    # image 1: cat + dog once each (tie -> lowest category_id 3 = cat); image 2: dog, cat; image 3: none
    anns = small_dataset.annotations.copy()
    extra = anns.loc[[3]].assign(image_id=2).rename(index={3: 5})  # image 2 gets a second dog
    ds = small_dataset.replace(annotations=pd.concat([anns, extra]))
    report = F.write(ds, tmp_path / "out", "folders")
    codes = {loss.code: loss for loss in report.losses}
    assert codes["box-dropped"].count == 5
    assert codes["multi-label-dropped"].count == 2 and codes["multi-label-dropped"].examples == [1, 2]
    assert "most frequent class" in codes["multi-label-dropped"].message
    assert codes["category-id-changed"].count == 2  # 3, 7 -> 1, 2
    back = F.read(tmp_path / "out")
    labels = {Path(f).name: lab for f, lab in _labels(back).items()}
    assert labels == {"a.jpg": "cat", "b é.png": "dog", "c.jpg": None}


def test_renames_unsafe_class_names_and_colliding_files(tmp_path: Path) -> None:
    files = {
        "a_b/a.jpg": ("a/b", None),
        "a.jpg": ("a/b", None),  # lands on a_b/a.jpg too once the class folder is stripped
        "r.jpg": (".hidden", None),
        "x/u.jpg": (None, None),
        "y/u.jpg": (None, None),  # unlabeled images are written flat: u.jpg twice
    }
    ds = _classification(tmp_path / "src", files, ["a/b", ".hidden"])
    report = F.write(ds, tmp_path / "out", "folders")
    codes = {loss.code: loss for loss in report.losses}
    assert codes["category-renamed"].count == 2
    assert "'a/b' -> 'a_b'" in codes["category-renamed"].message
    assert codes["file-renamed"].examples == [2, 5]
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.jpg"))
    assert written == ["_hidden/r.jpg", "a_b/a.jpg", "a_b/a_2.jpg", "u.jpg", "u_5.jpg"]
    back = F.read(tmp_path / "out")
    assert back.categories["name"].tolist() == ["_hidden", "a_b"]
    assert len(back.images) == 5 and len(back.annotations) == 3


def test_plan_matches_what_write_reports(tmp_path: Path, small_dataset: Dataset) -> None:
    planned = F.plan(small_dataset, "folders")
    report = F.write(small_dataset, tmp_path / "out", "folders")
    assert [loss.to_dict() for loss in report.losses] == [loss.to_dict() for loss in planned]


def test_images_none_writes_only_the_class_folders(tmp_path: Path, small_dataset: Dataset) -> None:
    report = F.write(small_dataset, tmp_path / "out", "folders", images="none")
    assert report.images_transferred == 0 and report.images_missing == 0
    assert not list((tmp_path / "out").rglob("*.jpg"))
    assert (tmp_path / "out" / "train" / "cat").is_dir()


def _by_base_name(ds: Dataset) -> dict[str, tuple[str | None, str | None]]:
    """base name -> (class name or None, split or None)."""
    splits = ds.images["split"].astype(object).where(ds.images["split"].notna(), None)
    return {Path(f).name: (lab, s) for (f, lab), s in zip(_labels(ds).items(), splits, strict=True)}


@pytest.mark.parametrize("sample", ["classification/folders", "detection/yolo"])
def test_split_to_folders_reads_back_the_same_images_labels_and_splits(sample: str, tmp_path: Path) -> None:
    # The writer nested each image's old <split>/<class>/ (or images/<split>/) path under its new
    # <split>/<class>/ folder once a re-split mixed images from several source folders.
    from dataprep.splits import split_files

    src = Path(__file__).resolve().parents[2] / "samples" / sample
    result = split_files(src, tmp_path / "out", to="folders", ratios="70,20,10", images="copy")
    back = F.read(tmp_path / "out", "folders")
    want = _by_base_name(result.dataset)
    one_class = {}  # the writer keeps each image's most frequent class (detection: several per image)
    labels, _ = folders.label_table(result.dataset)
    first = labels.drop_duplicates("image_id").set_index("image_id")["category_id"]
    names = result.dataset.categories["name"]
    for image_id, file_name in result.dataset.images["file_name"].items():
        cid = first.get(image_id)
        one_class[Path(file_name).name] = (None if cid is None else names[cid], want[Path(file_name).name][1])
    assert _by_base_name(back) == one_class
    for file_name in back.images["file_name"]:
        parts = file_name.split("/")
        assert len(parts) <= 3, file_name  # <split>/<class>/<name>: nothing nested below the class


def test_convert_flattens_stale_layout_folders_and_renames_clashes(tmp_path: Path) -> None:
    files = {
        "train/cat/a.jpg": ("cat", "val"),  # old split/class folders, now in another split
        "val/dog/b.jpg": ("dog", "val"),
        "test/cat/a.jpg": ("cat", "val"),  # same base name as the first once flattened
        "images/train/c.jpg": ("dog", "train"),
        "images/val/d.jpg": ("dog", "train"),
    }
    ds = _classification(tmp_path / "src", files, ["cat", "dog"])
    report = F.write(ds, tmp_path / "out", "folders")
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.jpg"))
    assert written == ["train/dog/c.jpg", "train/dog/d.jpg", "val/cat/a.jpg", "val/cat/a_3.jpg", "val/dog/b.jpg"]
    codes = {loss.code: loss for loss in report.losses}
    assert codes["file-renamed"].examples == [3]
    back = F.read(tmp_path / "out", "folders")
    assert len(back.images) == 5 and len(back.annotations) == 5


# -- errors --------------------------------------------------------------------------------


def test_reports_a_path_that_is_not_a_folder(tmp_path: Path) -> None:
    f = make_image(tmp_path / "a.jpg", 2, 2)
    with pytest.raises(InputError, match=r"a\.jpg: not a folder"):
        folders.read(f)


def test_reports_a_tree_without_images(tmp_path: Path) -> None:
    root = _tree(tmp_path, ["cat/readme.txt", "dog/"])
    with pytest.raises(InputError) as err:
        folders.read(root)
    assert err.value.path == str(root) and "no image files" in err.value.problem and err.value.hint


@pytest.mark.skipif(os.name != "posix", reason="byte file names are a POSIX thing")
def test_reports_a_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    root = _tree(tmp_path / "d", ["cat/ok.jpg"])
    bad = os.path.join(os.fsencode(root / "cat"), b"caf\xe9.jpg")
    try:
        with open(bad, "wb") as f:
            f.write((root / "cat" / "ok.jpg").read_bytes())
    except OSError:
        pytest.skip("the filesystem refuses non-UTF-8 names")
    with pytest.raises(InputError) as err:
        folders.read(root)
    assert "cat" in err.value.path and "not valid UTF-8" in err.value.problem and "caf" in err.value.record
    result = folders.read(root, on_error="collect")
    assert _labels(result.dataset) == {"cat/ok.jpg": "cat"}
    assert [f.code for f in result.findings] == ["file-name-encoding"]


@pytest.mark.parametrize("fmt", ["folders", "csv"])
def test_write_read_write_is_byte_identical_and_detected(fmt: str, small_dataset: Dataset, tmp_path: Path) -> None:
    F.write(small_dataset, tmp_path / "a", fmt)
    assert F.detect(tmp_path / "a")[0][0] == fmt
    F.write(F.read(tmp_path / "a", fmt), tmp_path / "b", fmt)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*"))
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*"))
    assert files_a == files_b
    for rel in files_a:
        if (tmp_path / "a" / rel).is_file():
            assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
