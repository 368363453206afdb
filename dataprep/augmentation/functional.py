"""Pure augmentation kernels, one per target: images, boxes, polygons, RLE masks.

Geometry is expressed as ``(3, 3)`` float64 affine matrices mapping *input* continuous pixel
coordinates to *output* ones (COCO convention: pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``,
a full W x H image is the box ``(0, 0, W, H)``). Composing the matrices of consecutive
geometric transforms and resampling once keeps one interpolation per image, however many
geometric steps a pipeline has. Images are resampled by Pillow's affine transform (C code),
which samples output pixel centres through the inverse matrix in the same continuous
convention, so a flip matrix ``x' = W - x`` reproduces ``image[:, ::-1]`` exactly.

Images are ``(H, W, C)`` uint8 arrays, C = 1 or 3. Boxes are ``(N, 4)`` float64 absolute xyxy.
Polygons are lists of ``(K, 2)`` float64 arrays (one per part), absolute x, y. Nothing here
draws random numbers except `gaussian_noise_image`, which takes its own seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ImageArray = npt.NDArray[np.uint8]
Polygon = npt.NDArray[np.float64]

# -- matrices -------------------------------------------------------------------------------------


def identity_matrix() -> FloatArray:
    """``(3, 3)`` identity."""
    return np.eye(3)


def translation_matrix(dx: float, dy: float) -> FloatArray:
    """``(3, 3)``: move by `dx`, `dy` pixels."""
    m = np.eye(3)
    m[0, 2], m[1, 2] = dx, dy
    return m


def scale_matrix(sx: float, sy: float, cx: float = 0.0, cy: float = 0.0) -> FloatArray:
    """``(3, 3)``: scale by `sx`, `sy` about the point (`cx`, `cy`)."""
    return translation_matrix(cx, cy) @ np.diag([sx, sy, 1.0]) @ translation_matrix(-cx, -cy)


def rotation_matrix(degrees: float, cx: float, cy: float) -> FloatArray:
    """``(3, 3)``: rotate counter-clockwise on screen (y points down) by `degrees` about (`cx`, `cy`).

    90° maps ``(x, y)`` to ``(cx + (y - cy), cy - (x - cx))``: what ``np.rot90`` does to pixels.
    """
    t = np.deg2rad(degrees)
    c, s = np.cos(t), np.sin(t)
    # exact zeros at multiples of 90°, so a quarter turn resamples nothing
    c, s = (0.0 if abs(c) < 1e-12 else c), (0.0 if abs(s) < 1e-12 else s)
    r = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    return translation_matrix(cx, cy) @ r @ translation_matrix(-cx, -cy)


def shear_matrix(x_degrees: float, y_degrees: float, cx: float, cy: float) -> FloatArray:
    """``(3, 3)``: shear (skew) by angles in degrees along x and y, about (`cx`, `cy`)."""
    m = np.array([[1.0, np.tan(np.deg2rad(x_degrees)), 0.0], [np.tan(np.deg2rad(y_degrees)), 1.0, 0.0], [0, 0, 1.0]])
    return translation_matrix(cx, cy) @ m @ translation_matrix(-cx, -cy)


def hflip_matrix(width: float) -> FloatArray:
    """``(3, 3)``: mirror left-right in an image `width` pixels wide (``x' = width - x``)."""
    return np.array([[-1.0, 0.0, width], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def vflip_matrix(height: float) -> FloatArray:
    """``(3, 3)``: mirror top-bottom in an image `height` pixels high (``y' = height - y``)."""
    return np.array([[1.0, 0.0, 0.0], [0.0, -1.0, height], [0.0, 0.0, 1.0]])


def crop_matrix(
    x0: float, y0: float, crop_width: float, crop_height: float, out_width: int, out_height: int
) -> FloatArray:
    """``(3, 3)``: the window ``[x0, x0 + crop_width) x [y0, y0 + crop_height)`` resized to the output size."""
    return np.diag([out_width / crop_width, out_height / crop_height, 1.0]) @ translation_matrix(-x0, -y0)


# -- images ---------------------------------------------------------------------------------------

_RESAMPLE = {"nearest": 0, "bilinear": 2, "bicubic": 3}  # PIL.Image.Resampling values


def _to_pil(image: ImageArray) -> Any:
    from PIL import Image

    return Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)


def _from_pil(im: Any, channels: int) -> ImageArray:
    arr = np.asarray(im)
    return arr[:, :, None] if channels == 1 else arr


def _is_pixel_permutation(matrix: FloatArray) -> bool:
    """True for flips, quarter turns and integer shifts: pixel centres land on pixel centres."""
    a, t = matrix[:2, :2], matrix[:2, 2]
    return bool(
        np.isin(a, (-1.0, 0.0, 1.0)).all()
        and (np.abs(a).sum(axis=0) == 1).all()
        and (np.abs(a).sum(axis=1) == 1).all()
        and (t == np.round(t)).all()
    )


def affine_image(
    image: ImageArray,
    matrix: FloatArray,
    size_wh: tuple[int, int],
    *,
    fill: tuple[int, ...] | int = 0,
    interpolation: str = "bilinear",
) -> ImageArray:
    """Resample `image` through the affine `matrix` into an output of `size_wh` (width, height).

    Args:
        image: ``(H, W, C)`` uint8.
        matrix: ``(3, 3)`` input -> output continuous coordinates.
        size_wh: output (width, height) in pixels.
        fill: value of output pixels that map outside the input (one per channel or a scalar).
        interpolation: ``"nearest"``, ``"bilinear"`` or ``"bicubic"``.

    Returns:
        ``(height, width, C)`` uint8.
    """
    from PIL import Image

    h, w, c = image.shape
    out_w, out_h = int(size_wh[0]), int(size_wh[1])
    if out_w == w and out_h == h and np.allclose(matrix, np.eye(3), atol=1e-12):
        return image
    resample = _RESAMPLE[interpolation]
    if _is_pixel_permutation(matrix):
        resample = _RESAMPLE["nearest"]  # exact, and faster than interpolating
    inverse = np.linalg.inv(matrix)
    fillcolor: Any = fill if c > 1 or isinstance(fill, int) else fill[0]
    if c > 1 and isinstance(fill, int):
        fillcolor = (fill,) * c
    im = _to_pil(np.ascontiguousarray(image)).transform(
        (out_w, out_h),
        Image.Transform.AFFINE,
        tuple(inverse[:2].ravel()),
        resample=resample,
        fillcolor=fillcolor,
    )
    return _from_pil(im, c)


def affine_mask(mask: npt.NDArray[np.uint8], matrix: FloatArray, size_wh: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """``(H, W)`` binary mask resampled (nearest) through `matrix` into ``size_wh`` -> ``(h, w)`` uint8."""
    out = affine_image(mask[:, :, None], matrix, size_wh, fill=0, interpolation="nearest")
    return out[:, :, 0]


def adjust_brightness_contrast(image: ImageArray, brightness: float, contrast: float) -> ImageArray:
    """Multiply by `brightness`, then blend with the mean grey by `contrast` (1 = unchanged).

    Both are per-value maps, so they are applied as one 256-entry lookup table.
    """
    if brightness == 1.0 and contrast == 1.0:
        return image
    levels = np.arange(256, dtype=np.float64) * brightness
    if contrast != 1.0:
        grey = _grey(image) if image.shape[2] == 3 else image[:, :, 0]
        mean = float(np.clip(grey.mean() * brightness, 0, 255))
        levels = mean + (levels - mean) * contrast
    lut = np.clip(np.rint(levels), 0, 255).astype(np.uint8)
    return lut[image]


def _grey(image: ImageArray) -> npt.NDArray[np.float32]:
    """ITU-R 601 luma of an RGB image, ``(H, W)`` float32."""
    rgb = image.astype(np.float32)
    return rgb[:, :, 0] * 0.299 + rgb[:, :, 1] * 0.587 + rgb[:, :, 2] * 0.114


def adjust_saturation(image: ImageArray, factor: float) -> ImageArray:
    """Blend an RGB image with its greyscale version (0 = grey, 1 = unchanged); grey images pass."""
    if factor == 1.0 or image.shape[2] != 3:
        return image
    from PIL import Image

    im = Image.fromarray(image)
    grey = im.convert("L").convert("RGB")
    return np.asarray(Image.blend(grey, im, factor))


def adjust_hue(image: ImageArray, shift: float) -> ImageArray:
    """Rotate the hue of an RGB image by `shift` turns (-0.5..0.5); grey images pass."""
    if shift == 0.0 or image.shape[2] != 3:
        return image
    from PIL import Image

    hsv = np.asarray(Image.fromarray(image).convert("HSV")).copy()
    hsv[:, :, 0] += np.uint8(round(shift * 256) % 256)  # uint8 wraps: hue is circular
    return np.asarray(Image.fromarray(hsv, "HSV").convert("RGB"))


def gaussian_blur_image(image: ImageArray, sigma: float) -> ImageArray:
    """Gaussian blur with standard deviation `sigma` pixels (Pillow's extended box blur)."""
    if sigma <= 0:
        return image
    from PIL import ImageFilter

    return _from_pil(_to_pil(image).filter(ImageFilter.GaussianBlur(sigma)), image.shape[2])


def gaussian_noise_image(image: ImageArray, sigma: float, seed: int) -> ImageArray:
    """Add zero-mean Gaussian noise of standard deviation `sigma` (in 0..255 levels), seeded."""
    if sigma <= 0:
        return image
    noise = np.random.default_rng(seed).standard_normal(image.shape, dtype=np.float32)
    noise *= np.float32(sigma)
    noise += image
    np.rint(noise, out=noise)
    np.clip(noise, 0, 255, out=noise)
    return noise.astype(np.uint8)


def cutout_image(image: ImageArray, xyxy: npt.NDArray[np.int64], fill: tuple[int, ...] | int = 0) -> ImageArray:
    """Fill integer ``(M, 4)`` xyxy rectangles (clipped to the image) with `fill`."""
    if not len(xyxy):
        return image
    out = image.copy()
    h, w = image.shape[:2]
    value = np.asarray(fill, dtype=np.uint8)
    for x0, y0, x1, y1 in np.clip(xyxy, 0, [w, h, w, h]):
        out[y0:y1, x0:x1] = value
    return out


# -- boxes, polygons, masks -----------------------------------------------------------------------


def affine_points(points: FloatArray, matrix: FloatArray) -> FloatArray:
    """``(K, 2)`` points through the affine `matrix` -> ``(K, 2)``."""
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def affine_boxes(xyxy: FloatArray, matrix: FloatArray) -> FloatArray:
    """``(N, 4)`` boxes -> ``(N, 4)`` bounding boxes of their four transformed corners.

    Exact for flips, scales, translations and quarter turns; after a free rotation or shear the
    box grows to hold the rotated rectangle (a polygon, when there is one, gives a tight box).
    """
    corners = xyxy[:, [0, 1, 2, 1, 2, 3, 0, 3]].reshape(-1, 4, 2)  # (N, 4 corners, xy)
    moved = corners @ matrix[:2, :2].T + matrix[:2, 2]
    return np.concatenate([moved.min(axis=1), moved.max(axis=1)], axis=1)


def affine_polygons(polygons: list[Polygon], matrix: FloatArray) -> list[Polygon]:
    """Every part of one polygon annotation through `matrix`."""
    return [affine_points(np.asarray(p, dtype=np.float64), matrix) for p in polygons]


def clip_polygons(
    polygons: list[Polygon], rect: tuple[float, float, float, float]
) -> tuple[list[Polygon], float, float]:
    """Clip one polygon annotation's parts to the rectangle ``(x0, y0, x1, y1)`` (shapely).

    Returns:
        ``(parts, area_before, area_after)``: the clipped exterior rings as ``(K, 2)`` arrays
        (closing point dropped; parts that vanish are left out) and the unioned areas.
    """
    import shapely
    from shapely.geometry import Polygon as ShapelyPolygon

    shapes = [ShapelyPolygon(p).buffer(0) if len(p) >= 3 else ShapelyPolygon() for p in polygons]
    whole = shapely.union_all(shapes)
    clipped = shapely.clip_by_rect(whole, *rect)
    parts: list[Polygon] = []
    for geom in getattr(clipped, "geoms", [clipped]):
        if geom.geom_type == "Polygon" and not geom.is_empty and geom.area > 0:
            ring = np.asarray(geom.exterior.coords, dtype=np.float64)[:-1]
            if len(ring) >= 3:
                parts.append(ring)
    return parts, float(whole.area), float(clipped.area)


def polygons_bounds(polygons: list[Polygon]) -> FloatArray:
    """``(4,)`` xyxy bounds of all parts (NaN when there are none)."""
    if not polygons:
        return np.full(4, np.nan)
    pts = np.concatenate(polygons)
    return np.concatenate([pts.min(axis=0), pts.max(axis=0)])


def box_visibility(moved: FloatArray, rect: tuple[float, float, float, float]) -> tuple[FloatArray, FloatArray]:
    """Clip ``(N, 4)`` boxes to ``rect`` = (x0, y0, x1, y1); also the kept share of each box's area.

    Returns:
        ``(clipped, visibility)``: ``(N, 4)`` boxes and ``(N,)`` area after / area before
        (0 for boxes with no area).
    """
    lo = np.array(rect[:2] * 2)
    hi = np.array(rect[2:] * 2)
    clipped = np.clip(moved, lo, hi)
    before = np.prod(np.clip(moved[:, 2:] - moved[:, :2], 0, None), axis=1)
    after = np.prod(np.clip(clipped[:, 2:] - clipped[:, :2], 0, None), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        visibility = np.where(before > 0, after / np.where(before > 0, before, 1), 0.0)
    return clipped, visibility
