"""Kernels and geometric transforms against independent numpy / shapely references.

Boxes and pixels are checked together: an image whose pixels encode their own coordinates
tells where the transform actually moved things, and the boxes must follow.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import shapely
from shapely import affinity
from shapely.geometry import Polygon as ShapelyPolygon

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

W, H = 64, 48
BOXES = np.array([[4.0, 6.0, 20.0, 30.0], [30.5, 10.25, 60.0, 47.0], [0.0, 0.0, 64.0, 48.0]])


def coordinate_image(width: int = W, height: int = H) -> np.ndarray:
    """``(H, W, 3)``: R = x, G = y, B = 255 (every pixel knows where it came from)."""
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([xs, ys, np.full_like(xs, 255)], axis=-1).astype(np.uint8)


def run(transform, image=None, boxes=BOXES, seed=0, **settings):
    pipe = Pipeline([transform], min_visibility=0.0, min_size=0.0, **settings)
    img = coordinate_image() if image is None else image
    return pipe(img, boxes, None, np.arange(len(boxes)), rng=np.random.default_rng(seed))


def test_hflip_matches_numpy_reference() -> None:
    out = run(HorizontalFlip(p=1))
    np.testing.assert_array_equal(out.image, coordinate_image()[:, ::-1])
    ref = np.stack([W - BOXES[:, 2], BOXES[:, 1], W - BOXES[:, 0], BOXES[:, 3]], axis=1)
    np.testing.assert_allclose(out.boxes_xyxy, ref)


def test_vflip_matches_numpy_reference() -> None:
    out = run(VerticalFlip(p=1))
    np.testing.assert_array_equal(out.image, coordinate_image()[::-1])
    ref = np.stack([BOXES[:, 0], H - BOXES[:, 3], BOXES[:, 2], H - BOXES[:, 1]], axis=1)
    np.testing.assert_allclose(out.boxes_xyxy, ref)


def test_rotate_90_matches_numpy_rot90() -> None:
    s = 40
    image = coordinate_image(s, s)
    boxes = np.array([[2.0, 3.0, 10.0, 20.0], [15.0, 1.0, 39.0, 12.5]])
    out = run(Rotate(degrees=[90, 90], p=1), image=image, boxes=boxes)
    np.testing.assert_array_equal(out.image, np.rot90(image))  # counter-clockwise, as np.rot90
    # continuous coordinates: a quarter turn maps (x, y) -> (y, S - x)
    ref = np.stack([boxes[:, 1], s - boxes[:, 2], boxes[:, 3], s - boxes[:, 0]], axis=1)
    np.testing.assert_allclose(out.boxes_xyxy, ref, atol=1e-9)


def test_scale_matches_reference_about_the_centre() -> None:
    out = run(Scale(factor=[2.0, 2.0], p=1), interpolation="nearest")
    cx, cy = W / 2, H / 2
    ref = np.stack([(BOXES[:, 0] - cx) * 2 + cx, (BOXES[:, 1] - cy) * 2 + cy, (BOXES[:, 2] - cx) * 2 + cx,
                    (BOXES[:, 3] - cy) * 2 + cy], axis=1)  # fmt: skip
    ref = np.clip(ref, 0, [W, H, W, H])
    np.testing.assert_allclose(out.boxes_xyxy, ref)
    # output pixel (x, y) shows input pixel ((x + .5 - cx) / 2 + cx) (nearest)
    x, y = 40, 30
    assert out.image[y, x, 0] == int((x + 0.5 - cx) / 2 + cx)
    assert out.image[y, x, 1] == int((y + 0.5 - cy) / 2 + cy)
    assert out.clipped.all()  # every box reaches past the zoomed canvas


@pytest.mark.parametrize("seed", range(5))
def test_crop_matches_slicing(seed: int) -> None:
    out = run(Crop(width=30, height=20, p=1), seed=seed)
    assert out.image.shape == (20, 30, 3)
    x0, y0 = int(out.image[0, 0, 0]), int(out.image[0, 0, 1])  # where the window starts
    np.testing.assert_array_equal(out.image, coordinate_image()[y0 : y0 + 20, x0 : x0 + 30])
    ref = np.clip(BOXES - [x0, y0, x0, y0], 0, [30, 20, 30, 20])
    keep = (ref[:, 2] > ref[:, 0]) & (ref[:, 3] > ref[:, 1])
    np.testing.assert_allclose(out.boxes_xyxy, ref[keep])


def test_resized_crop_boxes_follow_pixels() -> None:
    image = np.zeros((H, W, 3), np.uint8)
    image[10:30, 20:50] = 255  # the box (20, 10, 50, 30)
    box = np.array([[20.0, 10.0, 50.0, 30.0]])
    for seed in range(8):
        out = run(ResizedCrop(width=32, height=32, scale=[0.5, 1.0], p=1), image=image, boxes=box, seed=seed)
        _assert_box_hugs_pixels(out)


@pytest.mark.parametrize(
    "transform",
    [Rotate(degrees=30, p=1), Shear(x_degrees=20, y_degrees=10, p=1), Translate(fraction=0.2, p=1)],
    ids=["rotate", "shear", "translate"],
)
def test_box_encloses_the_moved_object(transform) -> None:
    image = np.zeros((H, W, 3), np.uint8)
    image[12:30, 18:40] = 255
    box = np.array([[18.0, 12.0, 40.0, 30.0]])
    for seed in range(6):
        out = run(transform, image=image, boxes=box, seed=seed, interpolation="nearest")
        _assert_box_hugs_pixels(out)


def _assert_box_hugs_pixels(out) -> None:
    ys, xs = np.nonzero(out.image[:, :, 0] > 127)
    if not len(xs):
        assert len(out.boxes_xyxy) == 0
        return
    pixels = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=float)
    np.testing.assert_allclose(out.boxes_xyxy[0], pixels, atol=1.5)


def test_composed_geometry_is_one_resample() -> None:
    """hflip twice is the identity on pixels too: composing first means no resampling at all."""
    image = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    out = Pipeline([HorizontalFlip(p=1), HorizontalFlip(p=1)])(
        image, BOXES, None, [0, 1, 2], rng=np.random.default_rng(0)
    )
    np.testing.assert_array_equal(out.image, image)
    np.testing.assert_allclose(out.boxes_xyxy, BOXES)


def test_affine_polygons_match_shapely_affinity() -> None:
    poly = np.array([[3.0, 4.0], [20.0, 5.0], [25.0, 30.0], [6.0, 22.0]])
    m = F.rotation_matrix(33, 30, 20) @ F.shear_matrix(10, -5, 30, 20) @ F.scale_matrix(1.3, 0.8, 30, 20)
    ours = F.affine_polygons([poly], m)[0]
    ref = affinity.affine_transform(ShapelyPolygon(poly), [m[0, 0], m[0, 1], m[1, 0], m[1, 1], m[0, 2], m[1, 2]])
    np.testing.assert_allclose(ours, np.asarray(ref.exterior.coords)[:-1], atol=1e-9)


def test_polygon_round_trip_through_a_rotation_and_back() -> None:
    poly = [np.array([[20.0, 15.0], [40.0, 18.0], [35.0, 35.0], [22.0, 30.0]])]
    box = F.polygons_bounds(poly)[None]
    there = run(Rotate(degrees=[25, 25], p=1), boxes=box)
    assert there.polygons == [None]  # no polygon given: none made up
    out = Pipeline([Rotate(degrees=[25, 25], p=1), Rotate(degrees=[-25, -25], p=1)], min_visibility=0)(
        coordinate_image(), box, [poly], [1], rng=np.random.default_rng(0)
    )
    back = out.polygons[0][0]
    # shapely may start the ring elsewhere: compare as shapes
    assert ShapelyPolygon(back).symmetric_difference(ShapelyPolygon(poly[0])).area < 1e-6
    np.testing.assert_allclose(out.boxes_xyxy[0], box[0], atol=1e-9)


def test_box_after_rotation_comes_from_the_polygon() -> None:
    """A rotated polygon gives a tighter box than the rotated corners of its box."""
    poly = [np.array([[32.0, 10.0], [44.0, 24.0], [32.0, 38.0], [20.0, 24.0]])]  # a diamond
    box = F.polygons_bounds(poly)[None]
    with_poly = Pipeline([Rotate(degrees=[45, 45], p=1)], min_visibility=0)(
        coordinate_image(), box, [poly], [1], rng=np.random.default_rng(0)
    )
    without = run(Rotate(degrees=[45, 45], p=1), boxes=box)
    ref = np.asarray(affinity.rotate(ShapelyPolygon(poly[0]), -45, origin=(32, 24)).bounds)  # shapely: y up
    np.testing.assert_allclose(with_poly.boxes_xyxy[0], ref, atol=1e-9)
    area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
    assert area(with_poly.boxes_xyxy[0]) < area(without.boxes_xyxy[0])


def test_clip_polygons_reports_areas() -> None:
    square = [np.array([[-10.0, 0.0], [10.0, 0.0], [10.0, 10.0], [-10.0, 10.0]])]
    parts, before, after = F.clip_polygons(square, (0, 0, 64, 48))
    assert before == pytest.approx(200) and after == pytest.approx(100)
    assert shapely.Polygon(parts[0]).bounds == (0.0, 0.0, 10.0, 10.0)


@pytest.mark.parametrize("backend", ["opencv", "pillow"])
def test_colour_matches_numpy_references(backend: str) -> None:
    adjust_color = functools.partial(F.adjust_color, backend=backend)
    image = np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    rgb = image.astype(float)
    luma = rgb @ [0.299, 0.587, 0.114]
    assert adjust_color(image, 1.0, 1.0, 1.0, 0.0) is image

    def close(a: np.ndarray, b: np.ndarray) -> None:
        np.testing.assert_allclose(a.astype(float), np.clip(b, 0, 255), atol=1.0)

    close(adjust_color(image, 1.5, 1.0, 1.0, 0.0), rgb * 1.5)
    close(adjust_color(image, 1.0, 0.0, 1.0, 0.0), np.full_like(rgb, luma.mean()))
    close(adjust_color(image, 1.0, 1.0, 0.0, 0.0), np.repeat(luma[:, :, None], 3, axis=2))
    close(adjust_color(image, 1.0, 1.0, 1.0, 1.0), rgb)  # a full turn of hue
    greys = np.repeat(image[:, :, :1], 3, axis=2)
    close(adjust_color(greys, 1.0, 1.0, 1.0, 0.3), greys.astype(float))  # hue keeps greys grey
    shifted = adjust_color(image, 1.0, 1.0, 1.0, 0.25).astype(float)
    assert np.abs(shifted - rgb).max() > 20
    one = image[:, :, :1]
    np.testing.assert_array_equal(adjust_color(one, 1.0, 1.0, 0.0, 0.4), one)  # grey: no saturation/hue
    np.testing.assert_array_equal(F.adjust_brightness_contrast(one, 2.0, 1.0), np.clip(one * 2.0, 0, 255))


def test_noise_is_seeded() -> None:
    image = np.full((16, 16, 3), 128, np.uint8)
    a, b = F.gaussian_noise_image(image, 10, 7), F.gaussian_noise_image(image, 10, 7)
    np.testing.assert_array_equal(a, b)
    assert 5 < a.astype(float).std() < 15


def test_resize_fast_path_matches_the_general_affine_inside_the_image() -> None:
    from PIL import Image

    image = coordinate_image()
    image[:, :, 2] = (np.arange(W)[None, :] + np.arange(H)[:, None]) * 2
    for m in (
        F.translation_matrix(5.3, -2.7) @ F.scale_matrix(1.3, 1.2, 32, 24),
        F.hflip_matrix(W) @ F.scale_matrix(0.9, 1.1, 32, 24),
        F.translation_matrix(3.5, 2.25),
    ):
        fast = F.affine_image(image, m, (W, H), backend="pillow").astype(int)  # the Pillow resize fast path
        inverse = tuple(np.linalg.inv(m)[:2].ravel())
        general = np.asarray(Image.fromarray(image).transform((W, H), Image.Transform.AFFINE, inverse, resample=2))
        np.testing.assert_allclose(fast[6:-6, 6:-6], general[6:-6, 6:-6].astype(int), atol=1)


def test_opencv_backend_agrees_with_pillow() -> None:
    pytest.importorskip("cv2")
    image = coordinate_image()
    image[:, :, 2] = (np.arange(W)[None, :] + np.arange(H)[:, None]) * 2
    m = F.rotation_matrix(17, 30, 20) @ F.scale_matrix(1.2, 1.1, 30, 20)
    np.testing.assert_array_equal(F.affine_image(image, F.hflip_matrix(W), (W, H), backend="opencv"), image[:, ::-1])
    np.testing.assert_array_equal(F.affine_image(image, F.vflip_matrix(H), (W, H), backend="opencv"), image[::-1])
    pil = F.affine_image(image, m, (W, H), backend="pillow").astype(int)
    cv = F.affine_image(image, m, (W, H), backend="opencv").astype(int)
    # same geometry, different rounding: interior pixels agree within a few levels
    assert np.abs(pil[8:-8, 8:-8] - cv[8:-8, 8:-8]).max() <= 3
    pipe = {"transforms": [{"type": "rotate", "p": 1}, {"type": "blur", "p": 1}], "min_visibility": 0}
    from dataprep.augmentation import load_pipeline

    a = load_pipeline({**pipe, "backend": "pillow"})(image, BOXES, None, [0, 1, 2], rng=np.random.default_rng(4))
    b = load_pipeline({**pipe, "backend": "opencv"})(image, BOXES, None, [0, 1, 2], rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a.boxes_xyxy, b.boxes_xyxy)  # labels do not depend on the backend
    assert a.image.shape == b.image.shape


@pytest.mark.parametrize("backend", ["opencv", "pillow"])
@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
@pytest.mark.parametrize("flip", [False, True])
def test_quarter_turns_flips_and_shifts_match_pillow_exactly(degrees: int, flip: bool, backend: str) -> None:
    from PIL import Image

    image = np.random.default_rng(degrees).integers(0, 256, (H, W, 3), dtype=np.uint8)
    m = F.translation_matrix(7, -3) @ F.rotation_matrix(degrees, 20, 20)
    if flip:
        m = F.hflip_matrix(50) @ m
    ours = F.affine_image(image, m, (50, 40), fill=(1, 2, 3), backend=backend)
    inverse = tuple(np.linalg.inv(m)[:2].ravel())
    ref = Image.fromarray(image).transform((50, 40), Image.Transform.AFFINE, inverse, resample=0, fillcolor=(1, 2, 3))
    np.testing.assert_array_equal(ours, np.asarray(ref))
