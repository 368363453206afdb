"""Pure augmentation kernels, one per target: images, boxes, polygons, RLE masks.

Geometry is expressed as ``(3, 3)`` float64 affine matrices mapping *input* continuous pixel
coordinates to *output* ones (COCO convention: pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``,
a full W x H image is the box ``(0, 0, W, H)``). Composing the matrices of consecutive
geometric transforms and resampling once keeps one interpolation per image, however many
geometric steps a pipeline has. Images are resampled by OpenCV's ``warpAffine`` (the default
``backend="opencv"``; its pixel centres sit at integers, so the matrix is shifted by half a
pixel) or Pillow's affine transform (``backend="pillow"``), both sampling output pixel
centres through the inverse matrix; flips, quarter turns and integer shifts are exact pixel
moves on either backend, so a flip matrix ``x' = W - x`` reproduces ``image[:, ::-1]`` exactly.

OpenCV runs single-threaded here: `cv2_module` calls ``cv2.setNumThreads(0)`` once, when the
opencv backend is first used in a process. Training runs the pipeline online next to torch's
intra-op threads (and in DataLoader workers), where OpenCV's own pool would oversubscribe the
cores (and a pool created before a fork has hung forked workers, pytorch/pytorch#1838);
parallelism comes from the workers instead. Call ``cv2.setNumThreads(n)`` after building a
pipeline to choose otherwise.

Images are ``(H, W, C)`` uint8 arrays, C = 1 or 3. Boxes are ``(N, 4)`` float64 absolute xyxy.
Polygons are lists of ``(K, 2)`` float64 arrays (one per part), absolute x, y. Nothing here
draws random numbers except `gaussian_noise_image`, which takes its own seed.
"""

from __future__ import annotations

import functools
import math
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ImageArray = npt.NDArray[np.uint8]
Polygon = npt.NDArray[np.float64]

BACKENDS = ("pillow", "opencv")
DEFAULT_BACKEND = "opencv"  # ~3x Pillow on warps and blurs (README "Augment"); pillow stays selectable

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
    (a, b, tx), (c, d, ty) = matrix[:2].tolist()  # plain floats: this runs once per image
    unit = {a, b, c, d} <= {-1.0, 0.0, 1.0}
    one_per_row = (a == 0) != (b == 0) and (c == 0) != (d == 0) and (a == 0) != (c == 0)
    return unit and one_per_row and tx == round(tx) and ty == round(ty)


def affine_image(
    image: ImageArray,
    matrix: FloatArray,
    size_wh: tuple[int, int],
    *,
    fill: tuple[int, ...] | int = 0,
    interpolation: str = "bilinear",
    backend: str = DEFAULT_BACKEND,
) -> ImageArray:
    """Resample `image` through the affine `matrix` into an output of `size_wh` (width, height).

    Args:
        image: ``(H, W, C)`` uint8.
        matrix: ``(3, 3)`` input -> output continuous coordinates.
        size_wh: output (width, height) in pixels.
        fill: value of output pixels that map outside the input (one per channel or a scalar).
        interpolation: ``"nearest"``, ``"bilinear"`` or ``"bicubic"``.
        backend: ``"opencv"`` (``cv2.warpAffine``, the default: ~4x faster) or ``"pillow"``
            (pixel values differ slightly between the two; boxes do not).

    Returns:
        ``(height, width, C)`` uint8.
    """
    from PIL import Image

    h, w, c = image.shape
    out_w, out_h = int(size_wh[0]), int(size_wh[1])
    if out_w == w and out_h == h and matrix[:2].tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]:
        return image
    resample = _RESAMPLE[interpolation]
    fillcolor: Any = fill if c > 1 or isinstance(fill, int) else fill[0]
    if c > 1 and isinstance(fill, int):
        fillcolor = (fill,) * c
    if _is_pixel_permutation(matrix):
        return _permute(image, matrix, (out_w, out_h), fillcolor, backend)
    if backend == "opencv":
        return _cv2_affine(image, matrix, (out_w, out_h), fillcolor, interpolation)
    if matrix[0, 1] == 0 and matrix[1, 0] == 0 and interpolation != "nearest":
        return _from_pil(_resize_affine(_to_pil(image), matrix, (out_w, out_h), fillcolor, resample), c)
    inverse = np.linalg.inv(matrix)
    im = _to_pil(np.ascontiguousarray(image)).transform(
        (out_w, out_h),
        Image.Transform.AFFINE,
        tuple(inverse[:2].ravel()),
        resample=resample,
        fillcolor=fillcolor,
    )
    return _from_pil(im, c)


