"""Letterbox: resize keeping the aspect ratio, pad to a square network input, and back.

One geometry for training, prediction and encoding. For an image of W x H pixels and a network
side N: ``r = min(N / W, N / H)``, the resized image is ``round(W r) x round(H r)`` pixels
placed at ``pad = ((N - new_w) // 2, (N - new_h) // 2)``. Boxes map with the *resized* size
(``x' = x * new_w / W + pad_x``), so they land exactly on the resized pixels, and the inverse
is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
PAD_VALUE = 114  # grey padding, as darknet (127) and Ultralytics (114) pad with mid grey


@dataclass(frozen=True)
class LetterboxGeometry:
    """Per-image letterbox parameters; every field is an ``(N,)`` array (or a scalar for one image).

    Attributes:
        scale_x, scale_y: network pixels per image pixel (``new_w / W``, ``new_h / H``).
        pad_x, pad_y: left and top padding, network pixels (integers).
        new_width, new_height: size of the resized image inside the network input.
    """

    scale_x: FloatArray
    scale_y: FloatArray
    pad_x: FloatArray
    pad_y: FloatArray
    new_width: npt.NDArray[np.int64]
    new_height: npt.NDArray[np.int64]


def letterbox_geometry(width: npt.ArrayLike, height: npt.ArrayLike, img_size: int) -> LetterboxGeometry:
    """Letterbox parameters for images of `width` x `height` pixels into an `img_size` square."""
    w = np.asarray(width, dtype=np.float64)
    h = np.asarray(height, dtype=np.float64)
    r = np.minimum(img_size / w, img_size / h)
    new_w = np.clip(np.round(w * r), 1, img_size).astype(np.int64)
    new_h = np.clip(np.round(h * r), 1, img_size).astype(np.int64)
    return LetterboxGeometry(
        scale_x=new_w / w,
        scale_y=new_h / h,
        pad_x=((img_size - new_w) // 2).astype(np.float64),
        pad_y=((img_size - new_h) // 2).astype(np.float64),
        new_width=new_w,
        new_height=new_h,
    )


def letterbox(xyxy: npt.ArrayLike, width: npt.ArrayLike, height: npt.ArrayLike, *, img_size: int) -> FloatArray:
    """Boxes from image pixels to letterboxed network pixels.

    Args:
        xyxy: ``(N, 4)`` absolute corners in image pixels.
        width, height: image size in pixels, scalars or ``(N,)`` (each box's image).
        img_size: network input side in pixels.

    Returns:
        ``(N, 4)`` float64 corners in network pixels, ``[0, img_size]`` for boxes inside the image.
    """
    g = letterbox_geometry(width, height, img_size)
    out = np.array(xyxy, dtype=np.float64, copy=True).reshape(-1, 4)
    out[:, 0::2] = out[:, 0::2] * np.asarray(g.scale_x)[..., None] + np.asarray(g.pad_x)[..., None]
    out[:, 1::2] = out[:, 1::2] * np.asarray(g.scale_y)[..., None] + np.asarray(g.pad_y)[..., None]
    return out


def unletterbox(xyxy: npt.ArrayLike, width: npt.ArrayLike, height: npt.ArrayLike, *, img_size: int) -> FloatArray:
    """Inverse of `letterbox`: ``(N, 4)`` network-pixel corners back to image pixels."""
    g = letterbox_geometry(width, height, img_size)
    out = np.array(xyxy, dtype=np.float64, copy=True).reshape(-1, 4)
    out[:, 0::2] = (out[:, 0::2] - np.asarray(g.pad_x)[..., None]) / np.asarray(g.scale_x)[..., None]
    out[:, 1::2] = (out[:, 1::2] - np.asarray(g.pad_y)[..., None]) / np.asarray(g.scale_y)[..., None]
    return out


def letterbox_image(pixels: npt.ArrayLike, *, img_size: int, fill: int = PAD_VALUE) -> npt.NDArray[np.uint8]:
    """An ``(H, W[, C])`` uint8 image resized (bilinear, Pillow) and padded to ``(img_size, img_size[, C])``."""
    from PIL import Image

    arr = np.asarray(pixels, dtype=np.uint8)
    height, width = arr.shape[:2]
    g = letterbox_geometry(width, height, img_size)
    resized = np.asarray(Image.fromarray(arr).resize((int(g.new_width), int(g.new_height)), Image.BILINEAR))
    out = np.full((img_size, img_size, *arr.shape[2:]), fill, dtype=np.uint8)
    x0, y0 = int(g.pad_x), int(g.pad_y)
    out[y0 : y0 + resized.shape[0], x0 : x0 + resized.shape[1]] = resized
    return out
