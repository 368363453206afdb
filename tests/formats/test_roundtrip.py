"""Every format pair: random datasets survive a trip through another format and back."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from strategies import assert_same, detection_tables, materialize

import dataprep
from dataprep import formats

# What each round trip may change: YOLO keeps 6 decimals of normalized centre and size, so a box
# edge (centre - size / 2) moves by at most 0.75e-6 of the image size (images here are <= 120 px).
TOLERANCE = {"coco": 0.0, "voc": 0.0, "yolo": 120 * 0.75e-6 + 1e-9}
PAIRS = [("coco", "yolo"), ("coco", "voc"), ("yolo", "voc"), ("yolo", "coco"), ("voc", "coco"), ("voc", "yolo")]


@pytest.mark.parametrize(("start", "via"), PAIRS, ids=[f"{a}-{b}-{a}" for a, b in PAIRS])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables=detection_tables(integer=True))
def test_round_trip_keeps_images_classes_and_boxes(start: str, via: str, tables: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        original = materialize(tables, root / "src")
        dataprep.write(original, root / "a", start)
        first = dataprep.read(root / "a", start)
        assert_same(original, first, atol=TOLERANCE[start])
        formats.convert(root / "a", root / "b", to=via, from_format=start)
        formats.convert(root / "b", root / "c", to=start, from_format=via)
        back = dataprep.read(root / "c", start)
        assert_same(first, back, atol=TOLERANCE[start] + TOLERANCE[via])
        shutil.rmtree(root)


@pytest.mark.parametrize("fmt", ["coco", "voc", "yolo"])
def test_write_read_write_is_byte_identical(fmt: str, small_dataset: dataprep.Dataset, tmp_path: Path) -> None:
    dataprep.write(small_dataset, tmp_path / "a", fmt)
    again = dataprep.read(tmp_path / "a", fmt)
    dataprep.write(again, tmp_path / "b", fmt)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


@pytest.mark.parametrize("fmt", ["coco", "voc", "yolo"])
def test_detect_finds_what_we_write(fmt: str, small_dataset: dataprep.Dataset, tmp_path: Path) -> None:
    dataprep.write(small_dataset, tmp_path / "out", fmt)
    assert formats.detect(tmp_path / "out")[0][0] == fmt


def test_input_untouched_by_convert(small_dataset: dataprep.Dataset, tmp_path: Path) -> None:
    dataprep.write(small_dataset, tmp_path / "coco_src", "coco")
    before = {p: p.read_bytes() for p in (tmp_path / "coco_src").rglob("*") if p.is_file()}
    for fmt in ("yolo", "voc"):
        formats.convert(tmp_path / "coco_src", tmp_path / fmt, to=fmt)
    after = {p: p.read_bytes() for p in (tmp_path / "coco_src").rglob("*") if p.is_file()}
    assert before == after


CONFORMANCE_SETS = [
    "coco_dataset/coco_instances",
    "coco_dataset/coco_roboflow",
    "voc_dataset/voc_dataset1",
    "voc_dataset/voc_dataset2",
    "yolo_dataset/strict",
    "yolo_dataset/labels",
    "yolo_dataset/annotations",
]


@pytest.mark.parametrize("to", ["coco", "voc", "yolo"])
@pytest.mark.parametrize("name", CONFORMANCE_SETS)
def test_conformance_sets_convert_to_every_format(name: str, to: str, conformance: Path, tmp_path: Path) -> None:
    src = conformance / "datumaro" / name
    result = formats.convert(src, tmp_path / "out", to=to)
    source = result.source.dataset
    losses = {loss.code for loss in result.written.losses}
    if to == "yolo" and source.images["width"].isna().any():
        # YOLO cannot normalize boxes on images of unknown size: said, not hidden
        assert "unknown-image-size" in losses
        return
    back = dataprep.read(tmp_path / "out", to)
    assert len(back.images) == len(source.images)
    assert len(back.annotations) == len(source.annotations)
    assert sorted(back.categories["name"]) == sorted(source.categories["name"])
