"""Properties of any geometric pipeline: objects are conserved or accounted for, boxes stay inside."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dataprep.augmentation import Pipeline
from dataprep.augmentation import functional as F
from dataprep.augmentation.transforms import (
    Crop,
    HorizontalFlip,
    ResizedCrop,
    Rotate,
    Scale,
    Shear,
    Translate,
    VerticalFlip,
)

IMAGE = np.zeros((40, 56, 3), np.uint8)
GEOMETRIC = [
    HorizontalFlip(p=0.5),
    VerticalFlip(p=0.5),
    Scale(factor=[0.5, 2.0], p=0.7),
    Rotate(degrees=45, p=0.7),
    Shear(x_degrees=20, y_degrees=20, p=0.5),
    Translate(fraction=0.3, p=0.7),
    Crop(width=30, height=25, p=0.3),
    ResizedCrop(width=40, height=30, p=0.3),
]

boxes = st.lists(
    st.tuples(st.floats(-10, 60), st.floats(-10, 50), st.floats(0, 40), st.floats(0, 40)), min_size=0, max_size=8
).map(lambda rows: np.array([[x, y, x + w, y + h] for x, y, w, h in rows], dtype=float).reshape(-1, 4))


@settings(max_examples=60, deadline=None)
@given(xyxy=boxes, seed=st.integers(0, 2**32 - 1), order=st.permutations(range(len(GEOMETRIC))))
def test_every_object_is_kept_or_counted_and_kept_boxes_lie_inside(xyxy: np.ndarray, seed: int, order: list) -> None:
    pipe = Pipeline([GEOMETRIC[i] for i in order], min_visibility=0.25, min_size=1.0)
    out = pipe(IMAGE, xyxy, None, np.arange(len(xyxy)), rng=np.random.default_rng(seed))
    accounted = np.concatenate([out.source_index, out.dropped_outside, out.dropped_degenerate])
    assert sorted(accounted.tolist()) == list(range(len(xyxy)))  # each input object exactly once
    b = out.boxes_xyxy
    h, w = out.image.shape[:2]
    assert (b[:, 0] >= 0).all() and (b[:, 1] >= 0).all() and (b[:, 2] <= w).all() and (b[:, 3] <= h).all()
    assert (b[:, 2] - b[:, 0] >= 1.0).all() and (b[:, 3] - b[:, 1] >= 1.0).all()


@settings(max_examples=60, deadline=None)
@given(
    degrees=st.floats(-180, 180),
    sx=st.floats(0.3, 3.0),
    shear=st.floats(-40, 40),
    dx=st.floats(-50, 50),
)
def test_polygon_round_trip_through_any_affine_and_its_inverse(
    degrees: float, sx: float, shear: float, dx: float
) -> None:
    poly = [np.array([[3.0, 4.0], [20.0, 5.0], [25.0, 30.0], [6.0, 22.0]])]
    m = F.translation_matrix(dx, 0) @ F.rotation_matrix(degrees, 10, 10) @ F.shear_matrix(shear, 0, 0, 0)
    m = m @ F.scale_matrix(sx, 1 / sx)
    back = F.affine_polygons(F.affine_polygons(poly, m), np.linalg.inv(m))
    np.testing.assert_allclose(back[0], poly[0], atol=1e-9)
    # the corner box of the moved polygon's box always contains the moved polygon
    moved = F.affine_polygons(poly, m)[0]
    corner_box = F.affine_boxes(F.polygons_bounds(poly)[None], m)[0]
    assert (moved.min(axis=0) >= corner_box[:2] - 1e-9).all() and (moved.max(axis=0) <= corner_box[2:] + 1e-9).all()