def _permute(image: ImageArray, matrix: FloatArray, size_wh: tuple[int, int], fill: Any, backend: str) -> ImageArray:
    """`affine_image` for flips, quarter turns and integer shifts: numpy views and one copy, exact.

    Pixels are viewed as single ``V{C}`` items, so reversing or transposing moves whole pixels
    (about 2x faster than strided uint8 copies).
    """
    h, w, c = image.shape
    flips = {(-1.0, 1.0, w, 0.0): 1, (1.0, -1.0, 0.0, h): 0, (-1.0, -1.0, w, h): -1}  # cv2.flip codes
    key = (matrix[0, 0], matrix[1, 1], matrix[0, 2], matrix[1, 2])
    if backend == "opencv" and key in flips and matrix[0, 1] == 0 and size_wh == (w, h):
        out = cv2_module().flip(np.ascontiguousarray(image), flips[key])  # same bytes, SIMD
        return out[:, :, None] if out.ndim == 2 else out
    pixels = np.ascontiguousarray(image).reshape(h, w * c).view(f"V{c}")  # (H, W) whole pixels
    if matrix[0, 0] == 0:  # a quarter turn or transpose: swap the axes, then it is a flip and shift
        pixels = pixels.T
        matrix = matrix @ np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    ph, pw = pixels.shape
    dx, dy = matrix[0, 2], matrix[1, 2]
    if matrix[0, 0] < 0:  # x' = -x + dx = (w - x) + (dx - w): flip the view, then shift
        pixels, dx = pixels[:, ::-1], dx - pw
    if matrix[1, 1] < 0:
        pixels, dy = pixels[::-1], dy - ph
    dx, dy = round(dx), round(dy)
    out_w, out_h = size_wh
    out = np.empty((out_h, out_w, c), np.uint8)
    x0, y0 = max(dx, 0), max(dy, 0)
    x1, y1 = min(dx + pw, out_w), min(dy + ph, out_h)
    if (x0, y0, x1, y1) != (0, 0, out_w, out_h):
        out[:] = np.asarray(fill, np.uint8)
    target = out.reshape(out_h, out_w * c).view(f"V{c}")
    if x1 > x0 and y1 > y0:
        target[y0:y1, x0:x1] = pixels[y0 - dy : y1 - dy, x0 - dx : x1 - dx]
    return out


_CV2_FLAGS = {"nearest": 0, "bilinear": 1, "bicubic": 2}  # cv2.INTER_NEAREST, INTER_LINEAR, INTER_CUBIC


_CV2_SETUP = threading.Lock()  # OpenCV's setNumThreads is not thread-safe: two first uses at once


@functools.cache  # set up once per process (a forked worker inherits the setting)
def cv2_module() -> Any:
    """The ``cv2`` module, for ``backend="opencv"``, set to one thread on first use.

    ``cv2.setNumThreads(0)`` runs OpenCV's kernels sequentially in the calling thread. By
    default OpenCV spreads a warp or blur over a pool of one thread per core; next to torch's
    intra-op threads and DataLoader workers that oversubscribes small machines (2 cores in
    CI), and a pool created before a fork has hung forked workers (pytorch/pytorch#1838).

    Raises:
        UsageError: OpenCV is not installed.
    """
    try:
        import cv2
    except ImportError:
        from dataprep.errors import UsageError

        raise UsageError(
            "backend 'opencv' needs OpenCV: pip install opencv-python-headless, or use backend: pillow"
        ) from None
    with _CV2_SETUP:
        cv2.setNumThreads(0)
    return cv2


