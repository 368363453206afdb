"""`Sample`: one image with its labels as columns, and the warp that moves labels with pixels.

A sample's label columns are aligned: row ``i`` of `boxes_xyxy`, `category_ids`, `polygons`,
`source_index` and `clipped` describe one object. Extra columns (crowd flags, attributes, ids)
ride along through `source_index`, the object's row in the caller's input.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from dataprep.augmentation import functional as F

_EMPTY_INT = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Sample:
    """One image and its objects.

    Attributes:
        image: ``(H, W, C)`` uint8, C = 1 or 3.
        boxes_xyxy: ``(N, 4)`` float64 absolute continuous pixels; an all-NaN row is an
            image-level label (classification) and passes every transform unchanged.
        category_ids: ``(N,)`` int64.
        polygons: N entries, each None, a list of ``(K, 2)`` float64 parts (absolute x, y), or a
            COCO RLE dict (warped as a mask).
        source_index: ``(N,)`` int64, each object's row in the caller's input.
        clipped: ``(N,)`` bool, True where a transform cut the object at the image border.
        dropped_outside: source rows dropped because too little of them stayed in the image.
        dropped_degenerate: source rows dropped as degenerate (no area, or a side below the
            pipeline's ``min_size`` pixels).
    """

    image: F.ImageArray
    boxes_xyxy: F.FloatArray
    category_ids: npt.NDArray[np.int64]
    polygons: list[Any]
    source_index: npt.NDArray[np.int64]
    clipped: npt.NDArray[np.bool_]
    dropped_outside: npt.NDArray[np.int64] = field(default_factory=lambda: _EMPTY_INT)
    dropped_degenerate: npt.NDArray[np.int64] = field(default_factory=lambda: _EMPTY_INT)

    @classmethod
    def from_arrays(
        cls,
        image: npt.ArrayLike,
        boxes_xyxy: npt.ArrayLike | None = None,
        polygons: list[Any] | None = None,
        category_ids: npt.ArrayLike | None = None,
        *,
        source_index: npt.ArrayLike | None = None,
    ) -> Sample:
        """Build a sample, filling absent columns (no objects; no polygons; category 0).

        Raises:
            ValueError: arrays of the wrong shape or mismatched lengths (a programming error).
        """
        img = np.asarray(image)
        if img.ndim == 2:
            img = img[:, :, None]
        if img.ndim != 3 or img.shape[2] not in (1, 3) or img.dtype != np.uint8:
            raise ValueError(f"image must be (H, W, 1 or 3) uint8, got {img.shape} {img.dtype}")
        boxes = np.zeros((0, 4)) if boxes_xyxy is None else np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        n = len(boxes)
        cats = np.zeros(n, np.int64) if category_ids is None else np.asarray(category_ids, dtype=np.int64).reshape(-1)
        polys = [None] * n if polygons is None else list(polygons)
        src = np.arange(n, dtype=np.int64) if source_index is None else np.asarray(source_index, dtype=np.int64)
        if not (len(cats) == len(polys) == len(src) == n):
            raise ValueError(f"{n} boxes but {len(cats)} category ids, {len(polys)} polygons, {len(src)} sources")
        return cls(img, boxes, cats, polys, src, np.zeros(n, bool))

    @property
    def width(self) -> int:
        """Image width in pixels."""
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        """Image height in pixels."""
        return int(self.image.shape[0])

    def select(self, keep: npt.NDArray[np.bool_]) -> Sample:
        """The objects where `keep` is True (image unchanged)."""
        return dataclasses.replace(
            self,
            boxes_xyxy=self.boxes_xyxy[keep],
            category_ids=self.category_ids[keep],
            polygons=[p for p, k in zip(self.polygons, keep, strict=True) if k],
            source_index=self.source_index[keep],
            clipped=self.clipped[keep],
        )

    def with_image(self, image: F.ImageArray) -> Sample:
        """The same objects on a new image of the same size."""
        return dataclasses.replace(self, image=image)


def drop_degenerate(sample: Sample, min_size: float) -> Sample:
    """Drop boxes with a non-finite coordinate (not all NaN) or a side under `min_size` pixels.

    All-NaN rows are image-level labels and are kept.
    """
    b = sample.boxes_xyxy
    image_level = np.isnan(b).all(axis=1)
    with np.errstate(invalid="ignore"):
        sides = np.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
        bad = ~image_level & (~np.isfinite(b).all(axis=1) | ~(sides > 0) | (sides < min_size))
    if not bad.any():
        return sample
    out = sample.select(~bad)
    return dataclasses.replace(
        out, dropped_degenerate=np.concatenate([sample.dropped_degenerate, sample.source_index[bad]])
    )


def warp_sample(
    sample: Sample,
    matrix: F.FloatArray,
    size_wh: tuple[int, int],
    *,
    fill: tuple[int, ...] | int,
    interpolation: str,
    backend: str = F.DEFAULT_BACKEND,
    min_visibility: float,
    min_size: float,
    clip_rect: tuple[float, float, float, float] | None = None,
    with_image: bool = True,
) -> Sample:
    """Move the image and every object through one affine `matrix` into a `size_wh` canvas.

    Objects are clipped to `clip_rect` (default: the canvas). A box comes from its transformed
    polygon or mask when it has one (tight after a rotation), else from its four corners.
    Objects keeping less than `min_visibility` of their area are dropped (`dropped_outside`);
    boxes left with a side under `min_size` pixels are dropped as degenerate.

    Args:
        matrix: ``(3, 3)`` input -> output pixel coordinates.
        size_wh: output (width, height).
        with_image: False skips resampling (the caller places pixels itself, as mosaic does).
    """
    width, height = int(size_wh[0]), int(size_wh[1])
    rect = clip_rect or (0.0, 0.0, float(width), float(height))
    image = (
        F.affine_image(sample.image, matrix, (width, height), fill=fill, interpolation=interpolation, backend=backend)
        if with_image
        else sample.image
    )
    n = len(sample.boxes_xyxy)
    if n == 0:
        return dataclasses.replace(sample, image=image)
    boxes = sample.boxes_xyxy
    image_level = np.isnan(boxes).all(axis=1)
    moved = F.affine_boxes(np.where(image_level[:, None], 0.0, boxes), matrix)
    new_boxes, visibility = F.box_visibility(moved, rect)
    clipped = (np.abs(new_boxes - moved) > 1e-9).any(axis=1)
    polygons = list(sample.polygons)
    for i, seg in enumerate(sample.polygons):
        if seg is None or image_level[i]:
            continue
        if isinstance(seg, dict):
            polygons[i], new_boxes[i], visibility[i], clipped[i] = _warp_rle(seg, matrix, (width, height), rect)
            continue
        parts, before, after = F.clip_polygons(F.affine_polygons(seg, matrix), rect)
        if before <= 0:  # a degenerate polygon: the corner box decides, the polygon is dropped
            polygons[i] = None
            continue
        polygons[i] = parts
        visibility[i] = after / before
        clipped[i] = after < before * (1 - 1e-9)
        if parts:
            new_boxes[i] = F.polygons_bounds(parts)
    new_boxes[image_level] = np.nan
    visibility[image_level] = 1.0
    clipped &= ~image_level
    outside = ~image_level & ((visibility < min_visibility) | (visibility <= 0))
    sides = np.minimum(new_boxes[:, 2] - new_boxes[:, 0], new_boxes[:, 3] - new_boxes[:, 1])
    degenerate = ~image_level & ~outside & ~(sides >= max(min_size, 1e-9))
    keep = ~(outside | degenerate)
    src = sample.source_index
    return Sample(
        image=image,
        boxes_xyxy=new_boxes[keep],
        category_ids=sample.category_ids[keep],
        polygons=[p for p, k in zip(polygons, keep, strict=True) if k],
        source_index=src[keep],
        clipped=(sample.clipped | clipped)[keep],
        dropped_outside=np.concatenate([sample.dropped_outside, src[outside]]),
        dropped_degenerate=np.concatenate([sample.dropped_degenerate, src[degenerate]]),
    )


def _warp_rle(
    rle: dict[str, Any],
    matrix: F.FloatArray,
    size_wh: tuple[int, int],
    rect: tuple[float, float, float, float],
) -> tuple[dict[str, Any], F.FloatArray, float, bool]:
    """An RLE mask through `matrix` (nearest), cut to `rect`: ``(rle, xyxy, visibility, clipped)``."""
    from dataprep.geometry import rle_decode, rle_encode

    mask = rle_decode(rle)
    before = float(mask.sum()) * abs(float(np.linalg.det(matrix[:2, :2])))
    warped = F.affine_mask(mask, matrix, size_wh)
    x0, y0, x1, y1 = (round(v) for v in rect)
    inside = np.zeros_like(warped)
    inside[y0:y1, x0:x1] = warped[y0:y1, x0:x1]
    after = float(inside.sum())
    ys, xs = np.nonzero(inside)
    xyxy = (
        np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float64) if len(xs) else np.full(4, np.nan)
    )
    visibility = min(after / before, 1.0) if before > 0 else 0.0
    return rle_encode(inside), xyxy, visibility, bool(after < warped.sum())
