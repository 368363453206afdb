"""`dataprep.split`: ratios, per-class shares, groups and duplicates kept whole, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import dataprep
from dataprep.dataset import Dataset
from dataprep.errors import UsageError
from dataprep.grouping import components
from dataprep.splits import parse_ratios, split, split_with_report


def detection(n_images: int, n_classes: int, *, seed: int = 0, boxes_per_image: float = 4.0) -> Dataset:
    """A labels-only detection set with long-tailed classes (Zipf-like) and Poisson box counts."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, n_classes + 1)
    counts = rng.poisson(boxes_per_image, n_images)
    image_id = np.repeat(np.arange(1, n_images + 1), counts)
    n = len(image_id)
    category_id = rng.choice(n_classes, n, p=weights / weights.sum()) + 1
    x0 = rng.uniform(0, 500, n)
    y0 = rng.uniform(0, 300, n)
    images = {
        "image_id": np.arange(1, n_images + 1),
        "file_name": [f"img_{i:05d}.jpg" for i in range(n_images)],
        "width": [640] * n_images,
        "height": [480] * n_images,
    }
    annotations = {
        "annotation_id": np.arange(1, n + 1),
        "image_id": image_id,
        "category_id": category_id,
        "x_min": x0,
        "y_min": y0,
        "x_max": x0 + 20,
        "y_max": y0 + 20,
    }
    categories = {"category_id": np.arange(1, n_classes + 1), "name": [f"class_{c}" for c in range(n_classes)]}
    return Dataset.from_frames(images, annotations, categories)


def classification(labels: list[int], *, groups: list[str | None] | None = None, root: Path | None = None) -> Dataset:
    """One image-level label (no box) per image; optional leak groups."""
    n = len(labels)
    images = {"image_id": np.arange(1, n + 1), "file_name": [f"img_{i}.png" for i in range(n)]}
    if groups is not None:
        images["group"] = groups
    annotations = {"annotation_id": np.arange(1, n + 1), "image_id": np.arange(1, n + 1), "category_id": labels}
    names = sorted(set(labels))
    return Dataset.from_frames(images, annotations, {"category_id": names, "name": [f"c{c}" for c in names]}, root=root)


def split_of(ds: Dataset) -> pd.Series:
    return ds.images["split"].astype(object)