def _cv2_affine(image: ImageArray, matrix: FloatArray, size_wh: tuple[int, int], fill: Any, interpolation: str) -> Any:
    """`affine_image` by ``cv2.warpAffine``; OpenCV puts pixel centres at integers, hence the half shifts."""
    cv2 = cv2_module()
    to_centres = translation_matrix(-0.5, -0.5) @ matrix @ translation_matrix(0.5, 0.5)
    inverse = np.linalg.inv(to_centres)[:2]
    border = tuple(fill) if isinstance(fill, tuple) else (fill,) * 3
    out = cv2.warpAffine(
        np.ascontiguousarray(image),
        inverse,
        size_wh,
        flags=_CV2_FLAGS[interpolation] | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border,
    )
    return out[:, :, None] if out.ndim == 2 else out


def _resize_affine(im: Any, matrix: FloatArray, size_wh: tuple[int, int], fillcolor: Any, resample: int) -> Any:
    """Scale + translate (+ flips) as a Pillow resize of the visible window: separable, ~4x faster.

    The window of the input that lands inside the output is resized onto whole output pixels;
    output pixels only partly covered by the input get `fillcolor` (a sub-pixel difference at
    the border from the general path). Downscaling is antialiased, as Pillow's resize is.
    """
    from PIL import Image

    out_w, out_h = size_wh
    flip_x, flip_y = matrix[0, 0] < 0, matrix[1, 1] < 0
    if flip_x:
        matrix = hflip_matrix(out_w) @ matrix
    if flip_y:
        matrix = vflip_matrix(out_h) @ matrix
    sx, sy, tx, ty = matrix[0, 0], matrix[1, 1], matrix[0, 2], matrix[1, 2]
    x0, y0 = max(0, math.ceil(tx - 1e-6)), max(0, math.ceil(ty - 1e-6))
    x1, y1 = min(out_w, math.floor(sx * im.width + tx + 1e-6)), min(out_h, math.floor(sy * im.height + ty + 1e-6))
    if (x0, y0, x1, y1) == (0, 0, out_w, out_h) and (sx, sy, tx, ty) == (1, 1, 0, 0):
        out = im
    elif x1 <= x0 or y1 <= y0:
        out = Image.new(im.mode, (out_w, out_h), fillcolor)
    else:
        box = (
            min(max((x0 - tx) / sx, 0.0), im.width),
            min(max((y0 - ty) / sy, 0.0), im.height),
            min(max((x1 - tx) / sx, 0.0), im.width),
            min(max((y1 - ty) / sy, 0.0), im.height),
        )
        window = im.resize((x1 - x0, y1 - y0), resample, box=box)
        if (x0, y0, x1, y1) == (0, 0, out_w, out_h):
            out = window
        else:
            out = Image.new(im.mode, (out_w, out_h), fillcolor)
            out.paste(window, (x0, y0))
    if flip_x:
        out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if flip_y:
        out = out.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    return out


