"""Layouts and anchor files: what is accepted, and usage errors that name the value and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataprep.encoding import YOLOV3_ANCHORS, Layout, anchor_layout, grid_layout, parse_anchors, read_anchors
from dataprep.errors import UsageError


def test_yolov3_layout() -> None:
    layout = anchor_layout(num_classes=80)
    assert layout.strides == (8, 16, 32) and layout.grid_sizes == (52, 26, 13) and layout.predictors == 3
    assert layout.dense_shapes()[0] == (3, 52, 52, 85)
    assert Layout.from_dict(layout.to_dict()) == layout


def test_anchors_are_sorted_by_area() -> None:
    layout = anchor_layout(np.array(YOLOV3_ANCHORS)[::-1], num_classes=1)
    assert layout.anchors == tuple((float(w), float(h)) for w, h in YOLOV3_ANCHORS)


def test_grid_default_size_and_divisibility() -> None:
    assert grid_layout(7).img_size == 448
    with pytest.raises(UsageError, match=r"--grid 7 does not divide --img-size 416 .*use --img-size 413 or 420"):
        grid_layout(7, img_size=416)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"assign": "iou:2"}, "0 < T < 1"),
        ({"assign": "nearest"}, "--assign 'nearest'"),
        ({"keep": "first"}, "--keep 'first'"),
        ({"anchors": [[10, 13], [16, 30]], "strides": (8, 16, 32)}, "2 anchors cannot be split evenly across 3"),
        ({"anchors": [[10, 13]], "strides": (7,)}, "stride 7 does not divide --img-size 416"),
        ({"anchors": [[10, -1]]}, r"anchor \(10, -1\) is not a positive size"),
    ],
)
def test_bad_layouts(kwargs: dict, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        anchor_layout(**{"num_classes": 2, **kwargs})


@pytest.mark.parametrize(
    "text",
    [
        "10,13 16,30 33,23",
        "10,13,  16,30,  33,23\n",
        "10x13\n16x30\n33x23",
        "[[10, 13], [16, 30], [33, 23]]",
        '{"anchors": [[10, 13], [16, 30], [33, 23]], "mean_iou": 0.5}',
    ],
)
def test_parse_anchor_texts(text: str) -> None:
    np.testing.assert_array_equal(parse_anchors(text), [[10, 13], [16, 30], [33, 23]])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("10,13 16", "3 numbers, expected an even count"),
        ("10,13 sixteen,30", "cannot read 'si"),
        ("", "0 numbers"),
        ("[[10, 13], [16]]", "list of \\[w, h\\]"),
        ("{not json", "not valid JSON"),
        ("10,0", "is not a positive size"),
    ],
)
def test_unparseable_anchors(text: str, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        parse_anchors(text)


def test_read_anchors_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("10,13 16,x", encoding="utf-8")
    with pytest.raises(UsageError, match=str(path)):
        read_anchors(path)
    with pytest.raises(UsageError, match="cannot read the file"):
        read_anchors(tmp_path / "missing.txt")