# -- ratios --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("70,20,10", {"train": 0.7, "val": 0.2, "test": 0.1}),
        ("80,20", {"train": 0.8, "val": 0.2}),
        ("train=70,val=20,test=10", {"train": 0.7, "val": 0.2, "test": 0.1}),
        ("a=60, b=20, c=10, d=10", {"a": 0.6, "b": 0.2, "c": 0.1, "d": 0.1}),
        ((0.7, 0.2, 0.1), {"train": 0.7, "val": 0.2, "test": 0.1}),
        ({"train": 0.9, "holdout": 0.1}, {"train": 0.9, "holdout": 0.1}),
    ],
)
def test_parse_ratios(value: object, expected: dict[str, float]) -> None:
    got = parse_ratios(value)  # type: ignore[arg-type]
    assert list(got) == list(expected)
    assert got == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("70,20", "sum to 90"),
        ("70,20,20", "sum to 110"),
        ("100", "at least two parts"),
        ("70,x,10", "'x'"),
        ("70,-10,40", "above 0"),
        ("train=70,30", "name every part"),
        ("a=50,a=50", "repeat"),
        ("60,20,10,10", "name them"),
        ("../x=50,y=50", "folder name"),
    ],
)
def test_reports_bad_ratios(value: str, problem: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_ratios(value, option="--ratios")
    message = str(err.value)
    assert message.startswith(f"--ratios {value!r}")
    assert problem in message
    assert "e.g. 70,20,10" in message  # the fix


# -- stratification ------------------------------------------------------------------------


def test_classification_is_exact_per_class() -> None:
    rng = np.random.default_rng(1)
    labels = rng.choice([1, 2, 3, 4, 5], 997, p=[0.5, 0.25, 0.15, 0.07, 0.03]).tolist()
    result = split_with_report(classification(labels), seed=3)
    for _, rows in result.classes.groupby("category_id"):
        total = rows["annotations"].sum()
        # largest remainder: every split within one image of ratio x count
        assert (np.abs(rows["annotations"] - rows["target"] * total) < 1).all()
    assert result.stratify == "labels"
    assert (result.splits["images"] - result.splits["target"] * 997).abs().max() < 5


def test_detection_box_shares_within_one_box() -> None:
    ds = detection(6000, 25, seed=2)
    result = split_with_report(ds, seed=0)
    classes = result.classes
    total = classes.groupby("category_id")["annotations"].transform("sum")
    assert (classes["deviation"] <= 1.0 / total + 1e-12).all()  # within one box of every target
    image_dev = (classes["image_share"] - classes["target"]).abs()
    assert image_dev[total >= 500].max() < 0.02
    assert (result.splits["image_share"] - result.splits["target"]).abs().max() < 0.002
    assert set(split_of(result.dataset)) == {"train", "val", "test"}


def test_two_way_and_named_parts() -> None:
    ds = detection(800, 6, seed=4)
    out = split(ds, ratios="train=50,val=30,holdout=20", seed=1)
    counts = split_of(out).value_counts()
    assert dict(counts) == pytest.approx({"train": 400, "val": 240, "holdout": 160}, abs=8)  # boxes come first
    out = split(ds, ratios=(0.8, 0.2))
    assert set(split_of(out)) == {"train", "val"}


def test_stratify_none_and_class() -> None:
    ds = detection(1000, 8, seed=5)
    none = split_with_report(ds, stratify="none", seed=0)
    assert none.stratify == "none"
    assert dict(split_of(none.dataset).value_counts()) == {"train": 700, "val": 200, "test": 100}
    by_class = split_with_report(ds, stratify="class", seed=0)
    assert by_class.stratify == "class"
    counts = dict(split_of(by_class.dataset).value_counts())
    assert counts == pytest.approx({"train": 700, "val": 200, "test": 100}, abs=5)


def test_images_without_labels_fill_the_image_targets() -> None:
    ds = detection(300, 3, seed=6, boxes_per_image=0.5)  # most images have no box
    out = split(ds, seed=0)
    assert dict(split_of(out).value_counts()) == {"train": 210, "val": 60, "test": 30}


def test_rare_classes_are_named_with_the_fix() -> None:
    ds = classification([1] * 50 + [2] * 2)  # class 2: two images for three splits
    result = split_with_report(ds)
    (rare,) = result.rare_classes
    assert rare["name"] == "c2"
    assert rare["images"] == 2
    assert rare["missing_from"] == ["val", "test"]  # largest remainder: 1.4, 0.4, 0.2 -> 2, 0, 0
    assert "Add images" in rare["hint"]


def test_split_is_deterministic_and_does_not_touch_its_input() -> None:
    ds = detection(500, 10, seed=7)
    before = ds.images.copy(deep=True)
    a, b = split(ds, seed=11), split(ds, seed=11)
    pd.testing.assert_frame_equal(a.images, b.images)
    assert not split_of(split(ds, seed=12)).equals(split_of(a))
    pd.testing.assert_frame_equal(ds.images, before)
    assert dataprep.split is split  # the public name


def test_keep_existing_moves_no_image_that_has_a_split() -> None:
    ds = detection(1000, 6, seed=8)
    first = split(ds.select_images(ds.images.index <= 600), seed=0)
    grown = ds.replace(images=ds.images.assign(split=first.images["split"].reindex(ds.images.index)))
    result = split_with_report(grown, keep_existing=True, seed=5)
    old = split_of(first)
    new = split_of(result.dataset)
    assert (new[old.index] == old).all()
    assert new.notna().all()
    assert result.kept == 600
    assert (result.splits["image_share"] - result.splits["target"]).abs().max() < 0.01


def test_keep_existing_keeps_foreign_split_names() -> None:
    ds = classification([1, 2] * 20)
    ds = ds.replace(images=ds.images.assign(split=["trainval"] * 4 + [None] * 36))
    result = split_with_report(ds, keep_existing=True)
    assert (split_of(result.dataset)[:4] == "trainval").all()
    assert any("trainval" in note for note in result.notes)


# -- groups and duplicates -----------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 4), st.one_of(st.none(), st.integers(0, 7))), min_size=1, max_size=80),
    st.integers(0, 3),
)
def test_groups_are_never_split(rows: list[tuple[int, int | None]], seed: int) -> None:
    labels = [label for label, _ in rows]
    groups = [None if g is None else f"video{g}" for _, g in rows]
    result = split_with_report(classification(labels, groups=groups), group_by="group", seed=seed)
    out = result.dataset.images
    per_group = out[out["group"].notna()].groupby("group")["split"].nunique()
    assert (per_group <= 1).all()
    assert result.leaks["groups_across_splits"] == 0
    assert out["split"].notna().all()


