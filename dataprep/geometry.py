"""Polygons and COCO RLE masks: conversions between the model's and the formats' forms.

Polygons in the model are lists of ``(K, 2)`` float64 arrays of absolute pixel coordinates
(one array per part); formats store them flat (``[x1, y1, x2, y2, ...]``). RLE goes through
`pycocotools.mask`, the reference implementation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Polygon = npt.NDArray[np.float64]  # (K, 2) absolute x, y


def polygons_from_flat(flat: list[list[float]] | list[npt.ArrayLike]) -> list[Polygon]:
    """``[[x1, y1, x2, y2, ...], ...]`` -> list of ``(K, 2)`` float64 arrays.

    Raises:
        ValueError: a part has an odd number of values or fewer than 3 points.
    """
    parts = []
    for part in flat:
        arr = np.asarray(part, dtype=np.float64).ravel()
        if arr.size % 2 or arr.size < 6:
            raise ValueError(f"a polygon needs an even number of at least 6 values, got {arr.size}")
        parts.append(arr.reshape(-1, 2))
    return parts


def polygons_to_flat(polygons: list[Polygon]) -> list[list[float]]:
    """List of ``(K, 2)`` arrays -> COCO's flat ``[[x1, y1, ...], ...]`` lists of floats."""
    return [np.asarray(p, dtype=np.float64).ravel().tolist() for p in polygons]


def polygons_xyxy(polygons: list[Polygon]) -> npt.NDArray[np.float64]:
    """``(4,)`` bounding xyxy box of all parts of one polygon annotation."""
    pts = np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polygons])
    return np.concatenate([pts.min(axis=0), pts.max(axis=0)])


def is_rle(segmentation: Any) -> bool:
    """True for a COCO RLE dict (``{"size": [h, w], "counts": ...}``)."""
    return isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation


def rle_compress(rle: dict[str, Any]) -> dict[str, Any]:
    """Uncompressed RLE (``counts`` a list) -> compressed RLE (``counts`` a str)."""
    from pycocotools import mask as mask_utils

    h, w = rle["size"]
    compressed = mask_utils.frPyObjects(rle, h, w) if isinstance(rle["counts"], list) else dict(rle)
    counts = compressed["counts"]
    return {"size": [int(h), int(w)], "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}


def rle_area(rle: dict[str, Any]) -> float:
    """Foreground pixel count of an RLE mask (pycocotools)."""
    from pycocotools import mask as mask_utils

    c = rle_compress(rle)
    return float(mask_utils.area({"size": c["size"], "counts": c["counts"].encode("ascii")}))


def rle_xyxy(rle: dict[str, Any]) -> npt.NDArray[np.float64]:
    """``(4,)`` xyxy bounding box of an RLE mask (pycocotools ``toBbox``)."""
    from pycocotools import mask as mask_utils

    c = rle_compress(rle)
    x, y, w, h = mask_utils.toBbox({"size": c["size"], "counts": c["counts"].encode("ascii")})
    return np.array([x, y, x + w, y + h], dtype=np.float64)


def rle_decode(rle: dict[str, Any]) -> npt.NDArray[np.uint8]:
    """``(H, W)`` uint8 binary mask of an RLE (pycocotools)."""
    from pycocotools import mask as mask_utils

    c = rle_compress(rle)
    return mask_utils.decode({"size": c["size"], "counts": c["counts"].encode("ascii")})


def rle_encode(mask: npt.ArrayLike) -> dict[str, Any]:
    """``(H, W)`` binary mask -> compressed COCO RLE dict with a str ``counts``."""
    from pycocotools import mask as mask_utils

    m = np.asfortranarray(np.asarray(mask, dtype=np.uint8))
    rle = mask_utils.encode(m)
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def polygons_area(polygons: list[Polygon]) -> float:
    """Area of a polygon annotation: parts unioned (shapely), so overlaps count once."""
    from shapely.geometry import Polygon as ShapelyPolygon
    from shapely.ops import unary_union

    shapes = [ShapelyPolygon(np.asarray(p)).buffer(0) for p in polygons]
    return float(unary_union(shapes).area) if shapes else 0.0
