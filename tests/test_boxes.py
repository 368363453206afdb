"""Box conversions against torchvision's reference implementation, plus VOC's convention."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torchvision.ops import box_area as tv_box_area
from torchvision.ops import box_convert

from dataprep import boxes

finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def xyxy_boxes(draw: st.DrawFn) -> np.ndarray:
    n = draw(st.integers(0, 20))
    corners = draw(arrays(np.float64, (n, 4), elements=finite))
    lo = np.minimum(corners[:, :2], corners[:, 2:])
    hi = np.maximum(corners[:, :2], corners[:, 2:])
    return np.concatenate([lo, hi], axis=1)


@settings(max_examples=50, deadline=None)
@given(xyxy_boxes())
def test_conversions_match_torchvision(xyxy: np.ndarray) -> None:
    t = torch.from_numpy(xyxy)
    np.testing.assert_allclose(boxes.xyxy_to_xywh(xyxy), box_convert(t, "xyxy", "xywh").numpy(), atol=1e-9)
    np.testing.assert_allclose(boxes.xyxy_to_cxcywh(xyxy), box_convert(t, "xyxy", "cxcywh").numpy(), atol=1e-9)
    xywh = boxes.xyxy_to_xywh(xyxy)
    np.testing.assert_allclose(
        boxes.xywh_to_xyxy(xywh), box_convert(torch.from_numpy(xywh), "xywh", "xyxy").numpy(), atol=1e-9
    )
    cxcywh = boxes.xyxy_to_cxcywh(xyxy)
    np.testing.assert_allclose(
        boxes.cxcywh_to_xyxy(cxcywh), box_convert(torch.from_numpy(cxcywh), "cxcywh", "xyxy").numpy(), atol=1e-6
    )
    np.testing.assert_allclose(boxes.box_area(xyxy), tv_box_area(t).numpy(), rtol=1e-12)


@settings(max_examples=50, deadline=None)
@given(xyxy_boxes(), st.integers(1, 5000), st.integers(1, 5000))
def test_normalized_round_trip(xyxy: np.ndarray, width: int, height: int) -> None:
    norm = boxes.xyxy_to_cxcywh_norm(xyxy, width, height)
    np.testing.assert_allclose(boxes.cxcywh_norm_to_xyxy(norm, width, height), xyxy, atol=1e-6)


def test_normalized_per_box_sizes() -> None:
    xyxy = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], dtype=float)
    norm = boxes.xyxy_to_cxcywh_norm(xyxy, np.array([10, 20]), np.array([10, 40]))
    np.testing.assert_allclose(norm, [[0.5, 0.5, 1, 1], [0.25, 0.125, 0.5, 0.25]])


def test_voc_full_image_box_is_continuous_full_image() -> None:
    # VOC pixel indices 1..W cover the continuous range [0, W].
    voc = np.array([[1, 1, 640, 480]], dtype=float)
    np.testing.assert_array_equal(boxes.voc_to_xyxy(voc), [[0, 0, 640, 480]])
    np.testing.assert_array_equal(boxes.xyxy_to_voc(boxes.voc_to_xyxy(voc)), voc)


def test_area_clip_and_masks() -> None:
    xyxy = np.array([[0, 0, 2, 3], [5, 5, 4, 9], [np.nan, 0, 1, 1], [-1, 0, 11, 5]], dtype=float)
    np.testing.assert_array_equal(boxes.box_area(xyxy)[[0, 1, 3]], [6, 0, 60])
    assert np.isnan(boxes.box_area(xyxy)[2])
    np.testing.assert_array_equal(boxes.clip_xyxy(xyxy[[3]], 10, 4), [[0, 0, 10, 4]])
    np.testing.assert_array_equal(boxes.is_inverted_or_empty(xyxy), [False, True, False, False])
    np.testing.assert_array_equal(boxes.is_outside(xyxy, 10, 10), [False, False, False, True])
    # unknown image size: only negative coordinates can be known to be outside
    np.testing.assert_array_equal(
        boxes.is_outside(np.array([[0, 0, 11, 5], [-1, 0, 1, 1]]), np.nan, np.nan), [False, True]
    )


def test_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        boxes.xyxy_to_xywh(np.zeros((3, 5)))


def test_shortest_size_restores_the_source_decimal() -> None:
    from dataprep.boxes import shortest_size

    start = np.array([0.1, 10.0, 3.0, np.nan])
    stop = start + np.array([0.2, 0.3, 1e-20, 1.0])
    got = shortest_size(start, stop)
    assert got[0] == 0.2 and got[1] == 0.3  # not 0.30000000000000004 / 0.3000000000000007
    assert np.all((start + got)[:3] == stop[:3])  # adding back always gives the stored x_max
    assert np.isnan(got[3])