def test_group_by_regex_and_attribute() -> None:
    ds = detection(200, 4, seed=9)
    names = [f"patient{i % 13}/scan_{i}.jpg" for i in range(200)]
    attrs = [{"video": f"v{i % 7}"} for i in range(200)]
    ds = ds.replace(images=ds.images.assign(file_name=names, attributes=attrs))
    by_regex = split_with_report(ds, group_by=r"^(patient\d+)/")
    patient = pd.Series(names, index=ds.images.index).str.split("/").str[0]
    assert (by_regex.dataset.images["split"].groupby(patient).nunique() == 1).all()
    assert by_regex.groups["by_field"]["groups"] == 13
    by_field = split_with_report(ds, group_by="video")
    video = pd.Series([a["video"] for a in attrs], index=ds.images.index)
    assert (by_field.dataset.images["split"].groupby(video).nunique() == 1).all()


@pytest.mark.parametrize(
    ("group_by", "problem"),
    [("camera", "no image field"), (r"^(nomatch\d+)", "matches no file name"), ("(unclosed", "not a valid regular")],
)
def test_reports_bad_group_by(group_by: str, problem: str) -> None:
    with pytest.raises(UsageError) as err:
        split(detection(20, 2), group_by=group_by)
    assert problem in str(err.value)
    assert f"--group-by {group_by!r}" in str(err.value)


@pytest.mark.parametrize("value", ["x", "65", -1])
def test_reports_bad_near_duplicate_threshold(value: object) -> None:
    with pytest.raises(UsageError, match="near-duplicates"):
        split(detection(10, 2), near_duplicates=value)  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, 5), min_size=2, max_size=40), st.integers(0, 3))
def test_identical_images_are_never_split(tmp_path: Path, contents: list[int], seed: int) -> None:
    root = tmp_path / f"set{len(contents)}-{seed}-{hash(tuple(contents)) & 0xFFFF}"
    root.mkdir(exist_ok=True)
    for i, c in enumerate(contents):
        (root / f"img_{i}.png").write_bytes(bytes([c]) * 64)  # same value = same bytes
    ds = classification([1 + i % 2 for i in range(len(contents))], root=root)
    result = split_with_report(ds, seed=seed)
    per_content = result.dataset.images["split"].groupby(np.array(contents)).nunique()
    assert (per_content == 1).all()
    assert result.leaks["identical_images_across_splits"] == 0
    assert result.leaks["statement"] == "no image content appears in two splits"


def _texture(seed: int, width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)