def affine_mask(mask: npt.NDArray[np.uint8], matrix: FloatArray, size_wh: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """``(H, W)`` binary mask resampled (nearest) through `matrix` into ``size_wh`` -> ``(h, w)`` uint8."""
    out = affine_image(mask[:, :, None], matrix, size_wh, fill=0, interpolation="nearest")
    return out[:, :, 0]


LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601 weights, as Pillow's convert("L")


def adjust_brightness_contrast(image: ImageArray, brightness: float, contrast: float) -> ImageArray:
    """Multiply by `brightness`, then blend with the mean grey by `contrast` (1 = unchanged).

    Both are per-value maps, so they are applied as one 256-entry lookup table (any channel count).
    """
    if brightness == 1.0 and contrast == 1.0:
        return image
    levels = np.arange(256, dtype=np.float64) * brightness
    if contrast != 1.0:
        grey = image[:, :, 0].mean() if image.shape[2] == 1 else float(LUMA @ image.reshape(-1, 3).mean(axis=0))
        mean = float(np.clip(grey * brightness, 0, 255))
        levels = mean + (levels - mean) * contrast
    lut = np.clip(np.rint(levels), 0, 255).astype(np.uint8)
    return lut[image]


def color_matrix(brightness: float, contrast: float, saturation: float, hue: float, mean_luma: float) -> FloatArray:
    """``(3, 4)`` affine map on RGB values: brightness, contrast, saturation, then hue, composed.

    Args:
        brightness: factor (1 = unchanged).
        contrast: factor; blends with the image's mean luma after brightness.
        saturation: factor; blends with each pixel's luma (0 = grey).
        hue: rotation about the grey axis in turns (the luminance-preserving hue rotation of
            SVG 1.1 ``feColorMatrix type="hueRotate"``, which keeps greys grey).
        mean_luma: mean luma of the input image, 0..255.
    """

    def affine(linear: FloatArray, offset: float | FloatArray = 0.0) -> FloatArray:
        m = np.eye(4)
        m[:3, :3] = linear
        m[:3, 3] = offset
        return m

    eye = np.eye(3)
    b = affine(eye * brightness)
    c = affine(eye * contrast, (1.0 - contrast) * mean_luma * brightness)
    s = affine(saturation * eye + (1.0 - saturation) * np.outer(np.ones(3), LUMA))
    a = 2 * np.pi * hue
    grey = np.tile([0.213, 0.715, 0.072], (3, 1))
    cos_part = np.array([[0.787, -0.715, -0.072], [-0.213, 0.285, -0.072], [-0.213, -0.715, 0.928]])
    sin_part = np.array([[-0.213, -0.715, 0.928], [0.143, 0.140, -0.283], [-0.787, 0.715, 0.072]])
    h = affine(grey + np.cos(a) * cos_part + np.sin(a) * sin_part)
    return (h @ s @ c @ b)[:3]


def adjust_color(
    image: ImageArray,
    brightness: float,
    contrast: float,
    saturation: float,
    hue: float,
    *,
    backend: str = DEFAULT_BACKEND,
) -> ImageArray:
    """Brightness, contrast, saturation and hue in one pass (see `color_matrix`).

    RGB images go through one 3x4 colour matrix (``cv2.transform``, or Pillow's matrix
    conversion: one C loop, values rounded and clipped once, not after each step);
    one-channel images take brightness and contrast only.
    """
    if image.shape[2] == 1:
        return adjust_brightness_contrast(image, brightness, contrast)
    if brightness == contrast == saturation == 1.0 and hue == 0.0:
        return image
    from PIL import ImageStat

    im = _to_pil(image)
    mean_luma = float(LUMA @ np.asarray(ImageStat.Stat(im).mean))  # from histograms: no float copy of the image
    matrix = color_matrix(brightness, contrast, saturation, hue, mean_luma)
    if backend == "opencv":
        return cv2_module().transform(np.ascontiguousarray(image), matrix)
    return np.asarray(im.convert("RGB", tuple(matrix.ravel())))


def gaussian_blur_image(image: ImageArray, sigma: float, *, backend: str = DEFAULT_BACKEND) -> ImageArray:
    """Gaussian blur with standard deviation `sigma` pixels.

    Pillow approximates the Gaussian by three box blurs; OpenCV convolves with a sampled
    Gaussian kernel (edges reflected).
    """
    if sigma <= 0:
        return image
    if backend == "opencv":
        out = cv2_module().GaussianBlur(np.ascontiguousarray(image), (0, 0), sigma)
        return out[:, :, None] if out.ndim == 2 else out
    from PIL import ImageFilter

    return _from_pil(_to_pil(image).filter(ImageFilter.GaussianBlur(sigma)), image.shape[2])


@functools.cache
def _normal_quantiles() -> FloatArray:
    """``(65536,)`` standard normal quantiles at ``(i + 0.5) / 65536`` (|z| <= 4.3)."""
    from statistics import NormalDist

    inv = NormalDist().inv_cdf
    return np.array([inv((i + 0.5) / 65536) for i in range(65536)])


def gaussian_noise_image(image: ImageArray, sigma: float, seed: int) -> ImageArray:
    """Add zero-mean Gaussian noise of standard deviation `sigma` (0..255 levels), seeded.

    Each value draws a uniform 16-bit index into a table of normal quantiles (inverse-CDF
    sampling): as Gaussian as the 8-bit result can show, at a third of ``standard_normal``'s cost.
    """
    if sigma <= 0:
        return image
    index = np.random.default_rng(seed).integers(0, 65536, image.shape, dtype=np.uint16)
    table = np.clip(np.rint(_normal_quantiles() * sigma), -255, 255).astype(np.int16)
    out = image.astype(np.int16)
    out += np.take(table, index)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


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
