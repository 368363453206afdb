"""YOLO reader/writer: conformance files, golden files, round trips, odd inputs and every user error."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import make_image
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image
from test_image_header import pillow_header

from dataprep import _image_header, formats
from dataprep.dataset import Dataset
from dataprep.errors import InputError, OutputError, UsageError
from dataprep.files import probe_image
from dataprep.formats import yolo
from dataprep.formats.yolo._config import yaml_scalar
from dataprep.formats.yolo._rows import format_rows

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "yolo"
# The conformance image is 15x10; datumaro wrote 6 decimals, so edges move by up to 15 * 0.5e-6.
CONFORMANCE_BOXES = np.array([[0.0, 2.0, 4.0, 4.0], [3.0, 3.0, 5.0, 6.0]])
NAMES_0_9 = [f"label_{i}" for i in range(10)]


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def write_labels(root: Path, files: dict[str, str | bytes]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))


def ultralytics_tree(root: Path, labels: dict[str, str | bytes], *, size_wh: tuple[int, int] = (40, 20)) -> Path:
    """images/train/<stem>.jpg for every labels/train/<stem>.txt, plus a data.yaml with 3 names."""
    for name in labels:
        stem = Path(name).stem
        make_image(root / "images" / "train" / f"{stem}.jpg", *size_wh)
    write_labels(root, {f"labels/train/{k}": v for k, v in labels.items()})
    (root / "data.yaml").write_text("train: images/train\nval: images/train\nnames: [a, b, c]\n")
    return root


# ---------------------------------------------------------------------------------------------
# conformance: datumaro's YOLO test assets


@pytest.mark.parametrize(
    ("variant", "files"),
    [
        ("strict", ["obj_train_data/1.jpg"]),
        ("labels", ["images/train/1.jpg", "images/val/1.jpg"]),
        ("annotations", ["Images/1.jpg"]),
    ],
)
def test_conformance_variants(conformance: Path, variant: str, files: list[str]) -> None:
    path = conformance / "datumaro" / "yolo_dataset" / variant
    assert yolo.detect(path) == pytest.approx(0.9)
    result = formats.load(path)
    ds = result.dataset
    assert result.format == "yolo" and not result.findings
    assert ds.images["file_name"].tolist() == files
    assert ds.images["width"].tolist() == [15] * len(files)
    assert ds.images["height"].tolist() == [10] * len(files)
    assert ds.categories["name"].tolist() == NAMES_0_9
    assert ds.categories.index.tolist() == list(range(1, 11))
    assert len(ds.annotations) == 2 * len(files)
    # class 2 and class 4 -> category ids 3 and 5 (names label_2, label_4)
    assert ds.annotations["category_id"].tolist() == [3, 5] * len(files)
    np.testing.assert_allclose(ds.boxes_xyxy(), np.tile(CONFORMANCE_BOXES, (len(files), 1)), atol=15 * 0.5e-6 + 1e-9)
    assert ds.annotations.index.tolist() == list(range(1, 2 * len(files) + 1))


def test_conformance_splits_and_stray_readme(conformance: Path) -> None:
    strict = yolo.read(conformance / "datumaro" / "yolo_dataset" / "strict").dataset
    assert strict.images["split"].tolist() == ["train"]
    labels = yolo.read(conformance / "datumaro" / "yolo_dataset" / "labels")
    assert labels.dataset.images["split"].tolist() == ["train", "val"]
    assert not any("README" in note for note in labels.notes)  # not a label file, not a label without image
    annotations = yolo.read(conformance / "datumaro" / "yolo_dataset" / "annotations").dataset
    assert annotations.images["split"].isna().all()


def test_conformance_round_trips_through_darknet(conformance: Path, tmp_path: Path) -> None:
    src = conformance / "datumaro" / "yolo_dataset" / "strict"
    first = yolo.read(src).dataset
    formats.write(first, tmp_path / "out", "yolo", layout="darknet")
    # our darknet output is the same layout datumaro/CVAT write: same label bytes, same lists
    assert (tmp_path / "out" / "obj_train_data" / "1.txt").read_bytes() == (
        src / "obj_train_data" / "1.txt"
    ).read_bytes()
    assert (tmp_path / "out" / "train.txt").read_text() == (src / "train.txt").read_text()
    again = yolo.read(tmp_path / "out").dataset
    pd.testing.assert_frame_equal(first.images, again.images)
    pd.testing.assert_frame_equal(first.annotations, again.annotations)
    pd.testing.assert_frame_equal(first.categories, again.categories)


# ---------------------------------------------------------------------------------------------
# golden files


@pytest.mark.parametrize("layout", ["ultralytics", "darknet"])
def test_golden_output(small_dataset: Dataset, tmp_path: Path, layout: str) -> None:
    report = formats.write(small_dataset, tmp_path / "out", "yolo", layout=layout, images="none")
    got = files_of(tmp_path / "out")
    expected = files_of(GOLDEN / layout)
    assert sorted(got) == sorted(expected)
    for name, data in expected.items():
        assert got[name] == data, name
    assert report.annotations == 4 and report.images == 3 and report.categories == 2
    # category ids 3 and 7 come back as 1 and 2
    assert [loss.code for loss in report.losses] == ["category-renumbered"]
    assert report.losses[0].examples == [3, 7]


def test_golden_numbers_by_hand() -> None:
    # small_dataset image a.jpg is 64x48; box (5.5, 6.25, 30, 40), category 7 = class 1
    line = (GOLDEN / "ultralytics" / "labels" / "train" / "a.txt").read_text().splitlines()[1]
    cx, cy, w, h = (5.5 + 30) / 2 / 64, (6.25 + 40) / 2 / 48, (30 - 5.5) / 64, (40 - 6.25) / 48
    assert line == f"1 {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"


def test_golden_data_yaml_is_what_ultralytics_reads() -> None:
    doc = yaml.safe_load((GOLDEN / "ultralytics" / "data.yaml").read_text())
    assert doc == {"train": "images/train", "val": "images/val", "nc": 2, "names": {0: "cat", 1: "dog"}}
    assert "path" not in doc  # resolved from the data.yaml folder, wherever it moves


# ---------------------------------------------------------------------------------------------
# round trips


@pytest.mark.parametrize("layout", ["ultralytics", "darknet"])
def test_yolo_to_yolo_is_identical(small_dataset: Dataset, tmp_path: Path, layout: str) -> None:
    formats.write(small_dataset, tmp_path / "a", "yolo", layout=layout)
    first = yolo.read(tmp_path / "a").dataset
    formats.write(first, tmp_path / "b", "yolo", layout=layout)
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")
    again = yolo.read(tmp_path / "b").dataset
    pd.testing.assert_frame_equal(first.images, again.images)
    pd.testing.assert_frame_equal(first.annotations, again.annotations)
    pd.testing.assert_frame_equal(first.categories, again.categories)
    assert first.images["split"].tolist() == ["train", "train", "val"]
    np.testing.assert_allclose(first.boxes_xyxy(), small_dataset.boxes_xyxy(), atol=64 * 0.5e-6 + 1e-9)


@pytest.mark.parametrize("layout", ["ultralytics", "darknet"])
def test_round_trip_without_splits_and_with_one_split(small_dataset: Dataset, tmp_path: Path, layout: str) -> None:
    for name, split in (("none", None), ("train", "train"), ("val", "val")):
        ds = small_dataset.replace(images=small_dataset.images.assign(split=split))
        formats.write(ds, tmp_path / f"{layout}-{name}", "yolo", layout=layout)
        back = yolo.read(tmp_path / f"{layout}-{name}").dataset
        assert back.images["split"].tolist() == [split or np.nan] * 3 if split else back.images["split"].isna().all()


@pytest.mark.parametrize("layout", ["ultralytics", "darknet"])
def test_images_without_a_split_among_split_ones(small_dataset: Dataset, tmp_path: Path, layout: str) -> None:
    ds = small_dataset.replace(images=small_dataset.images.assign(split=["train", None, "val"]))
    report = formats.write(ds, tmp_path / "out", "yolo", layout=layout)
    assert [(loss.code, loss.examples) for loss in report.losses] == [
        ("category-renumbered", [3, 7]),
        ("split-unassigned", [2]),
    ]
    back = yolo.read(tmp_path / "out").dataset
    splits = back.images["split"].astype(object).where(back.images["split"].notna(), None)
    assert dict(zip(back.images["file_name"].str.rsplit("/", n=1).str[-1], splits, strict=True)) == {
        "a.jpg": "train",
        "b é.png": None,
        "c.jpg": "val",
    }


@st.composite
def _boxes_dataset(draw: st.DrawFn) -> dict:
    n = draw(st.integers(1, 4))
    sizes = [(draw(st.integers(1, 5000)), draw(st.integers(1, 5000))) for _ in range(n)]
    rows = []
    for i, (w, h) in enumerate(sizes):
        for _ in range(draw(st.integers(0, 5))):
            x0, x1 = sorted(draw(st.floats(-0.2 * w, 1.2 * w, allow_nan=False)) for _ in range(2))
            y0, y1 = sorted(draw(st.floats(-0.2 * h, 1.2 * h, allow_nan=False)) for _ in range(2))
            rows.append((i + 1, draw(st.integers(1, 3)), x0, y0, x1, y1))
    return {"sizes": sizes, "rows": rows}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_boxes_dataset())
def test_hypothesis_round_trip_within_six_decimals(data: dict, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("h")
    sizes = data["sizes"]
    images = {
        "image_id": list(range(1, len(sizes) + 1)),
        "file_name": [f"im{i}.png" for i in range(len(sizes))],
        "width": [w for w, _ in sizes],
        "height": [h for _, h in sizes],
    }
    rows = np.array([r[2:] for r in data["rows"]], dtype=float).reshape(-1, 4)
    anns = {
        "annotation_id": list(range(1, len(data["rows"]) + 1)),
        "image_id": [r[0] for r in data["rows"]],
        "category_id": [r[1] for r in data["rows"]],
        **{c: rows[:, k] for k, c in enumerate(["x_min", "y_min", "x_max", "y_max"])},
    }
    ds = Dataset.from_frames(images, anns, {"category_id": [1, 2, 3], "name": ["a", "b", "c"]})
    for i, (w, h) in enumerate(sizes):  # headers only: a 1-bit PNG of any size is tiny
        Image.new("1", (w, h)).save(root / f"im{i}.png")
    formats.write(ds.replace(root=root), root / "out", "yolo", images="link")
    back = yolo.read(root / "out").dataset
    assert back.images["width"].tolist() == images["width"]
    assert back.annotations["category_id"].tolist() == anns["category_id"]
    size = np.array([sizes[i - 1] * 2 for i in anns["image_id"]], dtype=float).reshape(-1, 4)
    # %.6f of cx and w: each edge is off by at most 2 * 0.5e-6 of the size, plus float noise
    np.testing.assert_array_less(np.abs(back.boxes_xyxy() - rows), size * 1e-6 + 1e-9)


def test_segment_polygons_round_trip(tmp_path: Path) -> None:
    make_image(tmp_path / "src" / "p.png", 100, 50)
    triangle = np.array([[10.0, 5.0], [90.0, 10.0], [50.0, 45.0]])
    square = [np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])]
    two_parts = [square[0], square[0] + [50.0, 20.0]]
    ds = Dataset.from_frames(
        {"image_id": [1], "file_name": ["p.png"], "width": [100], "height": [50]},
        {
            "annotation_id": [1, 2, 3, 4],
            "image_id": [1, 1, 1, 1],
            "category_id": [1, 1, 2, 2],
            "x_min": [10.0, 0.0, 0.0, 20.0],
            "y_min": [5.0, 0.0, 0.0, 30.0],
            "x_max": [90.0, 10.0, 60.0, 40.0],
            "y_max": [45.0, 10.0, 30.0, 40.0],
            "segmentation": [[triangle], square, two_parts, None],
        },
        {"category_id": [1, 2], "name": ["tri", "sq"]},
        root=tmp_path / "src",
    )
    losses = formats.plan(ds, "yolo", task="segment")
    assert [(loss.code, loss.examples) for loss in losses] == [("polygon-parts-joined", [3])]
    formats.write(ds, tmp_path / "out", "yolo", task="segment")
    lines = (tmp_path / "out" / "labels" / "p.txt").read_text().splitlines()
    assert lines[0] == "0 0.100000 0.100000 0.900000 0.200000 0.500000 0.900000"
    assert lines[3] == "1 0.200000 0.600000 0.400000 0.600000 0.400000 0.800000 0.200000 0.800000"  # box as rectangle
    back = yolo.read(tmp_path / "out").dataset
    seg = back.annotations["segmentation"].tolist()
    np.testing.assert_allclose(seg[0][0], triangle, atol=1e-4)
    np.testing.assert_allclose(back.boxes_xyxy(), ds.boxes_xyxy(), atol=1e-4)
    from shapely.geometry import Polygon

    joined = Polygon(seg[2][0]).buffer(0)
    assert joined.area == pytest.approx(200.0, abs=0.01)  # the union of both squares; bridges add nothing
    # detect task: polygons become boxes, with the generic loss
    assert [loss.code for loss in formats.plan(ds, "yolo")] == ["polygon-to-box"]


def test_predictions_with_conf(small_dataset: Dataset, tmp_path: Path) -> None:
    scored = small_dataset.annotations.assign(score=[0.9, 0.25, np.nan, 0.125])
    ds = small_dataset.replace(annotations=scored)
    assert [loss.code for loss in formats.plan(ds, "yolo")] == ["score-dropped", "category-renumbered"]
    formats.write(ds, tmp_path / "out", "yolo", scores=True)
    lines = (tmp_path / "out" / "labels" / "train" / "a.txt").read_text().splitlines()
    assert [len(line.split()) for line in lines] == [6, 6]
    assert lines[0].endswith(" 0.900000")
    back = yolo.read(tmp_path / "out").dataset
    np.testing.assert_array_equal(back.annotations["score"].to_numpy(), [0.9, 0.25, np.nan, 0.125])


def test_polygon_prediction_rows_and_pose_rows(tmp_path: Path) -> None:
    ultralytics_tree(tmp_path, {"x.txt": "0 0.1 0.1 0.5 0.1 0.5 0.5 0.75\n1 0.5 0.5 0.2 0.2\n"})
    ds = yolo.read(tmp_path).dataset
    np.testing.assert_array_equal(ds.annotations["score"].to_numpy(), [0.75, np.nan])
    np.testing.assert_allclose(ds.boxes_xyxy()[0], [4, 2, 20, 10])
    with (tmp_path / "data.yaml").open("a") as f:
        f.write("kpt_shape: [2, 3]\n")
    write_labels(tmp_path, {"labels/train/x.txt": "0 0.5 0.5 0.5 0.5 0.1 0.1 2 0.2 0.2 2\n"})
    result = yolo.read(tmp_path)
    assert any("keypoints" in note for note in result.notes)
    np.testing.assert_allclose(result.dataset.boxes_xyxy(), [[10, 5, 30, 15]])


# ---------------------------------------------------------------------------------------------
# image sizes from headers


def header_size(path: Path) -> tuple[int, int, bool]:
    """``(width, height, rotated)`` the YOLO reader gets: the fast header parser's, else Pillow's (probe_image)."""
    found = _image_header.read_header(path)
    if found is None:
        header = probe_image(path)
        return header.width, header.height, header.rotated
    _, width, height, orientation = found
    return (height, width, True) if orientation >= 5 else (width, height, False)


def _jpeg_with_orientation(path: Path, width: int, height: int, orientation: int) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (1, 2, 3)).save(path, exif=exif)
    return path


def test_exif_rotated_image_size(tmp_path: Path) -> None:
    _jpeg_with_orientation(tmp_path / "images" / "r.jpg", 40, 20, 6)
    write_labels(tmp_path, {"labels/r.txt": "0 0.5 0.5 0.5 0.5\n", "obj.names": "a\n"})
    result = yolo.read(tmp_path)
    ds = result.dataset
    assert (ds.images["width"].iloc[0], ds.images["height"].iloc[0]) == (20, 40)  # as displayed
    np.testing.assert_allclose(ds.boxes_xyxy(), [[5, 10, 15, 30]])
    assert any("1 images have an EXIF rotation" in note for note in result.notes)


@pytest.mark.parametrize("orientation", [1, 3, 5, 6, 7, 8])
@pytest.mark.parametrize("kind", ["jpeg", "png", "progressive", "bmp"])
def test_header_sizes_match_pillow(tmp_path: Path, orientation: int, kind: str) -> None:
    suffix = {"jpeg": ".jpg", "progressive": ".jpg", "png": ".png", "bmp": ".bmp"}[kind]
    path = tmp_path / f"x{suffix}"
    exif = Image.Exif()
    exif[0x0112] = orientation
    options = {"progressive": True} if kind == "progressive" else {}
    Image.new("RGB", (33, 17)).save(path, exif=exif.tobytes(), **options)
    header = pillow_header(path)
    assert header_size(path) == (header.width, header.height, header.rotated)


def test_header_reads_xmp_orientation_and_large_exif(tmp_path: Path) -> None:
    xmp = b'<x:xmpmeta><rdf:Description tiff:Orientation="8"/></x:xmpmeta>'
    Image.new("RGB", (30, 10)).save(tmp_path / "x.jpg", xmp=xmp)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010E] = "x" * 60000  # a long description pushes the frame header far from the start
    Image.new("RGB", (30, 10)).save(tmp_path / "y.jpg", exif=exif)
    for name in ("x.jpg", "y.jpg"):
        header = pillow_header(tmp_path / name)
        assert header_size(tmp_path / name) == (header.width, header.height, header.rotated) == (10, 30, True)


# ---------------------------------------------------------------------------------------------
# reading details


def test_empty_and_missing_label_files(tmp_path: Path) -> None:
    ultralytics_tree(tmp_path, {"a.txt": "", "b.txt": "\n\n0 0.5 0.5 1 1\n\n"})
    make_image(tmp_path / "images" / "train" / "c.jpg", 10, 10)
    result = yolo.read(tmp_path)
    ds = result.dataset
    assert ds.images["file_name"].tolist() == ["images/train/a.jpg", "images/train/b.jpg", "images/train/c.jpg"]
    assert ds.annotations["image_id"].tolist() == [2]
    assert any("1 images have no label file" in note for note in result.notes)


def test_crlf_bom_tabs_and_mixed_arity(tmp_path: Path) -> None:
    text = b"\xef\xbb\xbf0 0.5 0.5 0.5 0.5\r\n1\t0.25 0.25 0.5 0.5 0.5\r\n2 0 0 1 0 1 1\r\n"
    ultralytics_tree(tmp_path, {"a.txt": text})
    ds = yolo.read(tmp_path).dataset
    assert ds.annotations["category_id"].tolist() == [1, 2, 3]
    np.testing.assert_allclose(ds.boxes_xyxy(), [[10, 5, 30, 15], [0, 0, 20, 10], [0, 0, 40, 20]])
    np.testing.assert_array_equal(ds.annotations["score"].to_numpy(), [np.nan, 0.5, np.nan])


def test_values_outside_unit_range_are_kept(tmp_path: Path) -> None:
    ultralytics_tree(tmp_path, {"a.txt": "0 1.5 -0.25 0.5 0.5\n"})
    np.testing.assert_allclose(yolo.read(tmp_path).dataset.boxes_xyxy(), [[50, -10, 70, 0]])


def test_class_beyond_names_is_kept_with_a_generated_name(tmp_path: Path) -> None:
    ultralytics_tree(tmp_path, {"a.txt": "7 0.5 0.5 0.5 0.5\n"})
    result = yolo.read(tmp_path)
    assert result.dataset.categories["name"].tolist() == ["a", "b", "c", "class_7"]
    assert result.dataset.categories.index.tolist() == [1, 2, 3, 8]
    assert any("class indices 7" in note for note in result.notes)


def test_loose_layout_without_names(tmp_path: Path) -> None:
    make_image(tmp_path / "images" / "valid" / "x.png", 8, 8)
    write_labels(tmp_path, {"labels/valid/x.txt": "2 0.5 0.5 1 1\n"})
    assert yolo.detect(tmp_path) == pytest.approx(0.5)
    result = yolo.read(tmp_path)
    assert result.dataset.categories["name"].tolist() == ["class_0", "class_1", "class_2"]
    assert result.dataset.images["split"].tolist() == ["val"]  # Roboflow's "valid" folder


def test_roboflow_data_yaml_with_parent_paths(tmp_path: Path) -> None:
    for split in ("train", "valid"):
        make_image(tmp_path / split / "images" / f"{split}.jpg", 10, 10)
        write_labels(tmp_path, {f"{split}/labels/{split}.txt": "0 0.5 0.5 0.2 0.2\n"})
    (tmp_path / "data.yaml").write_text(
        "train: ../train/images\nval: ../valid/images\nnc: 1\nnames: ['Helmet']\n"
        "roboflow:\n  workspace: w\n  project: p\n"
    )
    (tmp_path / "data.yaml").rename(tmp_path / "elsewhere.txt")
    assert yolo.detect(tmp_path) == pytest.approx(0.5)  # without its data.yaml, still found
    assert yolo.read(tmp_path).dataset.images["split"].tolist() == ["train", "val"]
    (tmp_path / "elsewhere.txt").rename(tmp_path / "data.yaml")
    result = yolo.read(tmp_path)
    ds = result.dataset
    assert ds.images["file_name"].tolist() == ["train/images/train.jpg", "valid/images/valid.jpg"]
    assert ds.images["split"].tolist() == ["train", "val"]
    assert len(ds.annotations) == 2
    assert any("roboflow" in note for note in result.notes)


def test_txt_lists_names_dict_and_yaml_path(tmp_path: Path) -> None:
    make_image(tmp_path / "ds" / "images" / "a.jpg", 10, 10)
    make_image(tmp_path / "ds" / "images" / "b.jpg", 10, 10)
    write_labels(tmp_path / "ds", {"labels/a.txt": "1 0.5 0.5 1 1\n", "labels/b.txt": "0 0.5 0.5 1 1\n"})
    write_labels(tmp_path / "ds", {"train.txt": "./images/a.jpg\n", "val.txt": "/elsewhere/ds/images/b.jpg\n"})
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "my.yaml").write_text("path: ../ds\ntrain: train.txt\nval: val.txt\nnames: {0: x, 1: y}\n")
    ds = yolo.read(tmp_path / "cfg" / "my.yaml").dataset
    assert ds.images["file_name"].tolist() == ["images/a.jpg", "images/b.jpg"]
    assert ds.images["split"].tolist() == ["train", "val"]
    assert ds.annotations["category_id"].tolist() == [2, 1]


def test_repeated_and_blank_class_names(tmp_path: Path) -> None:
    make_image(tmp_path / "images" / "a.jpg", 10, 10)
    write_labels(tmp_path, {"labels/a.txt": "0 0.5 0.5 1 1\n", "obj.names": "car\n\ncar\n\n"})
    result = yolo.read(tmp_path)
    assert result.dataset.categories["name"].tolist() == ["car", "class_1", "car_2"]
    assert any("renamed" in note for note in result.notes)


def test_provenance(tmp_path: Path) -> None:
    ultralytics_tree(tmp_path, {"a.txt": "\n0 0.5 0.5 1 1\n\n1 0.5 0.5 1 1\n"})
    make_image(tmp_path / "images" / "train" / "b.jpg", 4, 4)
    result = yolo.read(tmp_path, provenance=True)
    assert result.annotation_sources["file"].tolist() == ["labels/train/a.txt"] * 2
    assert result.annotation_sources["line"].tolist() == [2, 4]
    assert result.image_sources["file"].tolist() == ["labels/train/a.txt", "labels/train/b.txt"]


@pytest.mark.parametrize(
    ("image", "label"),
    [
        ("images/train/a.jpg", "labels/train/a.txt"),
        ("data/images/x/images/b.c.png", "data/images/x/labels/b.c.txt"),  # the last images/ only
        ("VOC/JPEGImages/a.jpg", "VOC/labels/a.txt"),
        ("Images/a.jpg", "Annotations/a.txt"),
        ("my_images/a.jpeg", "my_images/a.txt"),  # a component named images, not a substring
        ("a.jpg", "a.txt"),
        ("dir/noext", "dir/noext.txt"),
        ("x\\images\\a.jpg", "x/labels/a.txt"),
    ],
)
def test_label_path_for(image: str, label: str) -> None:
    assert yolo.label_path_for(image) == label


def test_provenance_names_label_files_by_label_path_for(tmp_path: Path) -> None:
    ultralytics_tree(tmp_path, {"a.txt": "0 0.5 0.5 1 1\n"})
    make_image(tmp_path / "images" / "val" / "sub" / "c.d.png", 4, 4)  # no label file
    (tmp_path / "data.yaml").write_text("train: images/train\nval: images/val\nnames: [a]\n")
    result = yolo.read(tmp_path, provenance=True)
    names = result.dataset.images["file_name"].tolist()
    assert result.image_sources["file"].tolist() == [yolo.label_path_for(n) for n in names]


def test_layouts_are_frozen(tmp_path: Path) -> None:
    import dataclasses

    from dataprep.formats.yolo import layout
    from dataprep.formats.yolo._common import Listing, ReadContext

    ultralytics_tree(tmp_path, {"a.txt": "0 0.5 0.5 1 1\n"})
    write_labels(tmp_path, {"obj.data": "classes = 3\ntrain = train.txt\n", "train.txt": "images/train/a.jpg\n"})
    found = [
        layout.ultralytics_layout(str(tmp_path / "data.yaml"), ReadContext("raise"), Listing()),
        layout.darknet_layout(str(tmp_path / "obj.data"), ReadContext("raise"), Listing()),
        layout.loose_layout(str(tmp_path), ReadContext("raise"), Listing()),
    ]
    assert [f.kind for f in found] == ["ultralytics", "darknet", "loose"]
    assert all(f.image_paths == (str(tmp_path / "images" / "train" / "a.jpg"),) for f in found)
    with pytest.raises(dataclasses.FrozenInstanceError):
        found[0].root = "elsewhere"  # type: ignore[misc]


def test_layout_modules_stay_small() -> None:
    """Finding a dataset is split by role (detection, data.yaml, obj.data, paths): small modules, short functions."""
    import ast

    folder = Path(yolo.__file__).parent
    for name in ("layout", "inventory", "paths", "data_yaml", "obj_data"):
        text = (folder / f"{name}.py").read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 400, name
        functions = [n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef)]
        assert all(f.end_lineno - f.lineno < 60 for f in functions), name
    from dataprep.formats.yolo import layout, paths

    assert layout.label_path_for is paths.label_path_for is yolo.label_path_for


def test_plan_and_write_share_one_preparation(tmp_path: Path) -> None:
    from dataprep.formats.yolo import write as writer

    names = ["a.jpg", "a.png", "a_2.png", "b.jpg"]  # a.png's first choice of new name is taken
    ds = Dataset.from_frames(
        {"image_id": [1, 2, 3, 4], "file_name": names, "width": [10] * 4, "height": [10] * 4, "split": ["train"] * 4},
        {"annotation_id": [1], "image_id": [2], "category_id": [1], "x_min": [0], "y_min": [0], "x_max": [5],
         "y_max": [5]},
        {"category_id": [1], "name": ["x"]},
    )  # fmt: skip
    prepared, losses = writer._prepare(ds, layout="darknet")
    assert losses == formats.plan(ds, "yolo", layout="darknet")
    renamed = next(loss for loss in losses if loss.code == "image-renamed")
    assert renamed.examples == prepared.renamed == [2]
    formats.write(ds, tmp_path / "out", "yolo", layout="darknet", images="none")
    written = {p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.txt")}
    assert set(prepared.labels) == written - {"train.txt"}
    listed = (tmp_path / "out" / "train.txt").read_text().split()
    assert listed == [f"data/{image}" for image in prepared.images]
    assert not hasattr(writer, "_LAST_PLACEMENT")


def test_odd_file_names_round_trip(tmp_path: Path) -> None:
    names = ["sub dir/b é.png", "日本 語.jpg", "a b.c.jpg"]
    for name in names:
        make_image(tmp_path / "src" / name, 16, 8)
    ds = Dataset.from_frames(
        {"image_id": [1, 2, 3], "file_name": names, "width": [16] * 3, "height": [8] * 3},
        {"annotation_id": [1, 2], "image_id": [1, 2], "category_id": [1, 1], "x_min": [0, 4], "y_min": [0, 2],
         "x_max": [8, 12], "y_max": [4, 6]},
        {"category_id": [1], "name": ["ünï côdé: \"x\""]},
        root=tmp_path / "src",
    )  # fmt: skip
    formats.write(ds, tmp_path / "out", "yolo")
    assert (tmp_path / "out" / "labels" / "日本 語.txt").read_text() == "0 0.500000 0.500000 0.500000 0.500000\n"
    assert (tmp_path / "out" / "labels" / "a b.c.txt").read_bytes() == b""
    back = yolo.read(tmp_path / "out").dataset
    assert sorted(back.images["file_name"]) == sorted(f"images/{n}" for n in names)
    assert back.categories["name"].tolist() == ['ünï côdé: "x"']
    np.testing.assert_allclose(back.boxes_xyxy(), ds.boxes_xyxy(), atol=1e-5)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=4, unique=True))
def test_class_names_survive_data_yaml(names: list[str]) -> None:
    assume(all(n.strip() == n for n in names))
    text = "\n".join(f"  {i}: {yaml_scalar(n)}" for i, n in enumerate(names))
    assert yaml.safe_load("names:\n" + text)["names"] == dict(enumerate(names))


# ---------------------------------------------------------------------------------------------
# writing details


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(-2e3, 2e3, allow_nan=False),
            st.integers(-(10**6), 10**6).map(lambda k: k / 128),  # exact binary halves of 1e-6 steps
            st.integers(-(10**7), 10**7).map(lambda k: k * 5e-7),  # near-ties after the 6th decimal
            st.sampled_from([0.0, -0.0, 1e-7, -1e-7, 0.9999995, 123456789.5, 5e-7]),
        ),
        min_size=1,
        max_size=40,
    ),
    st.integers(0, 12345),
)
def test_row_formatting_is_printf(values: list[float], cls: int) -> None:
    cols = 1 + len(values) % 4
    pad = (-len(values)) % cols
    arr = np.array(values + [0.5] * pad).reshape(-1, cols)
    class_index = np.full(len(arr), cls, dtype=np.int64)
    blob, lengths = format_rows(class_index, arr)
    expected = [("%d" + " %.6f" * cols + "\n") % (cls, *row) for row in arr.tolist()]
    assert blob.decode() == "".join(expected)
    assert lengths.tolist() == [len(e) for e in expected]


def test_row_formatting_of_inf_and_nan() -> None:
    blob, _ = format_rows(np.array([0, 1]), np.array([[np.inf, 0.5], [np.nan, -np.inf]]))
    assert blob == b"0 inf 0.500000\n1 nan -inf\n"


def test_same_label_path_is_disambiguated(tmp_path: Path) -> None:
    for name in ("a.jpg", "a.png"):
        make_image(tmp_path / "src" / name, 10, 10)
    ds = Dataset.from_frames(
        {"image_id": [1, 2], "file_name": ["a.jpg", "a.png"], "width": [10, 10], "height": [10, 10]},
        {"annotation_id": [1, 2], "image_id": [1, 2], "category_id": [1, 1], "x_min": [0, 5], "y_min": [0, 5],
         "x_max": [5, 10], "y_max": [5, 10]},
        {"category_id": [1], "name": ["x"]},
        root=tmp_path / "src",
    )  # fmt: skip
    report = formats.write(ds, tmp_path / "out", "yolo")
    assert [(loss.code, loss.examples) for loss in report.losses] == [("image-renamed", [2])]
    assert sorted(os.listdir(tmp_path / "out" / "images")) == ["a.jpg", "a_2.png"]
    assert (tmp_path / "out" / "labels" / "a_2.txt").read_text().startswith("0 0.750000")
    back = yolo.read(tmp_path / "out").dataset
    np.testing.assert_allclose(back.boxes_xyxy(), ds.boxes_xyxy())


def test_unknown_sizes_are_read_from_headers_or_reported(tmp_path: Path) -> None:
    make_image(tmp_path / "src" / "a.jpg", 20, 10)
    ds = Dataset.from_frames(
        {"image_id": [1, 2], "file_name": ["a.jpg", "gone.jpg"]},
        {"annotation_id": [1, 2], "image_id": [1, 2], "category_id": [1, 1], "x_min": [0, 0], "y_min": [0, 0],
         "x_max": [10, 1], "y_max": [10, 1]},
        {"category_id": [1], "name": ["x"]},
        root=tmp_path / "src",
    )  # fmt: skip
    report = formats.write(ds, tmp_path / "out", "yolo")
    assert (tmp_path / "out" / "labels" / "a.txt").read_text() == "0 0.250000 0.500000 0.500000 1.000000\n"
    assert (tmp_path / "out" / "labels" / "gone.txt").read_bytes() == b""
    assert [(loss.code, loss.count, loss.examples) for loss in report.losses] == [("unknown-image-size", 1, [2])]
    assert report.images_missing == 1 and report.annotations == 1


def test_image_level_labels_and_dangling_categories_are_reported(small_dataset: Dataset) -> None:
    anns = small_dataset.annotations.copy()
    anns.loc[1, ["x_min", "y_min", "x_max", "y_max"]] = np.nan
    anns.loc[2, "category_id"] = 99
    losses = formats.plan(small_dataset.replace(annotations=anns), "yolo")
    assert [(loss.code, loss.examples) for loss in losses] == [
        ("image-label-dropped", [1]),
        ("category-renumbered", [3, 7]),
        ("unknown-category", [2]),
    ]


@pytest.mark.parametrize("layout", ["ultralytics", "darknet"])
def test_empty_dataset_round_trips(tmp_path: Path, layout: str) -> None:
    ds = Dataset.from_frames(categories={"category_id": [1], "name": ["x"]})
    report = formats.write(ds, tmp_path / "out", "yolo", layout=layout)
    assert report.images == 0 and not report.losses
    back = yolo.read(tmp_path / "out").dataset
    assert len(back.images) == 0 and back.categories["name"].tolist() == ["x"]


def test_darknet_config_files(small_dataset: Dataset, tmp_path: Path) -> None:
    formats.write(small_dataset, tmp_path / "out", "yolo", layout="darknet")
    out = tmp_path / "out"
    assert (out / "obj.data").read_text() == (
        "classes = 2\ntrain = data/train.txt\nvalid = data/val.txt\nnames = data/obj.names\nbackup = backup/\n"
    )
    assert (out / "train.txt").read_text() == "data/obj_train_data/a.jpg\ndata/obj_train_data/sub dir/b é.png\n"
    assert (out / "obj_val_data" / "c.jpg").is_file() and (out / "obj_val_data" / "c.txt").read_bytes() == b""


def test_registry_and_options(small_dataset: Dataset, tmp_path: Path) -> None:
    formats.write(small_dataset, tmp_path / "out", "yolo", images="link")
    assert formats.detect(tmp_path / "out")[0] == ("yolo", 0.9)
    assert formats.read(tmp_path / "out" / "data.yaml", "yolo").images["file_name"].tolist() == [
        "images/train/a.jpg",
        "images/train/sub dir/b é.png",
        "images/val/c.jpg",
    ]
    with pytest.raises(UsageError, match="layout"):
        formats.write(small_dataset, tmp_path / "x", "yolo", layout="voc")
    with pytest.raises(UsageError, match="task"):
        formats.plan(small_dataset, "yolo", task="pose")
    with pytest.raises(UsageError, match="option"):
        yolo.read(tmp_path / "out", colour="red")


# ---------------------------------------------------------------------------------------------
# errors the user can cause: each names the file, the record and the fix


def test_reports_bad_line(tmp_path: Path) -> None:
    ultralytics_tree(tmp_path, {"a.txt": "0 0.5 0.5 0.2 0.2\n\n0 0.5 0.5 abc 0.2\n"})
    with pytest.raises(InputError) as info:
        yolo.read(tmp_path)
    err = info.value
    assert err.path == str(tmp_path / "labels" / "train" / "a.txt")
    assert err.line == 3 and err.record == "line 3"
    assert '"abc" is not a number: "0 0.5 0.5 abc 0.2"' in err.problem
    assert "class cx cy w h" in str(err)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("0 0.5 0.5", "expected 5 numbers (class cx cy w h), got 3"),
        ("1.5 0.5 0.5 0.1 0.1", 'class index must be a whole number >= 0, got "1.5"'),
        ("-1 0.5 0.5 0.1 0.1", 'class index must be a whole number >= 0, got "-1"'),
        ("0,0.5,0.5,0.1,0.1", "numbers are separated by spaces, not commas"),
    ],
)
def test_reports_malformed_rows(tmp_path: Path, line: str, problem: str) -> None:
    ultralytics_tree(tmp_path, {"a.txt": f"0 0.5 0.5 0.2 0.2\n{line}\n"})
    with pytest.raises(InputError, match="line 2") as info:
        yolo.read(tmp_path)
    assert problem in info.value.problem and str(tmp_path / "labels" / "train" / "a.txt") in str(info.value)


def test_collect_mode_skips_bad_lines_only(tmp_path: Path) -> None:
    ultralytics_tree(tmp_path, {"a.txt": "0 0.5 0.5 0.2 0.2\n0 x 0.5 0.2 0.2\n1 0.5 0.5 0.2 0.2\n", "b.txt": "2 0 0\n"})
    result = yolo.read(tmp_path, on_error="collect")
    assert result.dataset.annotations["category_id"].tolist() == [1, 2]
    assert [(f.code, f.line, Path(f.file).name) for f in result.findings] == [
        ("bad-label-line", 2, "a.txt"),
        ("bad-label-line", 1, "b.txt"),
    ]


@pytest.mark.parametrize("garbage", [b"\x89PNG\r\n\x1a\n\x00\x00\x00", b"0 0.5 0.5 0.1 0.1\n\xff\xfe\x00a"])
def test_reports_binary_garbage(tmp_path: Path, garbage: bytes) -> None:
    ultralytics_tree(tmp_path, {"a.txt": garbage})
    with pytest.raises(InputError, match="binary or non-text data") as info:
        yolo.read(tmp_path)
    assert info.value.path == str(tmp_path / "labels" / "train" / "a.txt")
    assert info.value.line == garbage[: garbage.index(next(b for b in garbage if b > 127 or b == 0))].count(b"\n") + 1
    result = yolo.read(tmp_path, on_error="collect")
    assert [f.code for f in result.findings] == ["unreadable-label"] and len(result.dataset.images) == 1


def test_reports_label_without_image(tmp_path: Path) -> None:
    ultralytics_tree(tmp_path, {"a.txt": "0 0.5 0.5 1 1\n"})
    write_labels(tmp_path, {"labels/train/orphan.txt": "1 0.5 0.5 1 1\n"})
    with pytest.raises(InputError) as info:
        yolo.read(tmp_path)
    assert info.value.path == str(tmp_path / "labels" / "train" / "orphan.txt")
    assert "without an image" in info.value.problem and "--on-error collect" in info.value.hint
    result = yolo.read(tmp_path, on_error="collect")
    assert [(f.code, Path(f.file).name) for f in result.findings] == [("label-without-image", "orphan.txt")]
    assert len(result.dataset.annotations) == 1


def test_reports_listed_image_missing_with_its_label(tmp_path: Path) -> None:
    make_image(tmp_path / "obj_train_data" / "a.jpg", 10, 10)
    write_labels(
        tmp_path,
        {
            "obj_train_data/a.txt": "0 0.5 0.5 1 1\n",
            "obj_train_data/b.txt": "0 0.5 0.5 1 1\n",
            "train.txt": "data/obj_train_data/a.jpg\ndata/obj_train_data/b.jpg\n",
            "obj.names": "x\n",
            "obj.data": "classes = 1\ntrain = data/train.txt\nnames = data/obj.names\n",
        },
    )
    with pytest.raises(InputError, match="without an image") as info:
        yolo.read(tmp_path)
    assert info.value.path.endswith("b.txt")
    result = yolo.read(tmp_path, on_error="collect")
    assert result.dataset.images["width"].isna().tolist() == [False, True]  # kept: validate reports it


def test_reports_data_yaml_without_names(tmp_path: Path) -> None:
    ultralytics_tree(tmp_path, {"a.txt": ""})
    (tmp_path / "data.yaml").write_text("train: images/train\nval: images/train\n")
    with pytest.raises(InputError) as info:
        yolo.read(tmp_path)
    assert info.value.path == str(tmp_path / "data.yaml") and info.value.record == "names"
    assert "names: [cat, dog]" in info.value.hint


@pytest.mark.parametrize(
    ("text", "record", "problem"),
    [
        ("train: images/train\nnames: [a\n", None, "not valid YAML"),
        ("train: images/train\nnames: 5\n", "names", "names must be a list or a mapping"),
        ("train: images/train\nnames: {x: a}\n", "names.x", "is not a whole number"),
        ("train: images/nowhere\nnames: [a]\n", "train", "not found"),
        ("names: [a]\n", "train", "no split lists images"),
        ("- a\n- b\n", None, "expected a mapping"),
    ],
)
def test_reports_bad_data_yaml(tmp_path: Path, text: str, record: str | None, problem: str) -> None:
    ultralytics_tree(tmp_path, {"a.txt": ""})
    (tmp_path / "data.yaml").write_text(text)
    with pytest.raises(InputError, match=problem) as info:
        yolo.read(tmp_path)
    assert info.value.path == str(tmp_path / "data.yaml")
    if record:
        assert info.value.record == record
    if "YAML" in problem:
        assert info.value.line == 3


def test_reports_nc_mismatch_or_collects_it(tmp_path: Path) -> None:
    ultralytics_tree(tmp_path, {"a.txt": "0 0.5 0.5 1 1\n"})
    (tmp_path / "data.yaml").write_text("train: images/train\nval: images/train\nnc: 4\nnames: [a, b]\n")
    with pytest.raises(InputError, match="nc is 4 but names has 2 entries"):
        yolo.read(tmp_path)
    assert [f.code for f in yolo.read(tmp_path, on_error="collect").findings] == ["bad-config"]


def test_reports_unsafe_names_on_write(tmp_path: Path) -> None:
    for name in ("../evil.jpg", "sub/../../evil.jpg"):
        ds = Dataset.from_frames(
            {"image_id": [1, 2], "file_name": [name, "ok.jpg"], "width": [4, 4], "height": [4, 4]},
            categories={"category_id": [1], "name": ["x"]},
        )
        with pytest.raises(OutputError, match="refusing to write"):
            formats.write(ds, tmp_path / "out", "yolo", images="none")
        assert not (tmp_path / "out").exists()
    # an absolute name stays inside the output folder
    ds = Dataset.from_frames(
        {"image_id": [1, 2], "file_name": ["/abs/x.jpg", "ok.jpg"], "width": [4, 4], "height": [4, 4]},
        categories={"category_id": [1], "name": ["x"]},
    )
    formats.write(ds, tmp_path / "out", "yolo", images="none")
    assert sorted(files_of(tmp_path / "out")) == ["data.yaml", "labels/abs/x.txt", "labels/ok.txt"]


def test_detect_says_no_to_other_folders(tmp_path: Path) -> None:
    make_image(tmp_path / "a" / "x.jpg", 4, 4)
    (tmp_path / "notes.txt").write_text("hello")
    assert yolo.detect(tmp_path) is None
    assert yolo.detect(tmp_path / "notes.txt") is None
    (tmp_path / "other.yaml").write_text("model: resnet\n")
    assert yolo.detect(tmp_path) is None


@pytest.mark.parametrize(
    "text",
    [
        "names: [a]\ntrain: " + "[" * 5000 + "]" * 5000,  # PyYAML recurses once per level
        "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nnames: [a]\ntrain: images/train\n",
    ],
    ids=["deep-nesting", "alias-bomb"],
)
def test_hostile_data_yaml_is_refused(text: str, tmp_path: Path) -> None:
    (tmp_path / "images" / "train").mkdir(parents=True)
    (tmp_path / "data.yaml").write_text(text)
    with pytest.raises(InputError, match=r"data\.yaml: YAML"):
        yolo.read(tmp_path)


def test_orphan_label_in_a_split_without_images_is_reported(tmp_path: Path) -> None:
    (tmp_path / "images" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "data.yaml").write_text("names: [a]\ntrain: images/train\nval: images/train\n")
    with pytest.raises(InputError, match=r"labels/train/a\.txt: label file without an image"):
        yolo.read(tmp_path)
    collected = yolo.read(tmp_path, on_error="collect")
    assert [f.code for f in collected.findings] == ["label-without-image"]


# ---------------------------------------------------------------------------------------------
# darknet's own tree (AlexeyAB): ROOT/data/obj.data, paths in it written relative to ROOT


def darknet_root(root: Path) -> None:
    """ROOT/data/{obj.data, obj.names, train.txt, valid.txt, obj/img*.jpg + .txt}, as darknet's examples lay it out."""
    for i, (w, h) in enumerate([(20, 10), (16, 16), (10, 20)], 1):
        make_image(root / "data" / "obj" / f"img{i}.jpg", w, h)
    write_labels(
        root / "data",
        {
            "obj/img1.txt": "0 0.5 0.5 0.5 0.5\n",
            "obj/img2.txt": "1 0.5 0.5 0.5 0.5\n",
            "obj/img3.txt": "1 0.25 0.5 0.5 0.5\n",
            "obj.names": "cat\ndog\n",
            "obj.data": "classes = 2\ntrain = data/train.txt\nvalid = data/valid.txt\nnames = data/obj.names\n"
            "backup = backup/\n",
            "train.txt": "data/obj/img1.jpg\ndata/obj/img2.jpg\n",
            "valid.txt": "data/obj/img3.jpg\n",
        },
    )