def test_near_duplicates_are_kept_together(tmp_path: Path) -> None:
    for i in range(30):
        _texture(i, 128, 96).save(tmp_path / f"img_{i}.png")
    _texture(0, 128, 96).resize((64, 48)).save(tmp_path / "img_30.png")  # a small copy of img_0
    ds = classification([1, 2, 3] * 10 + [2], root=tmp_path)
    result = split_with_report(ds, near_duplicates=4, seed=0)
    out = split_of(result.dataset)
    assert out.iloc[30] == out.iloc[0]
    assert result.groups["near_duplicates"]["pairs"] >= 1
    assert result.groups["multi_image_groups"] >= 1
    off = split_with_report(ds, seed=0)
    assert "near_duplicates" not in off.groups


def test_content_grouping_skipped_with_a_note_when_images_are_absent(tmp_path: Path) -> None:
    ds = classification([1, 2] * 5, root=tmp_path)  # no files written
    result = split_with_report(ds)
    assert result.leaks["content_checked"] is False
    assert any("no image file found" in note for note in result.notes)
    labels_only = split_with_report(ds, content=False)
    assert any("labels only" in note for note in labels_only.notes)


# -- output --------------------------------------------------------------------------------


def test_split_output_validates_clean(tmp_path: Path) -> None:
    root = tmp_path / "src"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        _texture(i, 64, 48).save(root / f"img_{i}.png")
    (root / "img_40.png").write_bytes((root / "img_3.png").read_bytes())  # a duplicate file
    ds = detection(41, 4, seed=10)
    names = [f"img_{i}.png" for i in range(41)]
    boxes = ds.annotations.assign(
        x_min=rng.uniform(0, 30, len(ds.annotations)),
        y_min=rng.uniform(0, 20, len(ds.annotations)),
    )
    boxes = boxes.assign(x_max=boxes["x_min"] + 10, y_max=boxes["y_min"] + 10)
    ds = Dataset.from_frames(
        ds.images.assign(file_name=names, width=64, height=48), boxes, ds.categories, root=root
    )
    out = split(ds, seed=0)
    assert out.images["split"].iloc[40] == out.images["split"].iloc[3]
    dataprep.write(out, tmp_path / "coco", "coco")
    report = dataprep.validate(tmp_path / "coco")
    assert report.exit_code == 0
    assert not (report.findings["code"] == "split-leak").any()
    assert sorted(dataprep.read(tmp_path / "coco").splits) == ["test", "train", "val"]


def test_group_by_annotation_field_joins_images_sharing_a_value() -> None:
    ds = detection(300, 4, seed=12)
    tracks = [{"track": f"t{(i // 3) % 40}"} for i in range(len(ds.annotations))]
    ds = ds.replace(annotations=ds.annotations.assign(attributes=tracks))
    result = split_with_report(ds, group_by="track")
    assert result.groups["by_field"]["source"] == "annotation field 'track'"
    split = split_of(result.dataset)
    image_split = split.reindex(ds.annotations["image_id"]).to_numpy()
    per_track = pd.Series(image_split).groupby([t["track"] for t in tracks]).nunique()
    assert (per_track == 1).all()


def test_the_datasets_own_groups_always_hold() -> None:
    groups = [f"g{i % 9}" for i in range(90)]
    result = split_with_report(classification([1, 2, 3] * 30, groups=groups), seed=2)  # no group_by
    out = result.dataset.images
    assert (out.groupby("group")["split"].nunique() == 1).all()
    assert result.groups["dataset_groups"] == 9
    assert dataprep.validate(result.dataset, images=False).exit_code == 0


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 40).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60))
    )
)
def test_components_match_a_union_find_reference(case: tuple[int, list[tuple[int, int]]]) -> None:
    n, edges = case
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for a, b in edges:
        parent[root(a)] = root(b)
    labels = components(n, np.array(edges, dtype=np.int64).reshape(-1, 2))
    roots = [root(i) for i in range(n)]
    assert all((labels[i] == labels[j]) == (roots[i] == roots[j]) for i in range(n) for j in range(n))
    assert list(dict.fromkeys(labels)) == list(range(labels.max() + 1))  # labelled 0..G-1 by first node
