"""Letterbox geometry: aspect kept, centred padding, boxes land on the resized pixels, exact inverse."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataprep.encoding import letterbox, letterbox_geometry, letterbox_image, unletterbox


def test_wide_image_is_padded_top_and_bottom() -> None:
    g = letterbox_geometry(128, 96, 416)
    assert (int(g.new_width), int(g.new_height)) == (416, 312)
    assert (float(g.pad_x), float(g.pad_y)) == (0.0, 52.0)
    full = letterbox(np.array([[0, 0, 128, 96]]), 128, 96, img_size=416)
    np.testing.assert_allclose(full, [[0, 52, 416, 364]])


def test_tall_image_is_padded_left_and_right() -> None:
    g = letterbox_geometry(20, 40, 64)
    assert (int(g.new_width), int(g.new_height), float(g.pad_x), float(g.pad_y)) == (32, 64, 16.0, 0.0)


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(1, 4000),
    height=st.integers(1, 4000),
    img_size=st.sampled_from([32, 320, 416, 448, 640]),
    seed=st.integers(0, 1000),
)
def test_unletterbox_inverts_letterbox(width: int, height: int, img_size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1, (20, 4)) * [width, height, width, height]
    net = letterbox(xy, width, height, img_size=img_size)
    assert (net >= -1e-9).all() and (net <= img_size + 1e-9).all()
    np.testing.assert_allclose(unletterbox(net, width, height, img_size=img_size), xy, rtol=1e-9, atol=1e-9)


def test_per_box_image_sizes() -> None:
    boxes = np.array([[0, 0, 128, 96], [0, 0, 20, 40]], dtype=float)
    net = letterbox(boxes, [128, 20], [96, 40], img_size=64)
    np.testing.assert_allclose(net, [[0, 8, 64, 56], [16, 0, 48, 64]])


def test_image_and_boxes_agree() -> None:
    pixels = np.zeros((96, 128, 3), dtype=np.uint8)
    pixels[24:48, 32:64] = 255  # a white block at x 32..64, y 24..48
    out = letterbox_image(pixels, img_size=64)
    assert out.shape == (64, 64, 3)
    assert (out[:8] == 114).all() and (out[56:] == 114).all()  # padding rows
    x0, y0, x1, y1 = letterbox(np.array([[32, 24, 64, 48]]), 128, 96, img_size=64)[0]
    inside = out[int(y0) + 1 : int(y1) - 1, int(x0) + 1 : int(x1) - 1]
    assert inside.min() > 200
    assert out[int(y1) + 2, int(x1) + 2].max() < 50


def test_no_torch_at_import() -> None:
    import subprocess
    import sys

    code = "import dataprep.encoding, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("size", [(1, 1), (1, 5000)])
def test_degenerate_sizes_stay_inside(size: tuple[int, int]) -> None:
    g = letterbox_geometry(*size, 416)
    assert 1 <= int(g.new_width) <= 416 and 1 <= int(g.new_height) <= 416