@pytest.mark.parametrize(("given", "prefix"), [("", "data/"), ("data", ""), ("data/obj.data", "")])
def test_darknet_tree_is_read_from_root_and_from_data(tmp_path: Path, given: str, prefix: str) -> None:
    darknet_root(tmp_path)
    path = tmp_path / given
    assert formats.detect(path)[0] == ("yolo", 0.9)
    result = formats.load(path)
    ds = result.dataset
    assert "layout: darknet (obj.data)" in result.notes
    assert ds.root == (tmp_path if not given else tmp_path / "data")
    assert ds.images["file_name"].tolist() == [f"{prefix}obj/img{i}.jpg" for i in (1, 2, 3)]
    assert ds.images["split"].tolist() == ["train", "train", "val"]  # from train.txt and valid.txt
    assert ds.categories["name"].tolist() == ["cat", "dog"]
    assert ds.annotations["category_id"].tolist() == [1, 2, 2]
    np.testing.assert_allclose(ds.annotations[["x_min", "y_min", "x_max", "y_max"]].to_numpy()[2], [0, 5, 5, 15])
    assert result.findings == []


def test_darknet_tree_from_root_through_the_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dataprep.cli import app

    darknet_root(tmp_path / "root")
    runner = CliRunner()
    info = runner.invoke(app, ["info", str(tmp_path / "root"), "--json"])
    assert info.exit_code == 0, info.output
    assert [(s["split"], s["images"]) for s in json.loads(info.stdout)["splits"]] == [("train", 2), ("val", 1)]
    done = runner.invoke(app, ["convert", str(tmp_path / "root"), str(tmp_path / "coco"), "--to", "coco"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "coco" / "annotations" / "instances_val.json").is_file()
    assert runner.invoke(app, ["validate", str(tmp_path / "root")]).exit_code == 0


@pytest.mark.parametrize(
    ("missing", "line", "problem"),
    [
        ("valid.txt", 3, "valid list 'data/valid.txt' not found"),
        ("obj.names", 4, "names file 'data/obj.names' not found"),
    ],
)
def test_darknet_tree_names_obj_data_when_a_listed_file_is_missing(
    tmp_path: Path, missing: str, line: int, problem: str
) -> None:
    darknet_root(tmp_path)
    (tmp_path / "data" / missing).unlink()
    with pytest.raises(InputError, match=problem) as info:
        formats.read(tmp_path)
    err = info.value
    assert err.path == str(tmp_path / "data" / "obj.data") and err.line == line
    assert f"looked under {tmp_path / 'data'} and {tmp_path}" in err.problem
    assert "relative to the obj.data folder or the one above it" in err.hint
    if missing == "valid.txt":  # collected: the train images are still read
        result = formats.load(tmp_path, on_error="collect")
        assert [(f.code, f.file, f.line) for f in result.findings] == [
            ("missing-split", str(tmp_path / "data" / "obj.data"), 3)
        ]
        assert result.dataset.images["split"].tolist() == ["train", "train"]


def test_darknet_tree_is_not_guessed_from_a_data_folder_without_obj_data(tmp_path: Path) -> None:
    darknet_root(tmp_path)
    (tmp_path / "data" / "obj.data").rename(tmp_path / "data" / "other.txt")
    assert yolo.detect(tmp_path) is None
